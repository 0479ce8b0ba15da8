// Images from a real registry (Debian's docker-registry with basic auth) on
// real engines: pulls with `--registry-auth`; the tag pinned to one digest on
// every node, kept when the tag moves in the registry (scale-up included)
// until `fogctl rollout restart`; a wrong password is a terminal failure that
// names the registry and the way out; an arm64-only index is unschedulable on
// amd64 engines with the reason.

import Docker from 'dockerode';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, TEST_IMAGE, type Fleet } from '../support/fleet.js';
import { importVariant, startRegistry, type Registry } from '../support/registry.js';
import { LOOP_COMMAND, runFogctl, serviceManifest, sleep, startController, tempDir, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';

const AUTH = { user: 'plant', password: 'line-3-pw' };

let fleet: Fleet;
let reg: Registry;
/** A second registry whose entry in the credentials file has the wrong password. */
let locked: Registry;
let desired: string;
let state: string;
let ctl: RunningController;
let d1: string;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));

function app(name: string, replicas: number, image: string): string {
  return serviceManifest(name, `  replicas: ${replicas}\n  command: ${LOOP_COMMAND}\n  update:\n    monitor: 1s\n    parallelism: 3\n`, image);
}

/** The image each running replica of `service` was created from, asked from the engines. */
async function imagesOf(service: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes()) {
    const d = new Docker({ socketPath: n.socket });
    for (const c of await d.listContainers({ filters: { label: [`fog.service=${service}`], status: ['running'] } })) out.push((await d.getContainer(c.Id).inspect()).Config.Image);
  }
  return out.sort();
}

async function waitImages(service: string, n: number, image: string, timeoutMs = 30_000): Promise<void> {
  let last: string[] = [];
  await waitFor(
    `${n} replicas of ${service} on ${image}`,
    async () => {
      last = await imagesOf(service);
      return last.length === n && last.every((i) => i === image);
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; running: ${last.join(', ')}`);
  });
}

beforeAll(async () => {
  [fleet, reg, locked] = await Promise.all([
    startFleet([{ name: 'reg-1' }, { name: 'reg-2' }]),
    startRegistry({ auth: AUTH }),
    startRegistry({ auth: { user: AUTH.user, password: 'the-right-one' } }),
  ]);
  const socket = fleet.node('reg-1').socket;
  [d1] = await Promise.all([reg.pushFromEngine(socket, TEST_IMAGE, 'fog/app:v1'), locked.pushFromEngine(socket, TEST_IMAGE, 'fog/app:v1')]);
  await reg.pushIndex('fog/app', 'arm-only', [{ digest: d1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
  desired = tempDir('fog-reg-desired-');
  state = tempDir('fog-reg-state-');
  const authFile = reg.writeDockerConfig(state);
  // One file, two registries: the second one's password is wrong.
  const text = JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, unknown> };
  text.auths[locked.host] = { username: AUTH.user, password: 'wrong-pw' };
  writeManifest(state, 'config.json', JSON.stringify(text));
  writeNodeManifests(desired, nodes());
  writeManifest(desired, 'services/app.yaml', app('app', 2, `${reg.host}/fog/app:v1`));
  writeManifest(desired, 'services/locked.yaml', app('locked', 1, `${locked.host}/fog/app:v1`));
  writeManifest(desired, 'services/armonly.yaml', app('armonly', 1, `${reg.host}/fog/app:arm-only`));
  ctl = startController({ desired, stateDir: state, extra: ['--registry-auth', authFile] });
});

afterAll(async () => {
  await ctl?.stop();
  await Promise.allSettled([fleet?.stop(), reg?.stop(), locked?.stop()]);
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('images from a registry with credentials', () => {
  it('pulls with the credentials and runs one digest on every node, shown by describe and get -o wide', async () => {
    const pinned = `${reg.host}/fog/app@${d1}`;
    await waitImages('app', 2, pinned);
    const containers = (await Promise.all(nodes().map((n) => new Docker({ socketPath: n.socket }).listContainers({ filters: { label: ['fog.service=app'] } })))).map((l) => l.length);
    expect(containers).toEqual([1, 1]);
    const described = await runFogctl(['describe', 'service', 'app', '--server', ctl.socket]);
    expect(described.stdout).toContain(`Image:`);
    expect(described.stdout).toContain(`${pinned} (tag ${reg.host}/fog/app:v1)`);
    const wide = await runFogctl(['get', 'services', '-o', 'wide', '--server', ctl.socket]);
    expect(wide.stdout).toMatch(new RegExp(`app\\s+replicated\\s+2/2.*${pinned.replace(/[.]/g, '\\.')}`));
  });

  it('keeps the pinned digest when the tag moves (scale-up too), and rollout restart moves every replica', async () => {
    const socket = fleet.node('reg-1').socket;
    await importVariant(socket, fleet.dir, 'local/app:two', 'two');
    const d2 = await reg.pushFromEngine(socket, 'local/app:two', 'fog/app:v1');
    expect(d2).not.toBe(d1);
    writeManifest(desired, 'services/app.yaml', app('app', 3, `${reg.host}/fog/app:v1`));
    await waitImages('app', 3, `${reg.host}/fog/app@${d1}`);
    const restart = await runFogctl(['rollout', 'restart', 'app', '--server', ctl.socket]);
    expect(restart.stdout + restart.stderr).toContain('service/app restarted');
    await waitImages('app', 3, `${reg.host}/fog/app@${d2}`);
    const history = (await ctl.status())!.rollouts!.app!;
    expect(history.revisions.map((r) => r.digest)).toEqual([d1, d2]);
  });

  it('a wrong password is a terminal failure naming the registry and the way out', async () => {
    const doc = await waitFor('the refused pull', async () => {
      const d = await ctl.status();
      return d?.failures.some((f) => f.service === 'locked') ? d : undefined;
    });
    const f = doc.failures.find((x) => x.service === 'locked')!;
    // The image is pulled before its create (pull before stop, README).
    expect(f).toMatchObject({ type: 'pull', code: 'registry-auth-failed', retryable: false });
    expect(f.message).toContain(`registry ${locked.host} refused the credentials`);
    expect(f.message).toContain(`correct the entry for ${locked.host} in ${state}/config.json, then fogctl rollout restart locked`);
    // Not tried again: the same attempt count a few passes later.
    await sleep(3_000);
    const later = (await ctl.status())!.failures.find((x) => x.service === 'locked')!;
    expect(later.attempts).toBe(f.attempts);
    const described = await runFogctl(['describe', 'service', 'locked', '--server', ctl.socket]);
    expect(described.stdout).toMatch(/pull\s+0\s+reg-\d\s+registry-auth-failed\s+1\s+\S+ ago\s+\S.*registry/);
  });

  it('an image whose index has only arm64 is unschedulable on amd64 engines, with the reason', async () => {
    const doc = await waitFor('armonly unschedulable', async () => {
      const d = await ctl.status();
      return d?.status.services.find((s) => s.name === 'armonly')?.unschedulable ? d : undefined;
    });
    expect(doc.status.services.find((s) => s.name === 'armonly')!.unschedulable!.message).toBe('0/2 nodes eligible: 2 image has no linux/amd64 variant');
    const described = await runFogctl(['describe', 'service', 'armonly', '--server', ctl.socket]);
    expect(described.stdout).toContain('reg-1: image has no linux/amd64 variant');
    expect(await imagesOf('armonly')).toEqual([]);
  });
});
