// Images on real engines with a real registry (Debian's docker-registry):
// a stop-first rollout pulls the new image before it stops the old replica
// (the engines' own events say so), a node that may not pull gets the image
// as a copy from a peer (the registry serves nothing for it), the registry
// going away mid-rollout is a retryable failure that heals when it returns,
// and `fogctl images load` feeds a plant with no registry at all.

import { createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, TEST_IMAGE, type Fleet } from '../support/fleet.js';
import { buildFreshImage, imageTags } from '../support/images.js';
import { startRegistry, type Registry } from '../support/registry.js';
import {
  containersOn,
  LOOP_COMMAND,
  nodeManifest,
  recordEngineEvents,
  runFogctl,
  serviceManifest,
  startController,
  tempDir,
  waitConverged,
  waitFor,
  writeManifest,
  type RunningController,
} from './harness.js';

let fleet: Fleet;
let registry: Registry;
let desired: string;
let state: string;
let ctl: RunningController;
let v2: string;
let v3: string;
/** Every name a replica of v2 / v3 may have been created from: the tag, the pinned `repo@digest`, the image id (after a copy). */
const names = new Map<string, string[]>();
const isImage = (image: string, ref: string) => names.get(ref)!.includes(image);

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
const socket = (name: string) => fleet.node(name).socket;

/** A stop-first service pinned to one node, running LOOP_COMMAND on `image`. */
const pinned = (name: string, node: string, image: string) =>
  serviceManifest(
    name,
    `  replicas: 1\n  command: ${LOOP_COMMAND}\n  stopGracePeriod: 2s\n  placement:\n    constraints: ["node.name == ${node}"]\n  update:\n    order: stop-first\n    monitor: 1s\n`,
    image,
  );

