// Images on a plant, against three local Docker daemons (hack/fleet.sh) and a
// real registry (Debian's docker-registry), timed from the engines' own events:
//
//   real.stop_first_downtime_ms     a stop-first rollout of one replica to a fresh image (busybox + 24 MB of
//                                   random data, in the registry, on no node): old container's `die` → new
//                                   container's `start`, both by the engine's clock. The pull happens before.
//   real.stop_first_downtime_baseline_ms  the same step as before issue 13: the executor given the stop-first pass's
//                                   remove and create at once, the create pulling the missing image itself (the
//                                   executor's fallback), old container's `die` → new one's `start`
//   real.stop_first_pull_ms         a plain pull of a same-sized fresh image on that engine (dockerode)
//   real.image_uplink_ratio_registry  blob bytes the registry served / the image's size, for one rollout of a
//                                   global service to 3 nodes, every node pulling (≈ 3)
//   real.image_uplink_ratio (= _peers)
//   real.image_uplink_ratio_peers   the same with `fogctl run --image-source peers`: one node pulls, the others
//                                   get copies from it (≈ 1)

import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import Docker from 'dockerode';
import { Executor } from '../../src/apply/executor.js';
import { Engine } from '../../src/docker/engine.js';
import { containerSpec, createAction, removeAction } from '../../test/support/actions.js';
import { startFleet, TEST_IMAGE } from '../../test/support/fleet.js';
import { buildFreshImage } from '../../test/support/images.js';
import { startRegistry, type Registry } from '../../test/support/registry.js';
import { Cleanup, onJsonLines, round, sleep, startController, tempDir, writeFile, type ControllerProc } from '../hollow/bench-kit.js';
import { writeNodeManifests } from '../hollow/manifests.js';
import { serviceYaml } from './real.js';

const NODES = ['i1', 'i2', 'i3'];
const MB = 24;

interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export async function benchImages({ quick }: { quick: boolean }): Promise<Record<string, number>> {
  const cleanup = new Cleanup();
  const out: Record<string, number> = {};
  const log = (m: string) => process.stderr.write(`bench images: ${m}\n`);
  try {
    const registry = await startRegistry();
    cleanup.add(() => registry.stop());
    const fleet = await startFleet(NODES.map((name) => ({ name })));
    cleanup.add(() => fleet.stop());
    const socket = (n: string) => fleet.node(n).socket;
    const dir = tempDir('fi-', cleanup);
    const desired = join(dir, 'd');
    writeNodeManifests(
      desired,
      fleet.nodes.map((n) => ({ name: n.name, endpoint: n.endpoint, labels: {}, devices: [] })),
    );
    let n = 0;
    /** A fresh image in the registry only; returns its reference and size (config + layers as stored). */
    const fresh = async (): Promise<{ ref: string; size: number; names: string[] }> => {
      const tag = `${++n}`;
      const id = await buildFreshImage(socket('i1'), 'fog/bench-build', tag, MB);
      const digest = await registry.pushFromEngine(socket('i1'), `fog/bench-build:${tag}`, `fog/big:${tag}`);
      await new Docker({ socketPath: socket('i1') }).getImage(`fog/bench-build:${tag}`).remove();
      const ref = `${registry.host}/fog/big:${tag}`;
      // A replica runs the tag, the pinned repo@digest, or (copied by load) the image id.
      return { ref, size: await imageSize(registry, 'fog/big', tag), names: [ref, `${registry.host}/fog/big@${digest}`, id] };
    };

    // Stop-first downtime: the old replica's die → the new one's start on i1.
    let ctl = startController({ desired, stateDir: join(dir, 's'), grace: '5s', resync: '10s' }, cleanup);
    await nodesSeen(ctl);
    const i1 = new Docker({ socketPath: socket('i1') });
    const events: { type: string; action: string; id?: string; service?: string; image?: string; at: number }[] = [];
    const stream = (await i1.getEvents({ filters: { type: ['container', 'image'] } })) as IncomingMessage;
    cleanup.add(() => stream.destroy());
    onJsonLines<EngineEvent>(stream, (e) =>
      events.push({
        type: e.Type ?? '',
        action: (e.Action ?? '').split(':')[0]!,
        id: e.Actor?.ID,
        service: e.Actor?.Attributes?.['fog.service'],
        image: e.Actor?.Attributes?.image,
        at: (e.timeNano ?? 0) / 1e6,
      }),
    );
    const line = (image: string) =>
      serviceYaml('line', `  placement:\n    constraints: ["node.name == i1"]\n  update:\n    order: stop-first\n    monitor: 1s\n`).replace(`image: ${TEST_IMAGE}`, `image: ${image}`);
    writeFile(join(desired, 'services', 'line.yaml'), line(TEST_IMAGE));
    await until('line running', () => events.some((e) => e.service === 'line' && e.action === 'start'), 60_000);
    const downtimes: number[] = [];
    for (let k = 0; k < (quick ? 1 : 3); k++) {
      const img = await fresh();
      await sleep(1_500);
      const seen = events.length;
      writeFile(join(desired, 'services', 'line.yaml'), line(img.ref));
      await until('line on the fresh image', () => events.slice(seen).some((e) => e.service === 'line' && e.action === 'start' && img.names.includes(e.image ?? '')), 120_000);
      const died = events.slice(seen).find((e) => e.service === 'line' && e.action === 'die')!;
      const started = events.slice(seen).find((e) => e.service === 'line' && e.action === 'start' && img.names.includes(e.image ?? ''))!;
      const pulled = events.slice(seen).find((e) => e.type === 'image' && e.action === 'pull' && img.names.includes(e.id ?? ''));
      if (pulled === undefined || pulled.at > died.at) throw new Error(`bench images: the pull of ${img.ref} did not finish before the old replica died`);
      downtimes.push(started.at - died.at);
      log(`stop-first to a fresh ${MB} MB image: pull done ${Math.round(died.at - pulled.at)} ms before the old replica died; died → new one started in ${Math.round(started.at - died.at)} ms`);
    }
    out['real.stop_first_downtime_ms'] = round(Math.min(...downtimes));
    // Before: the pass's remove and create went to the executor together, and the create pulled the missing image.
    const baselines: number[] = [];
    const executor = new Executor(new Map([['i1', Engine.connect('i1', { socketPath: socket('i1') }, { callTimeoutMs: 5_000 })]]), {
      cluster: 'bench-base',
      perNodeConcurrency: 4,
      callTimeoutMs: 5_000,
      retries: 2,
    });
    const spec = (image: string, hash: string) =>
      containerSpec('base', 0, {
        name: `base-${hash}`,
        image,
        command: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done"],
        labels: { 'fog.cluster': 'bench-base', 'fog.service': 'base', 'fog.slot': '0', 'fog.spec-hash': hash },
      });
    let [made] = await executor.execute([createAction('i1', spec(TEST_IMAGE, 'b0'))]);
    for (let k = 0; k < (quick ? 1 : 3); k++) {
      if (!made?.ok || made.containerId === undefined) throw new Error(`bench images: baseline create failed: ${made?.message ?? 'no result'}`);
      const img = await fresh();
      await sleep(1_000);
      const seen = events.length;
      const old = made.containerId;
      const results = await executor.execute([removeAction('i1', { id: old, name: `base-b${k}`, service: 'base', slot: 0 }, 2), createAction('i1', spec(img.ref, `b${k + 1}`))]);
      made = results[1];
      const isStart = (e: (typeof events)[number]) => e.type === 'container' && e.action === 'start' && img.names.includes(e.image ?? '');
      await until('the baseline events', () => events.slice(seen).some(isStart), 10_000);
      const died = events.slice(seen).find((e) => e.type === 'container' && e.action === 'die' && e.id === old)!;
      const d = events.slice(seen).find(isStart)!.at - died.at;
      baselines.push(d);
      log(`baseline (create pulls the image): old container died → new one started in ${Math.round(d)} ms`);
    }
    if (made?.ok && made.containerId !== undefined) await executor.execute([removeAction('i1', { id: made.containerId, name: 'base', service: 'base', slot: 0 }, 2)]);
    out['real.stop_first_downtime_baseline_ms'] = round(Math.min(...baselines));
    // What the pull alone takes on that engine (it used to sit inside the downtime).
    const probe = await fresh();
    const t0 = performance.now();
    await pull(i1, probe.ref);
    out['real.stop_first_pull_ms'] = round(performance.now() - t0);
    log(`plain pull of a fresh ${MB} MB image on i1: ${Math.round(out['real.stop_first_pull_ms'])} ms`);
    writeFile(join(desired, 'services', 'line.yaml'), line(TEST_IMAGE).replace('constraints: ["node.name == i1"]', 'constraints: ["node.name == nowhere"]'));

    // Uplink: a global service rolled out to a fresh image on 3 nodes, pulled by each, then copied between peers.
    const fan = (image: string) => serviceYaml('fan', '  mode: global\n  update:\n    parallelism: 3\n    monitor: 1s\n').replace(`image: ${TEST_IMAGE}`, `image: ${image}`);
    const dockers = NODES.map((x) => new Docker({ socketPath: socket(x) }));
    const rollout = async (what: string): Promise<number> => {
      const img = await fresh();
      registry.resetCounters();
      writeFile(join(desired, 'services', 'fan.yaml'), fan(img.ref));
      // Asked of the engines: a status from before the manifest changed would already say 3/3.
      await until(
        `fan on ${img.ref} on 3 nodes`,
        async () => {
          let on = 0;
          for (const d of dockers) on += (await d.listContainers({ filters: { label: ['fog.service=fan'] } })).filter((x) => img.names.includes(x.Image) && x.State === 'running').length;
          return on === 3;
        },
        180_000,
      );
      const ratio = registry.blobBytesServed() / img.size;
      log(`${what}: registry served ${(registry.blobBytesServed() / 1e6).toFixed(1)} MB for a ${(img.size / 1e6).toFixed(1)} MB image on 3 nodes: ratio ${ratio.toFixed(2)}`);
      return ratio;
    };
    writeFile(join(desired, 'services', 'fan.yaml'), fan(TEST_IMAGE));
    out['real.image_uplink_ratio_registry'] = round(await rollout('every node pulls'), 2);
    await ctl.stop();
    ctl = startController({ desired, stateDir: join(dir, 's'), grace: '5s', resync: '10s', runFlags: ['--image-source', 'peers'] }, cleanup);
    await nodesSeen(ctl);
    out['real.image_uplink_ratio_peers'] = round(await rollout('peers first'), 2);
    // The key: the uplink with copies between nodes (the registry-only figure beside it is the baseline).
    out['real.image_uplink_ratio'] = out['real.image_uplink_ratio_peers'];
    return out;
  } finally {
    await cleanup.run();
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error(`bench images: timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function nodesSeen(ctl: ControllerProc): Promise<void> {
  await until(
    'the controller to see every node',
    async () => {
      const doc = await ctl.status(2_000).catch(() => undefined);
      return doc !== undefined && doc.status.nodes.length === NODES.length && doc.status.nodes.every((x) => x.reachable);
    },
    30_000,
  );
}

/** The bytes a full pull fetches: the manifest's config and layer sizes. */
async function imageSize(registry: Registry, repo: string, tag: string): Promise<number> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  const m = (await res.json()) as { config: { size: number }; layers: { size: number }[] };
  return m.config.size + m.layers.reduce((s, l) => s + l.size, 0);
}

function pull(docker: Docker, ref: string): Promise<void> {
  return new Promise((resolve, reject) => {
    void docker.pull(ref, (err: Error | null, stream: NodeJS.ReadableStream) => {
      if (err) return reject(err);
      docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve()));
    });
  });
}
