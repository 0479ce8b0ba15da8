// The controller against real local Docker daemons (hack/fleet.sh, two
// nodes), timed from the engines' own event streams read with dockerode:
//
//   real.manifest_to_running_ms_p50  a Service manifest written into the watched folder → its container started
//   real.bare_docker_ms_p50          create + start of the same container through dockerode → started
//   real.ratio                       the two medians
//   real.kill_to_running_ms_p50      the container's process is killed → running again (engine restart policy)
//   real.api_kill_to_running_ms_p50  `docker kill` (a manual stop: dockerd leaves it) of a stable container → restarted by the controller at once
//   real.api_kill_repeat_to_running_ms_p50  the same container killed again right away → restarted after the 1 s back-off
//   real.clean_stop_replaced_after_grace_ms_p50  a node's dockerd stops cleanly (its event stream closes: noticed at once) → its
//                                    replica started on the other, minus --grace (3 s). Silent losses: real.partition_* (liveness.ts)
//   real.rollback_ms                 a new revision's first replica reported unhealthy by dockerd (its health_status event) → all 3
//                                    replicas running the last good revision again, none of the bad one left (engines polled every
//                                    50 ms); 3 replicas, stop-first, parallelism 1, update.monitor 2s, healthcheck every 1s

import { join } from 'node:path';
import Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { LABEL } from '../../src/api/types.js';
import { createBody } from '../../src/apply/container-config.js';
import { startFleet, TEST_IMAGE } from '../../test/support/fleet.js';
import { stopAndWatch } from '../../test/support/outage.js';
import { Cleanup, StartWaiter, median, onJsonLines, round, sleep, startController, startedOf, tempDir, writeFile } from '../hollow/bench-kit.js';
import { writeNodeManifests } from '../hollow/manifests.js';

const GRACE_MS = 3_000;
const NODES = ['r1', 'r2'];
const SERVE = ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done"];

export function serviceYaml(name: string, body = ''): string {
  return `apiVersion: fog/v1
kind: Service
metadata:
  name: ${name}
spec:
  image: ${TEST_IMAGE}
  network: none
  command: ${JSON.stringify(SERVE)}
  stopGracePeriod: 2s
${body}`;
}

/** Follows a node's container events across daemon restarts; `lostAt` is when the stream last broke. */
function follow(node: string, docker: Docker, starts: StartWaiter) {
  const state = { lostAt: 0, closed: false, stream: undefined as IncomingMessage | undefined };
  const connect = () => {
    if (state.closed) return;
    docker.getEvents({ filters: { type: ['container'] } }).then(
      (s) => {
        const stream = s as IncomingMessage;
        state.stream = stream;
        onJsonLines<Parameters<typeof startedOf>[1]>(stream, (e) => {
          const started = startedOf(node, e);
          if (started) starts.push(started);
        });
        stream.once('close', () => {
          state.lostAt = performance.now();
          setTimeout(connect, 100);
        });
      },
      () => setTimeout(connect, 100),
    );
  };
  connect();
  return {
    state,
    close: () => {
      state.closed = true;
      state.stream?.destroy();
    },
  };
}

