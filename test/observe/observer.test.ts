// NodeObserver against two real Docker engines (hack/fleet.sh): facts,
// managed and foreign containers, events, and engines that stop or hang.

import { mkdtempSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL, type ObservedContainer } from '../../src/api/types.js';
import { Executor } from '../../src/apply/executor.js';
import { Engine, EngineError } from '../../src/docker/engine.js';
import { NodeObserver } from '../../src/observe/observer.js';
import { createEngineFleet } from '../../src/controller/engine-fleet.js';
import pino from 'pino';
import { containerSpec, createAction, startAction, TEST_CLUSTER } from '../support/actions.js';
import { startFleet, TEST_IMAGE, type Fleet } from '../support/fleet.js';

const CALL_TIMEOUT = 1_000;
const dir = mkdtempSync('/tmp/fog-');
const DEVICE = `${dir}/dev/ttyUSB0`;

/** A controller clock the test moves by hand. */
let clock = 1_000_000;
const now = () => clock;

let fleet: Fleet;
const engines = new Map<string, Engine>();
const observers: NodeObserver[] = [];

function observer(node: string): NodeObserver {
  const manifest = fleet.manifest(node);
  const engine = engines.get(node) ?? Engine.forNode(manifest, { callTimeoutMs: CALL_TIMEOUT });
  engines.set(node, engine);
  const o = new NodeObserver(manifest, { now, callTimeoutMs: CALL_TIMEOUT, engine, events: { backoffBaseMs: 100, backoffMaxMs: 500, stallMs: 500 } });
  observers.push(o);
  return o;
}

/** Direct Docker access for what the system under test must not do itself. */
const raw = (node: string) => new Docker({ socketPath: fleet.node(node).socket });

