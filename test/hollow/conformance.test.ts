// The hollow engine against a real dockerd: one scenario, driven through the
// project's own executor and observed with its own NodeObserver, on both.
// The transcripts (observed state, raw inspect fields, executor results and
// the event stream, with ids and times normalised) must be equal. A real
// engine that does not start fails the test: it never skips.

import { mkdtempSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL, type Action, type FogNode, type ObservedNode } from '../../src/api/types.js';
import { Executor } from '../../src/apply/executor.js';
import { Engine, type EngineEvent, type EventStream } from '../../src/docker/engine.js';
import { toFacts } from '../../src/observe/convert.js';
import { NodeObserver } from '../../src/observe/observer.js';
import { startHollowFleet, type HollowFleet } from '../../hack/hollow/fleet.js';
import { containerSpec, createAction, removeAction, startAction, TEST_CLUSTER } from '../support/actions.js';
import { startFleet, type Fleet } from '../support/fleet.js';

const NODE = 'conf';
const LABELS = { zone: 'z1', role: 'edge' };
const DEVICE = `${mkdtempSync('/tmp/fogc-')}/ttyUSB0`;
const MISSING = '/dev/fog-missing-0';
/** Exits 143 on SIGTERM within 0.1 s on a real engine (PID 1 ignores an unhandled TERM), as a hollow container does. */
const SERVE = ['sh', '-c', "trap 'exit 143' TERM; while :; do sleep 0.1; done"];

let real: Fleet;
let hollow: HollowFleet;