export async function benchReal({ quick }: { quick: boolean }): Promise<Record<string, number>> {
  const samples = quick ? 5 : 9;
  const cleanup = new Cleanup();
  const out: Record<string, number> = {};
  const log = (m: string) => process.stderr.write(`bench real: ${m}\n`);
  try {
    const fleet = await startFleet(NODES.map((name) => ({ name })));
    cleanup.add(() => fleet.stop());
    const dockers = new Map(NODES.map((n) => [n, new Docker({ socketPath: fleet.node(n).socket })]));
    const starts = new StartWaiter();
    const feeds = new Map(NODES.map((n) => [n, follow(n, dockers.get(n)!, starts)]));
    cleanup.add(() => feeds.forEach((f) => f.close()));

    const dir = tempDir('fr-', cleanup);
    const desired = join(dir, 'd');
    writeNodeManifests(
      desired,
      fleet.nodes.map((n) => ({ name: n.name, endpoint: n.endpoint, labels: {}, devices: [] })),
    );
    const ctl = startController({ desired, stateDir: join(dir, 's'), grace: `${GRACE_MS / 1000}s`, resync: '10s', callTimeout: '5s' }, cleanup);
    for (let i = 0; ; i++) {
      const doc = await ctl.status(2_000).catch(() => undefined);
      if (doc && doc.status.nodes.length === NODES.length && doc.status.nodes.every((n) => n.reachable)) break;
      if (i > 300) throw new Error(`the controller did not see both nodes within 30 s:\n${ctl.logs().slice(-2000)}`);
      await sleep(100);
    }
    await sleep(1_000);

    // Manifest → running and bare create+start, interleaved so that drift hits both alike.
    const viaManifest: number[] = [];
    const bare: number[] = [];
    const r1 = dockers.get('r1')!;
    for (let k = 0; k < samples; k++) {
      const name = `m${k}`;
      let started = starts.next((s) => s.service === name, 60_000);
      let t0 = performance.now();
      writeFile(join(desired, 'services', `${name}.yaml`), serviceYaml(name, '  placement:\n    constraints: ["node.name == r1"]\n'));
      viaManifest.push((await started).at - t0);
      await sleep(500);

      const bareName = `bare-${k}`;
      const body = createBody({
        name: bareName,
        image: TEST_IMAGE,
        command: SERVE,
        env: [],
        labels: { bench: 'bare' },
        ports: [],
        network: 'none',
        volumes: [],
        devices: [],
        resources: {},
        restart: { policy: 'always', maxRetries: 0 },
        stopGracePeriod: 2,
      });
      started = starts.next((s) => s.name === bareName, 60_000);
      t0 = performance.now();
      const c = await r1.createContainer({ name: bareName, ...body });
      await c.start();
      bare.push((await started).at - t0);
      cleanup.add(() => c.remove({ force: true }).catch(() => undefined));
      await sleep(500);
    }
    log(`manifest → running: ${viaManifest.map(Math.round).join(', ')} ms; bare create+start: ${bare.map(Math.round).join(', ')} ms`);
    out['real.manifest_to_running_ms_p50'] = round(median(viaManifest));
    out['real.bare_docker_ms_p50'] = round(median(bare));
    out['real.ratio'] = round(median(viaManifest) / median(bare), 2);

    // A crash: the process dies, dockerd's restart policy (always) brings it back.
    const managed = async (service: string) => {
      for (const [node, d] of dockers) {
        const list = await d.listContainers({ filters: { label: [`${LABEL.service}=${service}`], status: ['running'] } }).catch(() => []);
        if (list[0]) return { node, id: list[0].Id };
      }
      throw new Error(`no running container of ${service}`);
    };
    const kills: number[] = [];
    const apiKills: number[] = [];
    const apiRepeats: number[] = [];
    for (let k = 0; k < (quick ? 3 : 5); k++) {
      const m = await managed(`m${k % samples}`);
      const info = await dockers.get(m.node)!.getContainer(m.id).inspect();
      const started = starts.next((s) => s.id === m.id, 30_000);
      const t0 = performance.now();
      process.kill(info.State.Pid, 'SIGKILL');
      kills.push((await started).at - t0);
      await sleep(500);
    }
    // `docker kill` of a container that had run stably (10 s, the controller's default): started again at once.
    // Then killed again right away: a streak, so the controller waits its 1 s back-off first.
    await sleep(10_500);
    for (let k = 0; k < samples; k++) {
      const m = await managed(`m${k}`);
      const again = starts.next((s) => s.service === `m${k}`, 30_000);
      const t1 = performance.now();
      await dockers.get(m.node)!.getContainer(m.id).kill();
      apiKills.push((await again).at - t1);
      const third = starts.next((s) => s.service === `m${k}`, 30_000);
      const t2 = performance.now();
      await dockers.get(m.node)!.getContainer(m.id).kill();
      apiRepeats.push((await third).at - t2);
    }
    log(`kill → running: ${kills.map(Math.round).join(', ')} ms; docker kill → running: ${apiKills.map(Math.round).join(', ')} ms; again at once: ${apiRepeats.map(Math.round).join(', ')} ms`);
    out['real.kill_to_running_ms_p50'] = round(median(kills));
    out['real.api_kill_to_running_ms_p50'] = round(median(apiKills));
    out['real.api_kill_repeat_to_running_ms_p50'] = round(median(apiRepeats));

    // Node loss: stop the daemon that runs `mover`; its replica must start on the other node.
    writeFile(join(desired, 'services', 'mover.yaml'), serviceYaml('mover'));
    await starts.next((s) => s.service === 'mover', 60_000);
    const lost: number[] = [];
    for (let k = 0; k < (quick ? 1 : 3); k++) {
      const from = await managed('mover');
      const to = NODES.find((n) => n !== from.node)!;
      const moved = starts.next((s) => s.service === 'mover' && s.node === to, 60_000);
      // From the moment the daemon stopped answering its API (pinged every 50 ms): a stopping dockerd closes its API
      // listener well before its event stream ends, and the controller's grace counts from its last answered heartbeat.
      const outage = stopAndWatch(fleet.node(from.node).socket, () => fleet.stopNode(from.node));
      const at = (await moved).at;
      const t0 = (await outage).stoppedAnsweringAt - (Date.now() - performance.now());
      lost.push(at - t0 - GRACE_MS);
      log(`${from.node} lost: mover running on ${to} ${Math.round(at - t0)} ms after the daemon went away (grace ${GRACE_MS} ms)`);
      await fleet.startNode(from.node);
      await sleep(3_000);
    }
    out['real.clean_stop_replaced_after_grace_ms_p50'] = round(median(lost));

    const rollbacks = await benchRollback(desired, dockers, quick ? 2 : 5, log);
    out['real.rollback_ms'] = round(median(rollbacks));
    return out;
  } finally {
    await cleanup.run();
  }
}

