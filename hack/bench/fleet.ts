// The controller at scale, against hollow nodes (hack/hollow): 1,000 Docker
// Engine APIs with 20 ms per call, 10,000 replicas of a factory-like mix of
// services. A real `fogctl run` child process, driven through dockerode like
// any engine. Figures:
//
//   fleet.converge_s            controller start → every service ready (status API), median of 3 (--quick) or 5 runs from nothing
//   fleet.rss_mb                controller VmRSS at steady state, median of 1 s samples over the idle windows (and _max)
//   fleet.idle_cpu_pct          controller CPU with nothing changing: median of 3 (--quick) or 6 windows of 30 s, the first 30 s after convergence (and _max)
//   fleet.idle_calls_per_s      engine API calls the controller makes while idle
//   fleet.idle_reconciles       reconciles that ran while idle (the rest were skipped: nothing changed)
//   fleet.engine_restart_ms_p50 a container's process dies → running again: the hollow engine's own restart policy (a
//                               100 ms constant of the simulator; no controller involved: a check of the harness, not a figure)
//   fleet.kill_to_running_ms_p50     `docker kill` (a manual stop: the engine leaves it) → restarted by the controller
//   fleet.removed_to_running_ms_p50  a container removed behind the controller's back → replacement running
//   fleet.clean_stop_replaced_after_grace_ms_p50  a node stops cleanly (connections refused: noticed at once) → its replicas
//                               running elsewhere, minus --grace (3 s). A silent loss is fleet.partition_to_notready_ms
//   fleet.partition_to_notready_ms  a node black-holed (accepts, never answers, open connections go silent) → the
//                               controller's `node lost` line (heartbeat: 2 s interval, 4 s at 1,000 nodes by the rate cap, 500 ms deadline, 2 misses; fault at a uniform moment of the interval), median of 5 (7)
//   fleet.heartbeat_pings_per_s heartbeat turns the hollow engines answered while idle: long polls of the events and
//                               pings (not in idle_calls_per_s)
//   fleet.idle_sockets_per_node the controller's open sockets while idle (/proc/PID/fd, median of the 1 s samples) per node
//   fleet.startup_ms            process start → first pass done (status API: passes >= 1), a fresh controller on the
//                               converged fleet (a gateway restarting its service), median of 3 (--quick) or 5
//   fleet.compiled              1 when the controller ran from the compiled build (dist/), 0 through tsx (FOG_BENCH_FOGCTL=source)
//
// Timings of single containers are taken from the hollow engines' own event
// feed (in this process), not from the controller. FOG_BENCH_NODES and
// FOG_BENCH_REPLICAS scale it down; FOG_BENCH_CPU_PROF=DIR runs the controller
// with --cpu-prof into DIR; FOG_BENCH_HEAP_SNAPSHOT=DIR writes a heap snapshot
// of it there after the idle windows; FOG_BENCH_NODE_FLAGS adds node flags.

import { join } from 'node:path';
import { startHollowFleet, type HollowFleet } from '../hollow/fleet.js';
import { writeNodeManifests } from '../hollow/manifests.js';
import { DEFAULT_HEARTBEAT, heartbeatInterval } from '../../src/observe/heartbeat.js';
import { untilReachable, watchLost } from './liveness.js';
import { Cleanup, StartWaiter, idleCpuPct, median, round, sleep, startController, startedOf, tempDir, waitConverged, writeFile, type ControllerProc, type Started } from '../hollow/bench-kit.js';

const GRACE_MS = 3_000;
/** One idle window, and the settling before the first (see where they are measured). */
const IDLE_WINDOW_MS = 30_000;
const LATENCY_MS = 20;
const DEVICE = '/dev/ttyUSB0';

interface ServiceMix {
  name: string;
  yaml: string;
  /** Replicas wanted at the full scale; undefined for global services (counted from the nodes). */
  replicas?: number;
  global?: (i: number) => boolean;
}