function find(cs: readonly ObservedContainer[], name: string): ObservedContainer {
  const c = cs.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name} in ${cs.map((x) => x.name).join(', ')}`);
  return c;
}

function waitFor<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

beforeAll(async () => {
  fleet = await startFleet(
    [
      { name: 'a', labels: { zone: 'hall-1', role: 'edge' }, devices: [DEVICE] },
      { name: 'b', labels: { zone: 'hall-2' } },
    ],
    { dir },
  );
});

afterAll(async () => {
  for (const o of observers) o.close();
  await fleet?.stop();
});

describe('NodeObserver', () => {
  it('reads facts, engine labels and images', async () => {
    const o = observer('a');
    const got = await o.observe();
    expect(got.reachable).toBe(true);
    expect(got.since).toBe(1_000_000); // the observer's creation time
    expect(got.lastSeen).toBe(clock);
    expect(got.facts?.labels).toEqual({ 'fog.node': 'a', zone: 'hall-1', role: 'edge' });
    expect(got.facts?.arch).toMatch(/^(amd64|arm64|arm|386|ppc64le|s390x|riscv64)$/);
    expect(got.facts?.os).toBe('linux');
    expect(got.facts?.cpu).toBeGreaterThanOrEqual(1000);
    expect((got.facts?.cpu ?? 1) % 1000).toBe(0);
    expect(got.facts?.memory).toBeGreaterThan(0);
    expect(got.facts?.version).toMatch(/^\d+\./);
    expect(got.images?.flatMap((i) => i.repoTags)).toContain(TEST_IMAGE);
    const img = got.images!.find((i) => i.repoTags.includes(TEST_IMAGE))!;
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.size).toBeGreaterThan(0);
    expect(got.containers).toEqual([]);
  });

  it('sees an image tagged on the engine through its event, and keeps the same image list while nothing changed', async () => {
    const o = observer('b');
    let changed = 0;
    o.watch(() => changed++);
    const first = await o.observe();
    clock += 10;
    expect((await o.observe()).images).toBe(first.images);
    const seen = changed;
    await raw('b').getImage(TEST_IMAGE).tag({ repo: 'fog/observed', tag: 'v2' });
    await waitFor('the tag event', 5_000, () => (changed > seen ? true : undefined));
    const after = await o.observe();
    expect(after.images).not.toBe(first.images);
    expect(after.images?.flatMap((i) => i.repoTags)).toContain('fog/observed:v2');
    await raw('b').getImage('fog/observed:v2').remove();
    o.close();
  });

  it('shows a created replica running with its fields, and an event plus exit code after a kill', async () => {
    const o = observer('a');
    const changes: string[] = [];
    o.watch((n) => changes.push(n));
    const spec = containerSpec('plc-bridge', 0, {
      env: [{ name: 'MODE', value: 'poll', secret: false }],
      resources: { cpu: 250, memory: 32 << 20 },
      devices: [DEVICE],
      command: ['sh', '-c', `test -c ${DEVICE} && exec sleep 1000`],
    });
    const executor = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 5_000, retries: 1 });
    const [res] = await executor.execute([createAction('a', spec)]);
    expect(res).toMatchObject({ ok: true });

    clock += 10_000;
    const got = await o.observe();
    const c = find(got.containers, spec.name);
    expect(c).toMatchObject({
      id: res?.containerId,
      state: 'running',
      image: TEST_IMAGE,
      health: 'none',
      restartCount: 0,
      resources: { cpu: 250, memory: 32 << 20 },
      hostPorts: [],
    });
    expect(c.labels[LABEL.service]).toBe('plc-bridge');
    // started a moment ago on the engine's clock → a moment before `clock` on ours
    expect(c.startedAt).toBeGreaterThan(clock - 10_000);
    expect(c.startedAt).toBeLessThanOrEqual(clock + 50);
    expect(c.finishedAt).toBeUndefined();
    expect(c.exitCode).toBeUndefined();

    await waitFor('the event stream to connect', 5_000, () => (changes.length > 0 ? true : undefined));
    changes.length = 0;
    await raw('a').getContainer(c.id).kill();
    await waitFor('a die event', 5_000, () => (changes.includes('a') ? true : undefined));
    clock += 1_000; // the test's clock stands still unless moved
    const after = find((await o.observe()).containers, spec.name);
    expect(after.state).toBe('exited');
    expect(after.exitCode).toBe(137);
    expect(after.finishedAt).toBeGreaterThan(c.startedAt ?? 0);
    expect(after.finishedAt).toBeLessThanOrEqual(clock);
    o.close();
  });

  // Two exits in a row list alike (`Exited (137)`); without events to name it,
  // only the controller's own start says that what it knew is out of date.
  it('reads a container the controller started again afresh, though the next list shows the same exit as before', async () => {
    const fleet2 = createEngineFleet({ clock: { now, wall: () => Date.now() }, logger: pino({ level: 'silent' }), callTimeoutMs: 5_000, cluster: TEST_CLUSTER, watchEvents: false });
    fleet2.sync([fleet.manifest('b')]);
    try {
      const spec = containerSpec('ticker', 0);
      const [made] = await fleet2.execute([createAction('b', spec)]);
      const id = made!.containerId!;
      const mine = async () => find((await fleet2.observe()).nodes.find((n) => n.name === 'b')!.containers, spec.name);
      expect((await mine()).state).toBe('running');
      await raw('b').getContainer(id).kill();
      clock += 1_000;
      const first = await mine();
      expect(first.state).toBe('exited');
      const [started] = await fleet2.execute([startAction('b', { id, name: spec.name, service: 'ticker' })]);
      expect(started).toMatchObject({ ok: true });
      await raw('b').getContainer(id).kill();
      clock += 1_000;
      const second = await mine();
      expect(second.state).toBe('exited');
      // This run's times, not the first run's: it ran a moment, after the first exit.
      expect(second.startedAt).toBeGreaterThanOrEqual(first.finishedAt!);
      expect(second.finishedAt).toBeGreaterThan(first.finishedAt!);
    } finally {
      await fleet2.close();
      await raw('b')
        .getContainer('fog-test-ticker-0')
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  it('shows a container made by someone else as foreign, with its reservations, and the executor leaves it alone', async () => {
    const docker = raw('b');
    const foreign = await docker.createContainer({
      name: 'historian',
      Image: TEST_IMAGE,
      Cmd: ['sleep', '1000'],
      HostConfig: { NetworkMode: 'none', NanoCpus: 500e6, Memory: 16 << 20 },
    });
    await foreign.start();
    const o = observer('b');
    const c = find((await o.observe()).containers, 'historian');
    expect(c.labels[LABEL.service]).toBeUndefined();
    expect(c).toMatchObject({ id: foreign.id, state: 'running', resources: { cpu: 500, memory: 16 << 20 } });

    const executor = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 5_000, retries: 0 });
    const spec = containerSpec('other', 0);
    const results = await executor.execute([createAction('b', spec)]);
    expect(results.every((r) => r.ok)).toBe(true);
    const later = await o.observe();
    expect(find(later.containers, 'historian')).toMatchObject({ id: foreign.id, state: 'running' });
    expect(later.containers.map((x) => x.name)).toEqual(['fog-test-other-0', 'historian']);
  });

  it('reads health from the engine healthcheck', async () => {
    const o = observer('b');
    const executor = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 5_000, retries: 0 });
    const spec = containerSpec('probe', 0, { healthcheck: { test: ['CMD', 'true'], interval: 100, timeout: 1_000, retries: 1, startPeriod: 0 } });
    const [res] = await executor.execute([createAction('b', spec)]);
    expect(res).toMatchObject({ ok: true });
    let health = find((await o.observe()).containers, spec.name).health;
    expect(['starting', 'healthy']).toContain(health);
    const deadline = Date.now() + 5_000;
    while (health !== 'healthy' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      health = find((await o.observe()).containers, spec.name).health;
    }
    expect(health).toBe('healthy');
  });

  it('marks a stopped engine unreachable within the timeout, keeps what it knew, and sees it return', async () => {
    const o = observer('b');
    const before = await o.observe();
    expect(before.reachable).toBe(true);
    await fleet.stopNode('b');
    clock += 5_000;
    const t = Date.now();
    const down = await o.observe();
    expect(Date.now() - t).toBeLessThan(CALL_TIMEOUT + 500);
    expect(down.reachable).toBe(false);
    expect(down.since).toBe(clock);
    expect(down.error).toBeTruthy();
    expect(down.lastSeen).toBe(before.lastSeen);
    expect(down.facts).toEqual(before.facts);
    expect(down.containers).toEqual(before.containers);

    await fleet.startNode('b');
    clock += 5_000;
    const back = await o.observe();
    expect(back).toMatchObject({ reachable: true, since: clock, lastSeen: clock });
    expect(back.error).toBeUndefined();
  });

  it('never hangs on a frozen (SIGSTOPped) engine: observe and the event stream report it unreachable', async () => {
    const o = observer('a');
    const lost: string[] = [];
    o.watch((n) => lost.push(n));
    expect((await o.observe()).reachable).toBe(true);
    await waitFor('the event stream to connect', 5_000, () => (lost.length > 0 ? true : undefined));
    lost.length = 0;
    await fleet.freezeNode('a');
    try {
      const t = Date.now();
      const got = await o.observe();
      expect(Date.now() - t).toBeLessThan(CALL_TIMEOUT + 500);
      expect(got.reachable).toBe(false);
      expect(got.error).toMatch(/no answer within/);
      // the stall detector notices on its own, without an observe
      const watcherOnly = observer('a');
      watcherOnly.watch((n) => lost.push(n));
      await waitFor('the stalled stream to be reported', 5_000, () => (watcherOnly.last.error ? true : undefined));
      expect(watcherOnly.last.reachable).toBe(false);
      expect(lost).toContain('a');
    } finally {
      await fleet.thawNode('a');
    }
    expect((await o.observe()).reachable).toBe(true);
  });

  it('refuses plain tcp without TLS, and reports it as observed state', async () => {
    const manifest = fleet.manifest('a', { endpoint: 'tcp://127.0.0.1:2375' });
    expect(() => Engine.forNode(manifest, { callTimeoutMs: CALL_TIMEOUT })).toThrow(EngineError);
    expect(() => Engine.forNode(manifest, { callTimeoutMs: CALL_TIMEOUT })).toThrow(/refusing plain tcp/);
    const o = new NodeObserver(manifest, { now, callTimeoutMs: CALL_TIMEOUT });
    const got = await o.observe();
    expect(got).toMatchObject({ reachable: false, since: clock });
    expect(got.error).toMatch(/no tls/);

    const missingFiles = fleet.manifest('a', { endpoint: 'tcp://127.0.0.1:2376', tls: { ca: `${dir}/no-ca.pem`, cert: `${dir}/no-cert.pem`, key: `${dir}/no-key.pem` } });
    expect(() => Engine.forNode(missingFiles, { callTimeoutMs: CALL_TIMEOUT })).toThrow(/cannot read TLS files/);

    // explicitly insecure is allowed, and a closed port is just unreachable
    const insecure = fleet.manifest('a', { endpoint: 'tcp://127.0.0.1:1', insecure: true });
    const down = await new NodeObserver(insecure, { now, callTimeoutMs: CALL_TIMEOUT }).observe();
    expect(down.reachable).toBe(false);
    expect(down.error).toMatch(/ECONNREFUSED/);
  });
});
