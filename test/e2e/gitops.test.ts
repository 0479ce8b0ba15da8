// GitOps end to end: `fogctl run --sync-repo` follows a real git branch onto
// a real engine; a commit that deletes a manifest removes its containers; a
// bad commit is held back while the running service stays.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../support/fleet.js';
import { makeRemote, type Remote } from '../sync/fixture.js';
import { containersOn, nodeManifest, runFogctl, startController, tempDir, waitFor, type RunningController } from './harness.js';

let fleet: Fleet;
let remote: Remote;
let state: string;
let ctl: RunningController;

const svc = (name: string, extra = '') => `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n  network: none\n  command: ["sleep", "3600"]\n${extra}`;

beforeAll(async () => {
  fleet = await startFleet([{ name: 'cell-1', labels: { zone: 'line1' } }]);
  remote = await makeRemote();
  state = tempDir('fog-e2e-gitops-');
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  await remote?.cleanup();
  if (state) rmSync(state, { recursive: true, force: true });
});

describe('fogctl run --sync-repo', () => {
  it('follows the branch: a commit deleting a manifest removes the service; a bad commit is held', async () => {
    const node = nodeManifest('cell-1', fleet.nodes[0]!.socket, { zone: 'line1' });
    const first = await remote.commit({ 'fleet/nodes/cell-1.yaml': node, 'fleet/svc/a.yaml': svc('alpha'), 'fleet/svc/b.yaml': svc('beta') });
    const desired = join(remote.root, 'desired');
    ctl = startController({ desired, stateDir: state, extra: ['--sync-repo', remote.url, '--sync-ref', 'main', '--sync-path', 'fleet', '--sync-interval', '300ms'] });
    const nodes = [{ name: 'cell-1', socket: fleet.nodes[0]!.socket }];
    await waitFor(
      'alpha and beta running',
      async () => {
        const c = (await containersOn(nodes)).filter((x) => x.state === 'running');
        return c.some((x) => x.service === 'alpha') && c.some((x) => x.service === 'beta');
      },
      40_000,
    );
    const get = await runFogctl(['get', 'sync', '--server', ctl.socket]);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain(first.slice(0, 7));
    // Each service's first revision records the commit it came from (fogctl rollout history).
    const history = await runFogctl(['rollout', 'history', 'alpha', '--server', ctl.socket]);
    expect(history.stdout).toMatch(new RegExp(`\\n1\\*\\s+.*svc/a\\.yaml:\\d+\\s+${first.slice(0, 12)}\\s`));

    // A bad commit: held back, the last good revision stays, the error is located.
    const bad = await remote.commit({ 'fleet/nodes/cell-1.yaml': node, 'fleet/svc/a.yaml': svc('alpha', '  replicas: lots\n'), 'fleet/svc/b.yaml': svc('beta') });
    const doc = await waitFor(
      'the bad commit to be reported',
      async () => {
        const d = await ctl.status();
        // Reported once it is held with its located error (the sync may name the commit first, while it checks it).
        const sync = JSON.stringify(d?.sync ?? {});
        return d && sync.includes(bad.slice(0, 7)) && /a\.yaml:\d+:\d+/.test(sync) ? d : undefined;
      },
      20_000,
    );
    expect(JSON.stringify(doc.sync)).toMatch(/a\.yaml:\d+:\d+/);
    expect(
      (await containersOn(nodes))
        .filter((x) => x.state === 'running')
        .map((x) => x.service)
        .sort(),
    ).toEqual(['alpha', 'beta']);

    // The fix deletes beta's manifest: beta's container goes, alpha stays.
    const alphaId = (await containersOn(nodes)).find((x) => x.service === 'alpha')!.id;
    await remote.commit({ 'fleet/nodes/cell-1.yaml': node, 'fleet/svc/a.yaml': svc('alpha') });
    await waitFor('beta to be removed', async () => (await containersOn(nodes)).every((x) => x.service !== 'beta'), 30_000);
    const after = await containersOn(nodes);
    expect(after.find((x) => x.service === 'alpha')?.id).toBe(alphaId);
  });
});