/** A bad revision (healthcheck never passes) after a good one, `samples` times: unhealthy → the line back on the good hash. */
async function benchRollback(desired: string, dockers: ReadonlyMap<string, Docker>, samples: number, log: (m: string) => void): Promise<number[]> {
  const press = (version: number, check: string) =>
    serviceYaml('press', `  replicas: 3\n  env:\n    VERSION: "${version}"\n  healthcheck:\n    test: ${check}\n    interval: 1s\n    timeout: 1s\n    retries: 1\n  update:\n    monitor: 2s\n`);
  const unhealthy: { at: number; hash: string }[] = [];
  const streams: IncomingMessage[] = [];
  for (const d of dockers.values()) {
    const s = (await d.getEvents({ filters: { type: ['container'], event: ['health_status'], label: [`${LABEL.service}=press`] } })) as IncomingMessage;
    streams.push(s);
    onJsonLines<{ status?: string; Actor?: { Attributes?: Record<string, string> } }>(s, (e) => {
      if (e.status?.includes('unhealthy')) unhealthy.push({ at: performance.now(), hash: e.Actor?.Attributes?.[LABEL.hash] ?? '' });
    });
  }
  const list = async () => {
    const all = [];
    for (const d of dockers.values()) all.push(...(await d.listContainers({ all: true, filters: { label: [`${LABEL.service}=press`] } })));
    return all.map((c) => ({ hash: c.Labels[LABEL.hash] ?? '', running: c.State === 'running', healthy: (c.Status ?? '').includes('(healthy)') }));
  };
  const until = async (what: string, ok: (cs: Awaited<ReturnType<typeof list>>) => boolean, timeoutMs = 90_000) => {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const cs = await list();
      if (ok(cs)) return cs;
      if (performance.now() > end) throw new Error(`bench rollback: timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const out: number[] = [];
  try {
    for (let k = 0; k < samples; k++) {
      writeFile(join(desired, 'services', 'press.yaml'), press(2 * k + 1, '["CMD", "true"]'));
      const good = await until('a good revision on all 3 replicas', (cs) => cs.length === 3 && cs.every((c) => c.running && c.healthy) && new Set(cs.map((c) => c.hash)).size === 1);
      const goodHash = good[0]!.hash;
      await sleep(2_500); // past its monitor period: the revision completes
      const seen = unhealthy.length;
      writeFile(join(desired, 'services', 'press.yaml'), press(2 * k + 2, '["CMD", "false"]'));
      await until('the bad revision to turn unhealthy', () => unhealthy.slice(seen).some((u) => u.hash !== goodHash));
      const t0 = unhealthy.slice(seen).find((u) => u.hash !== goodHash)!.at;
      await until('the line back on the good revision', (cs) => cs.length === 3 && cs.every((c) => c.running && c.hash === goodHash));
      out.push(performance.now() - t0);
    }
  } finally {
    for (const s of streams) s.destroy();
  }
  log(`rollback (unhealthy → 3/3 on the good revision): ${out.map(Math.round).join(', ')} ms`);
  return out;
}