beforeAll(async () => {
  // Both in parallel; either failing fails the file.
  [real, hollow] = await Promise.all([
    startFleet([{ name: NODE, labels: LABELS, devices: [DEVICE] }]),
    startHollowFleet({
      count: 1,
      dir: mkdtempSync('/tmp/hc-'),
      name: () => NODE,
      labels: () => LABELS,
      devices: () => [DEVICE],
      dies: [{ afterMs: 1_000, exitCode: 3, labels: { [LABEL.service]: 'crash' } }],
    }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([real?.stop(), hollow?.stop()]);
  rmSync(dirname(DEVICE), { recursive: true, force: true });
});

interface Target {
  kind: 'real' | 'hollow';
  socket: string;
  manifest: FogNode;
  /** The container's process dies by itself (not through the API, which dockerd counts as a manual stop). */
  crash(id: string): Promise<void>;
}

/** SIGKILL to the container's main process from the host. */
async function crashReal(socket: string, id: string): Promise<void> {
  const c = await new Docker({ socketPath: socket }).getContainer(id).inspect();
  process.kill(c.State.Pid, 'SIGKILL');
}

function nodeManifest(socket: string): FogNode {
  return {
    kind: 'Node',
    metadata: { name: NODE, labels: {}, annotations: {} },
    spec: { endpoint: `unix://${socket}`, insecure: false, address: '127.0.0.1', devices: [DEVICE], capacity: {}, unschedulable: false },
    source: { file: 'conformance', line: 1, col: 1 },
  };
}

/** Ids and times differ between engines; what they mean must not. */
function normalObserved(o: ObservedNode, ids: Map<string, string>) {
  return o.containers.map((c) => ({
    ...c,
    id: ids.has(c.id) ? `<${ids.get(c.id)}>` : 'unknown',
    startedAt: c.startedAt !== undefined,
    finishedAt: c.finishedAt !== undefined,
  }));
}

const ZERO = '0001-01-01T00:00:00Z';
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

function normalInspect(c: Docker.ContainerInspectInfo) {
  const time = (t: string) => (t === ZERO ? 'zero' : TIME.test(t) ? 'time' : `bad:${t}`);
  return {
    Name: c.Name,
    State: {
      Status: c.State.Status,
      Running: c.State.Running,
      Restarting: c.State.Restarting,
      ExitCode: c.State.ExitCode,
      StartedAt: time(c.State.StartedAt),
      FinishedAt: time(c.State.FinishedAt),
      Health: c.State.Health?.Status,
    },
    RestartCount: c.RestartCount,
    Config: { Image: c.Config.Image, Labels: c.Config.Labels, Healthcheck: c.Config.Healthcheck },
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode, NanoCpus: c.HostConfig.NanoCpus, Memory: c.HostConfig.Memory, RestartPolicy: c.HostConfig.RestartPolicy, Devices: c.HostConfig.Devices },
  };
}

async function until<T>(what: string, poll: () => Promise<T | undefined>, ms = 20_000, last: () => unknown = () => undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the scenario on one engine and returns its transcript. */
async function scenario(t: Target) {
  const engine = Engine.forNode(t.manifest, { callTimeoutMs: 10_000 });
  const observer = new NodeObserver(t.manifest, { now: () => Date.now(), callTimeoutMs: 10_000, engine });
  const executor = new Executor(new Map([[NODE, engine]]), { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 10_000, retries: 1, retryDelayMs: 50 });
  const docker = new Docker({ socketPath: t.socket });
  const ids = new Map<string, string>(); // engine id → container name
  const events: Array<{ name: string; action: string; attrs: string[]; exitCode?: string; signal?: string }> = [];
  const transcript: Record<string, unknown> = {};
  const stream: EventStream = engine.watchEvents(
    (e: EngineEvent) => {
      const a = e.Actor?.Attributes ?? {};
      if (e.Type !== 'container' || !a[LABEL.service]) return;
      events.push({ name: a.name ?? '?', action: e.Action ?? '?', attrs: Object.keys(a).sort(), ...(a.exitCode ? { exitCode: a.exitCode } : {}), ...(a.signal ? { signal: a.signal } : {}) });
    },
    () => undefined,
    () => undefined,
  );
  // The same events through the heartbeat's long polls, chained every 500 ms
  // for the whole scenario, each sent ahead behind the one before (pipelined):
  // every boundary between two polls is a chance to lose one (src/docker/engine.ts). Kept by time, id and action: a poll
  // starts a little before the last one's end, so an event may come twice.
  const polled = new Map<string, EngineEvent>();
  engine.followEvents((e) => polled.set(`${e.timeNano}/${e.Actor?.ID}/${e.Action}`, e));
  await engine.info(); // the engine's clock, which `until` is on
  let polling = true;
  let polls = 0;
  const pollErrors: string[] = [];
  const pollLoop = (async () => {
    // Turns every 500 ms, each held until 50 ms before the next, as the heartbeat holds them.
    const PERIOD = 500;
    let turn = Date.now();
    while (polling) {
      const err = await new Promise<Error | undefined>((resolve) => engine.heartbeat(1_000, resolve, Math.max(0, turn + PERIOD - 50 - Date.now()), PERIOD));
      if (err) pollErrors.push(err.message);
      polls++;
      turn += PERIOD;
      await new Promise((r) => setTimeout(r, Math.max(0, turn - Date.now())));
    }
  })();
  try {
    await engine.ping();
    const run = async (step: string, actions: Action[]) => {
      const results = await executor.execute(actions);
      for (const r of results) if (r.containerId && r.action.type === 'create') ids.set(r.containerId, r.action.container.name);
      transcript[`${step}.results`] = results.map((r) => ({
        type: r.action.type,
        ok: r.ok,
        code: r.code,
        retryable: r.retryable,
        message: r.message?.replaceAll(MISSING, '<dev>'),
        id: r.containerId ? (ids.get(r.containerId) ?? 'unknown') : undefined,
      }));
      return results;
    };
    const look = async (step: string, settled: (o: ObservedNode) => boolean = () => true) => {
      let seen: ObservedNode | undefined;
      const o = await until(
        `${t.kind} ${step}`,
        async () => {
          seen = await observer.observe();
          return seen.reachable && settled(seen) ? seen : undefined;
        },
        20_000,
        () => seen?.containers.map((c) => [c.name, c.state, c.exitCode, c.health, c.restartCount]),
      );
      for (const c of o.containers) ids.set(c.id, c.name);
      transcript[`${step}.observed`] = normalObserved(o, ids);
      return o;
    };
    const state = (o: ObservedNode, name: string) => o.containers.find((c) => c.name === name);
    const inspectAll = async (step: string) => {
      const out: Record<string, unknown> = {};
      for (const [id, name] of [...ids].sort((a, b) => a[1].localeCompare(b[1]))) {
        const c = await docker
          .getContainer(id)
          .inspect()
          .catch(() => undefined);
        if (c) out[name] = normalInspect(c);
      }
      transcript[`${step}.inspect`] = out;
    };

    const info = await engine.info();
    const facts = toFacts(info);
    transcript.facts = { labels: facts.labels, os: facts.os, arch: facts.arch, cpuWhole: facts.cpu % 1000 === 0, apiPath: typeof info.SystemTime };

    const a = containerSpec('always', 0, {
      command: SERVE,
      restart: { policy: 'always', maxRetries: 0 },
      resources: { cpu: 100, memory: 64 << 20 },
      network: 'host',
      ports: [{ container: 18080, protocol: 'tcp' }],
    });
    const b = containerSpec('stopped', 0, { command: SERVE });
    const c = containerSpec('killed', 0, { command: SERVE });
    const h = containerSpec('healthy', 0, { command: SERVE, healthcheck: { test: ['CMD', 'true'], interval: 1_000, timeout: 1_000, retries: 3, startPeriod: 0 } });
    const x = containerSpec('crash', 0, { command: ['sh', '-c', 'sleep 1; exit 3'] });
    const d = containerSpec('device', 0, { command: SERVE, devices: [MISSING] });
    const dev = containerSpec('present', 0, { command: ['sh', '-c', `test -c ${DEVICE} || exit 9; ${SERVE[2]}`], devices: [DEVICE] });

    await run('create', [createAction(NODE, a, false)]);
    await look('create', (o) => state(o, a.name)?.state === 'created');
    await inspectAll('create');

    const idOf = (name: string) => [...ids].find(([, n]) => n === name)![0];
    const target = (s: typeof a) => ({ id: idOf(s.name), name: s.name, service: s.labels[LABEL.service]!, slot: 0 });
    await run('start', [startAction(NODE, target(a))]);
    await look('start', (o) => state(o, a.name)?.state === 'running');

    await run('more', [createAction(NODE, b), createAction(NODE, c), createAction(NODE, dev)]);
    await look('more', (o) => [b, c, dev].every((s) => state(o, s.name)?.state === 'running'));

    // The reconcile never stops a container without removing it: a stop comes from outside.
    await docker.getContainer(idOf(b.name)).stop({ t: 5 });
    await look('stop', (o) => state(o, b.name)?.state === 'exited');
    await run('start-other', [startAction(NODE, target(c))]);

    await docker.getContainer(idOf(c.name)).kill();
    await look('kill', (o) => state(o, c.name)?.state === 'exited');

    // A kill through the API is a manual stop for dockerd: the policy does not restart it.
    await docker.getContainer(idOf(a.name)).kill();
    await look('kill-always', (o) => state(o, a.name)?.state === 'exited');
    await new Promise((r) => setTimeout(r, 500));
    await look('kill-always-stays');
    await run('restart', [startAction(NODE, target(a))]);
    await look('restarted', (o) => state(o, a.name)?.state === 'running');
    await t.crash(idOf(a.name));
    await look('restart-policy', (o) => state(o, a.name)?.state === 'running' && state(o, a.name)?.restartCount === 1);

    // Created late, observed only once settled: their timing differs by a few ms between engines.
    await run('late', [createAction(NODE, h), createAction(NODE, x)]);
    await look('health-and-crash', (o) => state(o, h.name)?.health === 'healthy' && state(o, x.name)?.state === 'exited');
    await inspectAll('running');
    const list = async (all: boolean, label: string) =>
      (await docker.listContainers({ all, filters: { label: [label] } }))
        .map((c) => ({ names: c.Names, state: c.State, status: c.Status.replace(/Less than a second|About a minute|\d+ (second|minute)s?/, 'T'), labels: c.Labels }))
        .sort((p, q) => p.names[0]!.localeCompare(q.names[0]!));
    transcript.list = { all: await list(true, `${LABEL.cluster}=test`), running: await list(false, LABEL.service), one: await list(true, `${LABEL.service}=killed`) };

    await run('device', [createAction(NODE, d)]);
    await look('device', (o) => state(o, d.name)?.state === 'created');
    await run('adopt', [createAction(NODE, a)]);

    const everything = [a, b, c, d, h, x, dev];
    await run(
      'remove',
      everything.map((s) => removeAction(NODE, target(s), 5)),
    );
    await look('remove', (o) => o.containers.length === 0);
    await run('remove-again', [removeAction(NODE, target(a), 5)]);
    // The last events (destroy) must be in before the stream closes.
    await until('destroy events', async () => (everything.every((s) => events.some((e) => e.name === s.name && e.action === 'destroy')) ? true : undefined));
    transcript.events = Object.fromEntries(everything.map((s) => [s.name, withoutRacingProbes(events.filter((e) => e.name === s.name))]));
    // One poll more, so the last events are in; then what the polls brought must be what the stream brought.
    const before = polls;
    await until('one more poll', async () => (polls > before + 1 ? true : undefined));
    polling = false;
    await pollLoop;
    // The same events, none lost (as a multiset: two events stamped a moment
    // apart on either side of a poll's end can come in either order).
    const key = (e: { name?: string; action?: string }) => `${e.name} ${e.action}`;
    const fromPolls = [...polled.values()]
      .filter((e) => e.Type === 'container' && e.Actor?.Attributes?.[LABEL.service])
      .map((e) => key({ name: e.Actor?.Attributes?.name, action: e.Action }))
      .sort();
    expect(fromPolls, `${t.kind}: events through ${polls} long polls`).toEqual(events.map(key).sort());
    expect(pollErrors, `${t.kind}: polls that failed`).toEqual([]);
    expect(polls).toBeGreaterThan(3);
    return transcript;
  } finally {
    polling = false;
    await pollLoop;
    stream.close();
    observer.close();
  }
}

/**
 * A healthcheck probe that dockerd happens to run between a stop's `kill` and
 * the container's `die` (or just before the kill) is timing, not behaviour:
 * probe events (exec_*) from a kill until the next start are dropped on both
 * sides before they are compared.
 */
function withoutRacingProbes<E extends { action: string }>(list: readonly E[]): E[] {
  const out: E[] = [];
  let stopping = false;
  for (const e of list) {
    if (e.action === 'kill') stopping = true;
    else if (e.action === 'start') stopping = false;
    if (stopping && e.action.startsWith('exec_')) continue;
    out.push(e);
  }
  // A probe started just before the kill that had not finished: its exec_create stands alone before the kill.
  return out.filter((e, i) => !(e.action.startsWith('exec_create') && out[i + 1]?.action === 'kill'));
}

describe('hollow engine conformance with dockerd', () => {
  let realT: Record<string, unknown>;
  let hollowT: Record<string, unknown>;

  beforeAll(async () => {
    const r = real.node(NODE);
    const h = hollow.nodes[0]!;
    [realT, hollowT] = await Promise.all([
      scenario({ kind: 'real', socket: r.socket, manifest: nodeManifest(r.socket), crash: (id) => crashReal(r.socket, id) }),
      scenario({ kind: 'hollow', socket: h.socket, manifest: nodeManifest(h.socket), crash: async (id) => hollow.killContainer(NODE, id) }),
    ]);
  });

  it('reports the same engine facts', () => {
    expect(hollowT.facts).toEqual(realT.facts);
  });

  it('gives the same executor results, step by step', () => {
    const results = (t: Record<string, unknown>) => Object.fromEntries(Object.entries(t).filter(([k]) => k.endsWith('.results')));
    expect(results(hollowT)).toEqual(results(realT));
  });

  it('is observed the same: states, labels, exit codes, restart counts, health, host ports, resources', () => {
    const observed = (t: Record<string, unknown>) => Object.fromEntries(Object.entries(t).filter(([k]) => k.endsWith('.observed')));
    expect(observed(hollowT)).toEqual(observed(realT));
  });

  it('answers inspect with the same fields and time formats', () => {
    expect(hollowT['create.inspect']).toEqual(realT['create.inspect']);
    expect(hollowT['running.inspect']).toEqual(realT['running.inspect']);
  });

  it('lists with the same label filters, states and status texts', () => {
    expect(hollowT.list).toEqual(realT.list);
  });

  it('streams the same container events in the same order, with the same attributes', () => {
    expect(hollowT.events).toEqual(realT.events);
  });
});