beforeAll(async () => {
  registry = await startRegistry();
  fleet = await startFleet([{ name: 'img-1' }, { name: 'img-2' }, { name: 'img-3' }]);
  // Two fresh images (busybox plus 4 MB of random data each) in the registry, on no engine.
  v2 = `${registry.host}/fog/app:2`;
  v3 = `${registry.host}/fog/app:3`;
  const docker = new Docker({ socketPath: socket('img-1') });
  for (const [ref, tag] of [
    [v2, '2'],
    [v3, '3'],
  ] as const) {
    const id = await buildFreshImage(socket('img-1'), 'fog/app-build', tag, 4);
    const digest = await registry.pushFromEngine(socket('img-1'), `fog/app-build:${tag}`, ref.slice(registry.host.length + 1));
    names.set(ref, [ref, `${registry.host}/fog/app@${digest}`, id]);
    await docker.getImage(`fog/app-build:${tag}`).remove();
  }
  desired = tempDir('fog-img-desired-');
  state = tempDir('fog-img-state-');
  for (const n of nodes()) {
    // img-2 has no route to a registry: images reach it only from peers.
    writeManifest(desired, `nodes/${n.name}.yaml`, nodeManifest(n.name, n.socket, {}) + (n.name === 'img-2' ? '  images: {pull: never}\n' : ''));
  }
  ctl = startController({ desired, stateDir: state, extra: ['--action-backoff-max', '2s'] });
}, 120_000);

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  await registry?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('images on real engines', () => {
  it('pulls the new image on the node before it stops the old replica (stop-first)', async () => {
    writeManifest(desired, 'services/web.yaml', pinned('web', 'img-1', TEST_IMAGE));
    await waitConverged(ctl, nodes(), { web: 1 }, 30_000);
    const old = (await containersOn(nodes())).find((c) => c.service === 'web')!;
    const rec = await recordEngineEvents(nodes(), ['container', 'image']);
    registry.resetCounters();
    try {
      writeManifest(desired, 'services/web.yaml', pinned('web', 'img-1', v2));
      await waitFor('web on the new image', async () => (await containersOn(nodes())).find((c) => c.service === 'web' && isImage(c.image, v2) && c.state === 'running'), 30_000);
      const events = rec.events();
      const pulled = events.find((e) => e.node === 'img-1' && e.type === 'image' && e.action === 'pull' && isImage(e.id, v2));
      const stopped = events.find((e) => e.id === old.id && ['kill', 'stop', 'die'].includes(e.action));
      expect(pulled, `no pull of ${v2} on img-1 in ${JSON.stringify(events.map((e) => `${e.node} ${e.type} ${e.action} ${e.id}`))}`).toBeDefined();
      expect(stopped).toBeDefined();
      console.log(`[images] pull finished ${(stopped!.engineTime! - pulled!.engineTime!).toFixed(0)} ms before the old replica was stopped`);
      expect(pulled!.engineTime!).toBeLessThan(stopped!.engineTime!);
      // It came from the registry (and the registry counts what it serves: the peer test below relies on that).
      expect(registry.blobBytesServed()).toBeGreaterThan(4_000_000);
      const doc = (await ctl.status())!;
      expect(doc.events.some((e) => e.object === 'service/web' && e.reason === 'PullImage')).toBe(true);
    } finally {
      rec.close();
    }
  }, 60_000);

  it('gives a node that may not pull the image as a copy from a peer, with no layer from the registry', async () => {
    registry.resetCounters();
    const rec = await recordEngineEvents(nodes(), ['image']);
    try {
      writeManifest(desired, 'services/edge.yaml', pinned('edge', 'img-2', v2));
      await waitConverged(ctl, nodes(), { web: 1, edge: 1 }, 30_000);
      // The same image (by id: pulled by its pinned digest, img-1 has it under no tag, so the copy carries none).
      const id = names.get(v2)![2]!;
      expect((await new Docker({ socketPath: socket('img-2') }).getImage(id).inspect()).Id).toBe(id);
      const onImg2 = rec.events().filter((e) => e.node === 'img-2');
      expect(onImg2.some((e) => e.action === 'load')).toBe(true);
      expect(onImg2.some((e) => e.action === 'pull')).toBe(false);
      // No layer from the registry: only the image's config (~1.5 KB), read by the controller to pin the new revision's digest.
      expect(registry.blobBytesServed()).toBeLessThan(20_000);
    } finally {
      rec.close();
    }
  }, 60_000);

  it('says the registry is gone mid-rollout (retryable, old replica kept) and finishes when it returns', async () => {
    await registry.kill();
    writeManifest(desired, 'services/web.yaml', pinned('web', 'img-1', v3));
    const doc = await waitFor(
      'the failed pull in the status',
      async () => {
        const d = await ctl.status();
        return d?.failures.some((f) => f.service === 'web' && f.type === 'pull') ? d : undefined;
      },
      30_000,
    );
    const f = doc.failures.find((x) => x.service === 'web' && x.type === 'pull')!;
    expect(f).toMatchObject({ node: 'img-1', code: 'image-pull-failed', retryable: true });
    expect(f.message).toMatch(/^image \S+fog\/app\S* is not on node img-1 and pulling it failed/);
    // Nothing was stopped for it: the replica on v2 still runs.
    const web = (await containersOn(nodes())).filter((c) => c.service === 'web');
    expect(web.map((c) => [isImage(c.image, v2), c.state])).toEqual([[true, 'running']]);
    const described = await runFogctl(['describe', 'service', 'web', '--server', ctl.socket]);
    expect(described.stdout).toMatch(/Failed actions:[\s\S]*pull\s+0\s+img-1\s+image-pull-failed/);
    await registry.start();
    await waitFor('web on v3 after the registry returned', async () => (await containersOn(nodes())).find((c) => c.service === 'web' && isImage(c.image, v3) && c.state === 'running'), 30_000);
    await waitConverged(ctl, nodes(), { web: 1, edge: 1 }, 20_000);
  }, 90_000);

  it('fogctl images load puts a saved image on the named node straight from the file', async () => {
    const tar = join(state, 'loaded.tar');
    const docker = new Docker({ socketPath: socket('img-1') });
    await docker.getImage(TEST_IMAGE).tag({ repo: 'fog/loaded', tag: '1' });
    await pipeline(await docker.getImage('fog/loaded:1').get(), createWriteStream(tar));
    const got = await runFogctl(['images', 'load', tar, '--node', 'img-3', '--desired', desired]);
    expect(got.stderr).toBe('');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^img-3: loaded fog\/loaded:1$/m);
    expect(await imageTags(socket('img-3'))).toContain('fog/loaded:1');
    const bad = await runFogctl(['images', 'load', tar, '--node', 'nowhere', '--desired', desired]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no Node nowhere in .* \(there: img-1, img-2, img-3\)/);
  }, 30_000);
});