const nodeLabels = (i: number) => ({
  zone: `z${i % 10}`,
  line: `l${i % 20}`,
  role: i % 10 === 0 ? 'gateway' : 'edge',
  opcua: ['1.3', '1.4', '1.5'][i % 3]!,
});
const hasDevice = (i: number) => i % 5 === 0;

function service(name: string, body: string): string {
  return `apiVersion: fog/v1
kind: Service
metadata:
  name: ${name}
spec:
  image: fog/busybox:latest
  network: none
  command: ["sh", "-c", "while true; do sleep 5; done"]
${body}`;
}

/** The mix: three global agents (all, device, gateway) and six replicated services; 10,000 replicas at 1,000 nodes. */
function mix(scale: number): ServiceMix[] {
  const r = (n: number) => Math.max(1, Math.round(n * scale));
  return [
    { name: 'metrics-agent', global: () => true, yaml: service('metrics-agent', '  mode: global\n  resources: {cpu: 20m, memory: 16Mi}\n') },
    { name: 'serial-reader', global: hasDevice, yaml: service('serial-reader', `  mode: global\n  devices: [${DEVICE}]\n  resources: {cpu: 50m, memory: 16Mi}\n`) },
    {
      name: 'gateway-bridge',
      global: (i) => nodeLabels(i).role === 'gateway',
      yaml: service('gateway-bridge', '  mode: global\n  placement:\n    constraints: ["node.labels.role == gateway"]\n  resources: {cpu: 100m, memory: 32Mi}\n'),
    },
    {
      name: 'opcua-collector',
      replicas: r(2000),
      yaml: service('opcua-collector', `  replicas: ${r(2000)}\n  resources: {cpu: 100m, memory: 64Mi}\n  placement:\n    constraints: ["node.labels.opcua >= 1.4"]\n    spread: zone\n`),
    },
    { name: 'mqtt-broker', replicas: r(500), yaml: service('mqtt-broker', `  replicas: ${r(500)}\n  resources: {cpu: 200m, memory: 128Mi}\n  placement:\n    spread: zone\n    maxPerNode: 1\n`) },
    {
      name: 'line-dashboard',
      replicas: r(1000),
      yaml: service('line-dashboard', `  replicas: ${r(1000)}\n  resources: {cpu: 50m, memory: 32Mi}\n  placement:\n    constraints: ["node.labels.role != gateway"]\n    spread: line\n`),
    },
    { name: 'scrap-counter', replicas: r(2200), yaml: service('scrap-counter', `  replicas: ${r(2200)}\n  resources: {cpu: 50m, memory: 32Mi}\n`) },
    { name: 'vision', replicas: r(1000), yaml: service('vision', `  replicas: ${r(1000)}\n  resources: {cpu: 500m, memory: 256Mi}\n  placement:\n    constraints: ["node.cpu >= 4"]\n`) },
    { name: 'historian', replicas: r(2000), yaml: service('historian', `  replicas: ${r(2000)}\n  resources: {memory: 64Mi}\n  placement:\n    spread: zone\n`) },
  ];
}

/** Starts on every hollow node, from the engines' own events (no API, no latency). */
function watchStarts(fleet: HollowFleet): StartWaiter & { close(): void } {
  const waiter = new StartWaiter();
  const offs = fleet.nodes.map((n) =>
    fleet.engine(n.name).onEvent((e) => {
      const s = startedOf(n.name, e);
      if (s) waiter.push(s);
    }),
  );
  return Object.assign(waiter, { close: () => offs.forEach((off) => off()) });
}

