// Images and disk, end to end on a real dockerd: a service rolled v1 → v2 →
// v3, then `fogctl images prune` removes v1's image and keeps v2 (the
// previous revision, for rollback), v3 (running) and images we never ran;
// each removal is an event. A node whose capacity.disk is smaller than a
// replica's resources.disk gives an unschedulable reason, not a crash loop.

import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.js';
import { containersOn, loopService, runFogctl, serviceManifest, startController, tempDir, waitConverged, waitFor, writeManifest, type RunningController } from './harness.js';

const run = promisify(execFile);
let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;
let docker: Docker;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
const tags = async () => (await docker.listImages()).flatMap((i) => i.RepoTags ?? []).sort();

beforeAll(async () => {
  fleet = await startFleet([{ name: 'gc-1' }]);
  const node = fleet.node('gc-1');
  docker = new Docker({ socketPath: node.socket });
  // Three versions and a foreign image from the fleet's busybox tar: a label makes each a distinct image.
  await Promise.all(
    ['fog/app:v1', 'fog/app:v2', 'fog/app:v3', 'fog/app:v4', 'someone/tool:1'].map((tag) =>
      run('docker', ['-H', node.endpoint, 'import', '--change', 'CMD ["sh"]', '--change', `LABEL version=${tag}`, join(fleet.dir, 'image.tar'), tag]),
    ),
  );
  desired = tempDir('fog-gc-desired-');
  state = tempDir('fog-gc-state-');
  writeManifest(desired, 'nodes/gc-1.yaml', `apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: gc-1\nspec:\n  endpoint: ${node.endpoint}\n  capacity: {disk: 100Mi}\n`);
  ctl = startController({ desired, stateDir: state });
}, 60_000);

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

async function rollTo(version: string): Promise<void> {
  writeManifest(desired, 'services/app.yaml', loopService('app', 1).replace('fog/busybox:latest', `fog/app:${version}`));
  await waitConverged(ctl, nodes(), { app: 1 });
  await waitFor(`revision with fog/app:${version} complete`, async () => (await ctl.status())?.rollouts?.app?.revisions.find((r) => r.image === `fog/app:${version}`)?.outcome === 'complete', 20_000);
}

describe('image GC and disk on a real engine', () => {
  it('prune removes the image two revisions back, keeps the previous, the running and foreign ones, and records an event', async () => {
    for (const v of ['v1', 'v2', 'v3']) await rollTo(v);
    const server = ['--server', ctl.socket];

    const dry = await runFogctl(['images', 'prune', '--dry-run', ...server]);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/gc-1\s+fog\/app:v1\s+[0-9a-f]{12}\s+\S+\s+would remove/);
    expect(dry.stdout).not.toMatch(/fog\/app:v[23]/);
    expect(await tags()).toContain('fog/app:v1');

    const pruned = await runFogctl(['images', 'prune', '--node', 'gc-1', ...server]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/gc-1\s+fog\/app:v1\s+[0-9a-f]{12}\s+\S+\s+removed/);
    // v4 was never named by a revision yet: not ours.
    expect(pruned.stdout).toMatch(/gc-1: kept 5 image\(s\) \(1 in use, 1 previous revision, 3 not ours\)/);
    expect(await tags()).toEqual(['fog/app:v2', 'fog/app:v3', 'fog/app:v4', 'fog/busybox:latest', 'someone/tool:1']);

    const doc = await ctl.status();
    const ev = doc?.events.find((e) => e.reason === 'ImageRemoved');
    expect(ev?.object).toBe('node/gc-1');
    expect(ev?.message).toMatch(/^removed image fog\/app:v1 \([0-9a-f]{12}, .+\) from gc-1: fogctl images prune$/);

    // Nothing left to remove: the second prune removes nothing.
    const again = await runFogctl(['images', 'prune', ...server]);
    expect(again.stdout).toContain('no unused images of ours to remove');
    expect(await tags()).toHaveLength(5);
  }, 60_000);

  it('a replica needing more disk than the node has is unschedulable with the reason, and nothing is created', async () => {
    writeManifest(desired, 'services/big.yaml', serviceManifest('big', '  command: ["sleep", "3600"]\n  resources: {disk: 1Gi}\n'));
    const svc = await waitFor('big unschedulable', async () => (await ctl.status())?.status.services.find((s) => s.name === 'big' && s.unschedulable !== undefined), 15_000);
    expect(svc.unschedulable?.message).toBe('0/1 nodes eligible: 1 insufficient disk (needs 1Gi, 100Mi free)');
    expect(svc.unschedulable?.perNode).toEqual([{ node: 'gc-1', filter: 'NodeResources', message: 'insufficient disk (needs 1Gi, 100Mi free)' }]);
    const doc = (await ctl.status())!;
    expect(doc.failures.filter((f) => f.service === 'big')).toEqual([]);
    expect((await containersOn(nodes())).filter((c) => c.service === 'big')).toEqual([]);
    // The data root of an engine on a unix socket is measured; get nodes -o wide shows it.
    const wide = await runFogctl(['get', 'nodes', '-o', 'wide', '--server', ctl.socket]);
    expect(wide.stdout).toMatch(/DISK/);
    expect(wide.stdout).toMatch(/gc-1\s+Ready\s.*\S+\/\S+ free, reserved 0\/100Mi/);
  }, 30_000);

  it('below the thresholds: the node reads DiskPressure, takes nothing new, and collects by itself', async () => {
    await rollTo('v4');
    await ctl.stop();
    // Free space is always below 100% of the data root: both thresholds crossed at once.
    ctl = startController({ desired, stateDir: state, extra: ['--disk-pressure', '100%', '--image-gc', '100%'] });
    const ev = await waitFor('an automatic ImageRemoved event', async () => (await ctl.status())?.events.find((e) => e.reason === 'ImageRemoved'), 15_000);
    expect(ev.message).toMatch(/^removed image fog\/app:v2 \(.*\) from gc-1: data root below the image GC threshold$/);
    expect(await tags()).toEqual(['fog/app:v3', 'fog/app:v4', 'fog/busybox:latest', 'someone/tool:1']);
    const big = await waitFor(
      'big unschedulable for disk pressure',
      async () => (await ctl.status())?.status.services.find((s) => s.name === 'big' && s.unschedulable?.message.includes('disk pressure')),
      10_000,
    );
    expect(big.unschedulable?.message).toBe('0/1 nodes eligible: 1 disk pressure');
    const nodesOut = await runFogctl(['get', 'nodes', '--server', ctl.socket]);
    expect(nodesOut.stdout).toMatch(/gc-1\s+Ready,DiskPressure\s/);
    // What runs stays.
    expect((await containersOn(nodes())).filter((c) => c.service === 'app' && c.state === 'running')).toHaveLength(1);
  }, 40_000);
});