export async function benchFleet({ quick }: { quick: boolean }): Promise<Record<string, number>> {
  const count = Number(process.env.FOG_BENCH_NODES ?? 1000);
  const scale = Number(process.env.FOG_BENCH_REPLICAS ?? 10_000) / 10_000;
  const samples = quick ? 5 : 11;
  const cleanup = new Cleanup();
  const out: Record<string, number> = {};
  const log = (m: string) => process.stderr.write(`bench fleet: ${m}\n`);
  try {
    const dir = tempDir('fb-', cleanup);
    const fleet = await startHollowFleet({
      count,
      dir: join(dir, 'h'),
      latencyMs: LATENCY_MS,
      labels: nodeLabels,
      devices: (i) => (hasDevice(i) ? [DEVICE] : []),
      ncpu: (i) => (i % 4 === 3 ? 2 : 4),
      memTotal: (i) => (i % 4 === 3 ? 4 : 8) * 1024 ** 3,
    });
    cleanup.add(() => fleet.stop());
    const desired = join(dir, 'd');
    writeNodeManifests(desired, fleet.nodes);
    const services = mix(scale);
    for (const s of services) writeFile(join(desired, 'services', `${s.name}.yaml`), s.yaml);
    const replicas = services.reduce((n, s) => n + (s.replicas ?? fleet.nodes.filter((_, i) => s.global!(i)).length), 0);
    out['fleet.nodes'] = count;
    out['fleet.replicas'] = replicas;
    out['fleet.latency_ms'] = LATENCY_MS;
    log(`${count} hollow nodes up; ${replicas} replicas in ${services.length} services; starting the controller`);

    const prof = process.env.FOG_BENCH_CPU_PROF;
    const heap = process.env.FOG_BENCH_HEAP_SNAPSHOT;
    const nodeFlags = [
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
      ...(heap ? ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', heap] : []),
      ...(process.env.FOG_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ];
    // Convergence from nothing, several times: between runs the controller
    // stops and every container goes; the last run stays for the rest.
    const runs = Number(process.env.FOG_BENCH_RUNS ?? (quick ? 3 : 5));
    const converge: number[] = [];
    let ctl: ControllerProc | undefined;
    for (let r = 0; r < runs; r++) {
      if (ctl) {
        await ctl.stop();
        for (const c of fleet.allContainers()) fleet.engine(c.node).remove(c.id, true);
      }
      const run = startController({ desired, stateDir: join(dir, `s${r}`), grace: `${GRACE_MS / 1000}s`, resync: 'auto', nodeFlags }, cleanup);
      ctl = run;
      let lastLog = performance.now();
      const done = await waitConverged(run, { services: services.length, replicas }, quick ? 300_000 : 600_000, 1_000, (ready) => {
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`${round((performance.now() - run.startedAt) / 1000)} s: ${ready}/${replicas} ready`);
        }
      });
      if (done === undefined) {
        const running = fleet.allContainers().filter((c) => c.status === 'running' && c.labels['fog.service']).length;
        log(`did not converge; ${running} running. Controller log tail:\n${run.logs().slice(-2000)}`);
        out['fleet.converge_s'] = Number.NaN;
        return out;
      }
      converge.push((done - run.startedAt) / 1000);
      log(`run ${r + 1}/${runs}: converged in ${round(converge.at(-1)!)} s`);
    }
    const live = ctl!;
    out['fleet.converge_s'] = round(median(converge));
    out['fleet.converge_runs'] = runs;
    out['fleet.running_at_end'] = fleet.allContainers().filter((c) => c.status === 'running' && c.labels['fog.service']).length;

    // Idle: 30 s windows after 30 s of settling. (Once one resync interval each, when the resync was 30 s; at
    // 1,000 nodes it is 5 min now. The settling can still hold the one compacting collection after the burst,
    // src/runtime/heap.ts: longer probe windows from later measure less, see docs/performance.md.)
    await sleep(IDLE_WINDOW_MS);
    const windows = quick ? 3 : 6;
    const cpu: number[] = [];
    const rss: number[] = [];
    const sockets: number[] = [];
    const sampleRss = setInterval(() => {
      rss.push(live.rssMb());
      sockets.push(live.sockets());
    }, 1_000);
    const calls0 = fleet.calls();
    const before = await live.status();
    try {
      for (let w = 0; w < windows; w++) cpu.push(await idleCpuPct(live, IDLE_WINDOW_MS));
    } finally {
      clearInterval(sampleRss);
    }
    const after = await live.status();
    out['fleet.rss_mb'] = round(median(rss));
    out['fleet.rss_mb_max'] = round(Math.max(...rss));
    out['fleet.idle_sockets_per_node'] = round(median(sockets) / count, 2);
    out['fleet.idle_cpu_pct'] = round(median(cpu), 2);
    out['fleet.idle_cpu_pct_max'] = round(Math.max(...cpu), 2);
    out['fleet.idle_window_s'] = (windows * IDLE_WINDOW_MS) / 1000;
    const calls = [...fleet.calls()].map(([route, n]) => [route, n - (calls0.get(route) ?? 0)] as const).filter(([, n]) => n > 0);
    // The heartbeat's turns are long polls of the events (GET /events), its re-pings HEAD /_ping (counted as GET).
    const isPing = (route: string) => route === 'GET /_ping' || route === 'GET /events';
    out['fleet.idle_calls_per_s'] = round(calls.filter(([r]) => !isPing(r)).reduce((a, [, n]) => a + n, 0) / ((windows * IDLE_WINDOW_MS) / 1000));
    out['fleet.heartbeat_pings_per_s'] = round(calls.filter(([r]) => isPing(r)).reduce((a, [, n]) => a + n, 0) / ((windows * IDLE_WINDOW_MS) / 1000));
    log(`idle engine calls: ${calls.map(([route, n]) => `${route} ${n}`).join(', ')}`);
    if (before && after) out['fleet.idle_reconciles'] = after.passes - (after.unchangedPasses ?? 0) - (before.passes - (before.unchangedPasses ?? 0));
    log(
      `converged in ${converge.map((c) => round(c)).join(', ')} s; rss ${out['fleet.rss_mb']} MB (max ${out['fleet.rss_mb_max']}), idle cpu ${cpu.map((c) => round(c, 2)).join(', ')} % per ${IDLE_WINDOW_MS / 1000} s`,
    );
    if (heap) {
      process.kill(live.pid, 'SIGUSR2');
      await sleep(15_000);
    }
    const starts = watchStarts(fleet);
    cleanup.add(() => starts.close());
    const replicated = new Set(services.filter((s) => s.replicas !== undefined).map((s) => s.name));
    const pick = (k: number) => {
      const all = fleet.allContainers().filter((c) => c.status === 'running' && replicated.has(c.labels['fog.service'] ?? ''));
      return all[(k * 7919) % all.length]!;
    };
    const sameSlot = (c: { labels: Record<string, string> }) => (s: Started) => s.service === c.labels['fog.service'] && s.slot === c.labels['fog.slot'];
    const measure = async (what: string, n: number, act: (c: ReturnType<typeof pick>) => void, pred: (c: ReturnType<typeof pick>) => (s: Started) => boolean, offset = 0) => {
      const ms: number[] = [];
      for (let k = 0; k < n; k++) {
        const c = pick(k + offset);
        const started = starts.next(pred(c), 30_000);
        const t0 = performance.now();
        act(c);
        ms.push((await started).at - t0);
        await sleep(300);
      }
      log(`${what}: ${ms.map((m) => Math.round(m)).join(', ')} ms`);
      return round(median(ms));
    };
    // The process dies (exit 137): dockerd's restart policy brings it back; the controller has nothing to do.
    out['fleet.engine_restart_ms_p50'] = await measure(
      'die → running',
      samples,
      (c) => fleet.killContainer(c.node, c.id, 137),
      (c) => (s) => s.id === c.id,
    );
    // docker kill is a manual stop for dockerd: the controller restarts it (after its 1 s back-off).
    out['fleet.kill_to_running_ms_p50'] = await measure('kill → running', quick ? 3 : 5, (c) => fleet.engine(c.node).kill(c.id), sameSlot, 100);
    out['fleet.removed_to_running_ms_p50'] = await measure('removed → replacement running', quick ? 3 : 5, (c) => fleet.engine(c.node).remove(c.id, true), sameSlot, 200);

    // A silent node: black-holed, noticed by the heartbeat; lifted at once, so it is back well within the grace period.
    const lostLines = watchLost(live);
    cleanup.add(() => lostLines.close());
    const silent: number[] = [];
    // The fault at a random moment of the victim's turn: the wait is uniform over a whole heartbeat interval (the controller runs with the defaults).
    // (A wait of 1-2 s after the previous victim's return fell at much the same moment of each victim's 4 s turn: 3.3-3.5 s in 4 of 5 samples.)
    const beatMs = heartbeatInterval(DEFAULT_HEARTBEAT.intervalMs, fleet.nodes.length, DEFAULT_HEARTBEAT.maxRate);
    for (let k = 0; k < (quick ? 5 : 7); k++) {
      const node = fleet.nodes[(k * 211 + 5) % fleet.nodes.length]!.name;
      await sleep(1_000 + Math.random() * beatMs);
      const seen = lostLines.next(node, 30_000);
      const t0 = performance.now();
      await fleet.setFault(node, 'blackhole');
      try {
        silent.push((await seen) - t0);
      } finally {
        await fleet.setFault(node, 'up');
      }
      await untilReachable(live, node, true, 30_000);
    }
    log(`black hole → NotReady: ${silent.map(Math.round).join(', ')} ms`);
    out['fleet.partition_to_notready_ms'] = round(median(silent));

    // Node loss: every replicated replica of the node must start elsewhere.
    const lost: number[] = [];
    const nodes = fleet.nodes.filter((_, i) => nodeLabels(i).role !== 'gateway');
    const replicasOn = (node: string) => fleet.containers(node).filter((c) => c.status === 'running' && replicated.has(c.labels['fog.service'] ?? ''));
    const candidates = nodes.filter((n) => replicasOn(n.name).length > 0);
    for (let k = 0; k < (quick ? 2 : 3); k++) {
      const node = candidates[(k * 131 + 17) % candidates.length]!.name;
      const mine = replicasOn(node);
      const moved = Promise.all(mine.map((c) => starts.next((s) => s.node !== node && sameSlot(c)(s), 60_000)));
      const t0 = performance.now();
      await fleet.setFault(node, 'down');
      const all = await moved;
      const last = Math.max(...all.map((s) => s.at));
      lost.push(last - t0 - GRACE_MS);
      log(`node ${node} lost with ${mine.length} replicated replicas: all running elsewhere ${Math.round(last - t0)} ms later (grace ${GRACE_MS} ms)`);
      await sleep(1_000);
    }
    out['fleet.clean_stop_replaced_after_grace_ms_p50'] = round(median(lost));
    out['fleet.rss_mb_end'] = round(live.rssMb());

    // Startup: a fresh controller on the converged fleet, from process start to its first pass done.
    await live.stop();
    const startups: number[] = [];
    for (let k = 0; k < (quick ? 3 : 5); k++) {
      const c = startController({ desired, stateDir: join(dir, `st${k}`), grace: `${GRACE_MS / 1000}s`, resync: 'auto', nodeFlags }, cleanup);
      let done: number | undefined;
      while (done === undefined && performance.now() - c.startedAt < 120_000) {
        if (c.proc.exitCode !== null) throw new Error(`the controller exited with ${c.proc.exitCode}:\n${c.logs().slice(-3000)}`);
        const doc = await c.status(1_000).catch(() => undefined);
        if (doc && doc.passes >= 1) done = performance.now();
        else await sleep(10);
      }
      startups.push((done ?? Number.NaN) - c.startedAt);
      await c.stop();
    }
    log(`start → first pass done: ${startups.map(Math.round).join(', ')} ms`);
    out['fleet.startup_ms'] = round(median(startups), 0);
    out['fleet.compiled'] = process.env.FOG_BENCH_FOGCTL === 'source' ? 0 : 1;
    return out;
  } finally {
    await cleanup.run();
  }
}
