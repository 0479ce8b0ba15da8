// Example-based tests: one small world each, the wanted plan and status.
import { describe, expect, it } from 'vitest';
import type { ObservedContainer, ObservedNode, ReconcileSettings, Service } from '../../src/api/types.js';
import { DEFAULT_SETTINGS, LABEL, NO_HISTORY, type ActionHistory } from '../../src/api/types.js';
import { containerName, reconcile, restartBackoff, specHash } from '../../src/reconcile/index.js';
import { showAction, showStatus } from '../../src/status/doc.js';
import { constraint, desiredState, facts, fogNode, Gi, managed, service, SETTINGS, type NodeOpts, type SpecOpts } from './model.js';

interface N {
  name: string;
  o?: NodeOpts;
  containers?: ObservedContainer[];
  reachable?: boolean;
  since?: number;
  lastSeen?: number;
}

const NOW = 100_000;

/** The plan and status, with the words a reader sees at `now`. */
function run(nodes: N[], services: Service[], now = NOW, settings: ReconcileSettings = SETTINGS, history: ActionHistory = NO_HISTORY) {
  const desired = desiredState(
    nodes.map((n) => fogNode(n.name, n.o)),
    services,
    settings,
  );
  const observed = {
    nodes: nodes.map((n): ObservedNode => ({ name: n.name, reachable: n.reachable ?? true, since: n.since ?? 0, lastSeen: n.lastSeen ?? now, facts: facts(n.o), containers: n.containers ?? [] })),
  };
  const out = reconcile(desired, observed, history, now);
  return { ...out, actions: out.actions.map((a) => showAction(a, now)), status: showStatus(out.status, now) };
}

const brief = (a: { type: string; node: string; service: string; slot: number; reason: string }) => `${a.type} ${a.node} ${a.service}/${a.slot} ${a.reason}`;

describe('placement and naming', () => {
  it('creates replicas with deterministic names and ownership labels', () => {
    const web = service('web', { replicas: 3, resources: { cpu: 500, memory: 1 * Gi } });
    const h = specHash(web);
    const out = run([{ name: 'n1' }, { name: 'n2' }], [web]);
    expect(out.actions.map(brief)).toEqual(['create n1 web/0 Scheduled', 'create n1 web/2 Scheduled', 'create n2 web/1 Scheduled']);
    const a = out.actions[0]!;
    if (a.type !== 'create') throw new Error('expected create');
    expect(a.container.name).toBe(`fab_web-0-${h.slice(0, 8)}`);
    expect(a.container.name).toBe(containerName('fab', 'web', 0, h));
    expect(a.container.labels).toEqual({
      [LABEL.cluster]: 'fab',
      [LABEL.service]: 'web',
      [LABEL.slot]: '0',
      [LABEL.hash]: h,
      [LABEL.node]: 'n1',
      [LABEL.cpu]: '500',
      [LABEL.memory]: String(1 * Gi),
    });
    expect(out.status.services[0]).toMatchObject({ name: 'web', desired: 3, ready: 0, upToDate: 0, specHash: h });
  });

  it('keeps container names in the Docker charset', () => {
    expect(containerName('fab', 'my svc/ü', 2, 'abcdef0123456789')).toBe('fab_my-svc---2-abcdef01');
    expect(containerName('_x', 'a', 0, '00000000')).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
  });

  it('reports an unschedulable replica with counts and per-node reasons', () => {
    const gw = service('plc-gw', { replicas: 2, devices: ['/dev/ttyUSB0'], placement: { constraints: [constraint('node.labels.zone == line1')] } });
    const out = run(
      [
        { name: 'press-1', o: { labels: { zone: 'line1' }, devices: ['/dev/ttyUSB0'] } },
        { name: 'press-2', o: { labels: { zone: 'line2' }, devices: ['/dev/ttyUSB0'] } },
      ],
      [gw],
    );
    expect(out.actions.map(brief)).toEqual(['create press-1 plc-gw/0 Scheduled', 'create press-1 plc-gw/1 Scheduled']);
    const withMax = service('plc-gw', { replicas: 2, devices: ['/dev/ttyUSB0'], placement: { maxPerNode: 1, constraints: [constraint('node.labels.zone == line1')] } });
    const out2 = run(
      [
        { name: 'press-1', o: { labels: { zone: 'line1' }, devices: ['/dev/ttyUSB0'] } },
        { name: 'press-2', o: { labels: { zone: 'line2' }, devices: ['/dev/ttyUSB0'] } },
      ],
      [withMax],
    );
    const st = out2.status.services[0]!;
    expect(st.unschedulable?.slot).toBe(1);
    expect(st.unschedulable?.message).toBe('0/2 nodes eligible: 1 at maxPerNode 1, 1 not matching node.labels.zone == line1');
    expect(st.unschedulable?.perNode).toContainEqual({ node: 'press-2', filter: 'NodeConstraint', message: 'node.labels.zone == line1 (zone is line2)' });
    expect(st.conditions).toContainEqual(expect.objectContaining({ type: 'Unschedulable', status: true, reason: 'Unschedulable' }));
    expect(out2.status.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'Unschedulable', object: 'service/plc-gw', time: NOW }));
  });

  it('runs a global service on every eligible node, and removes it where the node no longer qualifies', () => {
    const agent = service('agent', { mode: 'global', placement: { constraints: [constraint('node.labels.zone != b')] } });
    const h = specHash(agent);
    const out = run(
      [
        { name: 'a', o: { labels: { zone: 'a' } } },
        { name: 'b', o: { labels: { zone: 'b' } }, containers: [managed('agent', 0, h, { id: 'on-b' })] },
        { name: 'c', o: { unschedulable: true } },
      ],
      [agent],
    );
    expect(out.actions.map(brief)).toEqual(['create a agent/0 Scheduled', 'remove b agent/0 Misplaced']);
  });

  it('moves a replicated replica off a node that no longer matches, and counts foreign reservations', () => {
    const web = service('web', { resources: { memory: 1 * Gi }, placement: { constraints: [constraint('node.labels.zone == a')] } });
    const h = specHash(web);
    const foreign: ObservedContainer = { ...managed('x', 0, 'h', { id: 'foreign', resources: { memory: 3.5 * Gi } }), labels: {} };
    const out = run(
      [
        { name: 'n1', o: { labels: { zone: 'b' } }, containers: [managed('web', 0, h, { id: 'w0' })] },
        { name: 'n2', o: { labels: { zone: 'a' } }, containers: [foreign] },
        { name: 'n3', o: { labels: { zone: 'a' } } },
      ],
      [web],
    );
    expect(out.actions.map(brief)).toEqual(['remove n1 web/0 Misplaced', 'create n3 web/0 Rescheduled']);
  });
});

describe('restarts', () => {
  it('restarts the first of a streak at once, then backs off exponentially: min(max, base * 2^(streak-1))', () => {
    const table = [0, 1, 2, 3, 4, 5, 6, 7, 10].map((n) => restartBackoff(n, DEFAULT_SETTINGS));
    expect(table).toEqual([0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  const web = service('web', { healthcheck: undefined });
  const h = specHash(web);
  // Ran 0.5 s before it stopped: not stable, so its restarts count.
  const exited = (o: Partial<ObservedContainer>) => managed('web', 0, h, { id: 'c1', state: 'exited', exitCode: 1, startedAt: 500, finishedAt: 1_000, ...o });

  it.each([
    { restarts: 0, now: 1_000, action: true },
    { restarts: 1, now: 1_999, action: false, msg: 'back-off 1s restarting failed container' },
    { restarts: 1, now: 2_000, action: true },
    { restarts: 3, now: 4_999, action: false, msg: 'back-off 4s restarting failed container' },
    { restarts: 3, now: 5_000, action: true },
    { restarts: 9, now: 60_999, action: false, msg: 'back-off 1m restarting failed container' },
    { restarts: 9, now: 61_000, action: true },
  ])('exited after $restarts restarts, at $now: start=$action', ({ restarts, now, action, msg }) => {
    const out = run([{ name: 'n1', containers: [exited({ restartCount: restarts })] }], [web], now, { ...SETTINGS, restartBackoffBase: 1000, restartBackoffMax: 60_000, crashLoopRestarts: 100 });
    expect(out.actions.map(brief)).toEqual(action ? ['start n1 web/0 Restart'] : []);
    if (msg !== undefined) {
      expect(out.status.services[0]!.replicas[0]!.message).toContain(msg);
      expect(out.requeueAt).toBeGreaterThan(now);
    }
  });

  it('starts a container stopped from outside at once when it had run stably, and backs off when it keeps happening', () => {
    const settings = { ...SETTINGS, restartBackoffBase: 1000, restartBackoffMax: 60_000, stableRunMs: 10_000 };
    // `docker kill` after an hour of running: Docker counts no restart; the controller starts it at once.
    const killed = exited({ startedAt: NOW - 3_600_000, finishedAt: NOW - 10 });
    expect(run([{ name: 'n1', containers: [killed] }], [web], NOW, settings).actions.map(brief)).toEqual(['start n1 web/0 Restart']);
    // Killed again 2 s after the controller's own start: the history holds one restart by the controller, so 1 s back-off.
    const history = new Map([['web/0', { service: 'web', slot: 0, restarts: { containerId: 'c1', count: 1, time: NOW - 2_000 } }]]);
    const again = exited({ startedAt: NOW - 2_000, finishedAt: NOW - 10 });
    const early = run([{ name: 'n1', containers: [again] }], [web], NOW, settings, history);
    expect(early.actions).toEqual([]);
    expect(early.requeueAt).toBe(NOW - 10 + 1_000);
    expect(early.status.services[0]!.replicas[0]!.message).toMatch(/^back-off 1s restarting failed container .* \(next try in 0\.99s|in 1\.0s\)$/);
    expect(run([{ name: 'n1', containers: [again] }], [web], NOW + 990, settings, history).actions.map(brief)).toEqual(['start n1 web/0 Restart']);
  });

  it('starts at once a container that died before its node came back: a flapping node is not a crash loop', () => {
    // Killed five times by its node going down; the node is back since 99 s, the container stopped at 98 s.
    const out = run([{ name: 'n1', since: 99_000, containers: [exited({ restartCount: 5, startedAt: 97_000, finishedAt: 98_000 })] }], [web]);
    expect(out.actions.map(brief)).toEqual(['start n1 web/0 Restart']);
    expect(out.status.services[0]!.conditions.map((c) => c.type)).not.toContain('CrashLoop');
  });

  it('flags a crash loop', () => {
    const out = run([{ name: 'n1', containers: [exited({ restartCount: 3, startedAt: NOW - 500, finishedAt: NOW })] }], [web]);
    expect(out.status.services[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'CrashLoop', status: true, reason: 'CrashLoopBackOff' }));
  });

  it.each([
    { policy: 'never' as const, exitCode: 0, state: 'completed', cond: 'Completed' },
    { policy: 'never' as const, exitCode: 2, state: 'failed', cond: 'Failed' },
    { policy: 'on-failure' as const, exitCode: 0, state: 'completed', cond: 'Completed' },
    { policy: 'on-failure' as const, exitCode: 1, restarts: 5, state: 'failed', cond: 'Failed' },
  ])('restart $policy, exit $exitCode → $state, no action', ({ policy, exitCode, restarts, state, cond }) => {
    const svc = service('job', { restart: { policy, maxRetries: 5 } });
    const c = managed('job', 0, specHash(svc), { state: 'exited', exitCode, restartCount: restarts ?? 0, finishedAt: 0 });
    const out = run([{ name: 'n1', containers: [c] }], [svc], NOW, { ...SETTINGS, crashLoopRestarts: 100 });
    expect(out.actions).toEqual([]);
    const st = out.status.services[0]!;
    expect(st.replicas[0]).toMatchObject({ state, ready: false });
    expect(st.ready).toBe(0);
    expect(st.conditions.map((x) => x.type)).toContain(cond);
  });

  it('starts a created container, waits on a restarting one, recreates a dead one', () => {
    const svc = service('web', { replicas: 3 });
    const h2 = specHash(svc);
    const out = run(
      [{ name: 'n1', containers: [managed('web', 0, h2, { id: 'a', state: 'created' }), managed('web', 1, h2, { id: 'b', state: 'restarting' }), managed('web', 2, h2, { id: 'c', state: 'dead' })] }],
      [svc],
    );
    expect(out.actions.map(brief)).toEqual(['start n1 web/0 Start', 'remove n1 web/2 Dead', 'create n1 web/2 Recreate']);
  });

  it('replaces a container the engine cannot start again (state left over from its restart), and only that one', () => {
    const svc = service('web', { replicas: 2 });
    const h = specHash(svc);
    const exited = { state: 'exited' as const, exitCode: 137, finishedAt: NOW - 5_000 };
    const failed = (id: string, code: 'container-stale' | 'engine-error') => ({
      service: 'web',
      slot: id === 'a' ? 0 : 1,
      failures: [{ type: 'start' as const, node: 'n1', specHash: h, containerId: id, attempts: 1, time: NOW - 4_000, code, message: `task ${id}: already exists`, retryable: true }],
    });
    const history = new Map([
      ['web/0', failed('a', 'container-stale')],
      ['web/1', failed('b', 'engine-error')],
    ]);
    const out = run([{ name: 'n1', containers: [managed('web', 0, h, { id: 'a', ...exited }), managed('web', 1, h, { id: 'b', ...exited })] }], [svc], NOW, SETTINGS, history);
    // web/1's start failed for another reason: it is only retried after its back-off (1 s, long past).
    expect(out.actions.map(brief)).toEqual(['remove n1 web/0 Unstartable', 'create n1 web/0 Recreate', 'start n1 web/1 Restart']);
    expect(out.status.events.find((e) => e.reason === 'Unstartable')).toMatchObject({ type: 'Warning', note: { code: 'Unstartable', message: 'task a: already exists' } });
  });

  it('lets a container being removed hold its slot, with no action', () => {
    const svc = service('web', { replicas: 1 });
    const out = run([{ name: 'n1', containers: [managed('web', 0, specHash(svc), { state: 'removing' })] }], [svc]);
    expect(out.actions).toEqual([]);
    const orphan = run([{ name: 'n1', containers: [managed('gone', 0, 'h', { state: 'removing' })] }], [svc]);
    expect(orphan.actions.map(brief)).toEqual(['create n1 web/0 Scheduled']);
  });

  it('never acts on an unreachable node', () => {
    const out = run([{ name: 'n1', reachable: false, since: NOW - 1000, containers: [exited({ finishedAt: 0 })] }], [web]);
    expect(out.actions).toEqual([]);
    expect(out.status.nodes[0]!.message).toContain('last seen');
  });
});

describe('dependsOn', () => {
  const broker = service('mqtt-broker', {
    network: 'host',
    ports: [{ container: 1883, protocol: 'tcp' }],
    healthcheck: { test: ['CMD', 'true'], interval: 1000, timeout: 1000, retries: 3, startPeriod: 0 },
    replicas: 2,
  });
  const app = service('line-app', { dependsOn: ['mqtt-broker'] });
  const bh = specHash(broker);
  const nodes = (health: 'starting' | 'healthy'): N[] => [
    { name: 'n1', o: { address: '10.0.0.5' }, containers: [managed('mqtt-broker', 0, bh, { id: 'b0', health, hostPorts: ['tcp/1883'] })] },
    { name: 'n2', o: { address: '10.0.0.6' }, containers: [managed('mqtt-broker', 1, bh, { id: 'b1', health: 'healthy', hostPorts: ['tcp/1883'] })] },
  ];

  it('waits for a ready replica of each dependency', () => {
    const out = run([{ name: 'n1' }], [broker, app]);
    expect(out.actions.filter((a) => a.service === 'line-app')).toEqual([]);
    const st = out.status.services.find((s) => s.name === 'line-app')!;
    expect(st.conditions).toContainEqual(expect.objectContaining({ type: 'DependencyWait', reason: 'DependencyWait', message: 'waiting for a ready replica of mqtt-broker' }));
  });

  it('passes the endpoint of the lowest-slot ready replica', () => {
    const healthy = run(nodes('healthy'), [broker, app]).actions.find((a) => a.service === 'line-app');
    if (healthy?.type !== 'create') throw new Error('expected a create');
    expect(healthy.container.env).toEqual(
      expect.arrayContaining([
        { name: 'MQTT_BROKER_HOST', value: '10.0.0.5', secret: false },
        { name: 'MQTT_BROKER_PORT', value: '1883', secret: false },
      ]),
    );
    // Slot 0 not healthy yet: slot 1's node.
    const starting = run(nodes('starting'), [broker, app]).actions.find((a) => a.service === 'line-app');
    if (starting?.type !== 'create') throw new Error('expected a create');
    expect(starting.container.env).toContainEqual({ name: 'MQTT_BROKER_HOST', value: '10.0.0.6', secret: false });
    expect(starting.container.labels[LABEL.hash]).not.toBe(healthy.container.labels[LABEL.hash]);
  });

  it('hands out no port that nobody answers on: a bridge port without a host port, or network none', () => {
    for (const b of [service('db', { ports: [{ container: 5432, protocol: 'tcp' }] }), service('db', { network: 'none', ports: [{ container: 5432, host: 15432, protocol: 'tcp' }] })]) {
      const a = service('api', { dependsOn: ['db'] });
      const out = run([{ name: 'n1', o: { address: '10.1.1.1' }, containers: [managed('db', 0, specHash(b))] }], [b, a]);
      const c = out.actions.find((x) => x.service === 'api');
      if (c?.type !== 'create') throw new Error('expected a create');
      expect(c.container.env.map((e) => e.name)).toEqual(['DB_HOST']);
    }
  });

  it('points dependents at the copy a returned node will keep, not the one about to go', () => {
    // Slot 0 runs twice: the original on n1 (back since 99 s) and its replacement on n2 (reachable all along).
    const b = service('db', { network: 'host', ports: [{ container: 5432, protocol: 'tcp' }] });
    const a = service('api', { dependsOn: ['db'] });
    const h = specHash(b);
    const world: N[] = [
      { name: 'n1', o: { address: '10.0.0.1' }, since: 99_000, containers: [managed('db', 0, h, { id: 'orig', hostPorts: ['tcp/5432'] })] },
      { name: 'n2', o: { address: '10.0.0.2' }, containers: [managed('db', 0, h, { id: 'repl', hostPorts: ['tcp/5432'] })] },
    ];
    const out = run(world, [b, a]);
    expect(out.actions.filter((x) => x.service === 'db').map(brief)).toEqual(['remove n1 db/0 NodeReturned']);
    const c = out.actions.find((x) => x.service === 'api');
    if (c?.type !== 'create') throw new Error('expected a create');
    expect(c.container.env).toContainEqual({ name: 'DB_HOST', value: '10.0.0.2', secret: false });
  });

  it('uses the mapped host port on bridge networks', () => {
    const b = service('db', { ports: [{ container: 5432, host: 15432, protocol: 'tcp' }] });
    const a = service('api', { dependsOn: ['db'] });
    const out = run([{ name: 'n1', o: { address: '10.1.1.1' }, containers: [managed('db', 0, specHash(b))] }], [b, a]);
    const c = out.actions.find((x) => x.service === 'api');
    if (c?.type !== 'create') throw new Error('expected a create');
    expect(c.container.env).toContainEqual({ name: 'DB_PORT', value: '15432', secret: false });
  });

  it('reports a cycle and creates nothing for it', () => {
    const a = service('a', { dependsOn: ['b'] });
    const b = service('b', { dependsOn: ['a'] });
    const out = run([{ name: 'n1' }], [a, b]);
    expect(out.actions).toEqual([]);
    const cycle = (name: string) => out.status.services.find((s) => s.name === name)!.conditions.find((c) => c.type === 'DependencyCycle');
    expect(cycle('a')).toMatchObject({ status: true, reason: 'DependencyCycle', message: 'dependency cycle: a → b → a' });
    expect(cycle('b')).toMatchObject({ status: true, reason: 'DependencyCycle', message: 'dependency cycle: b → a → b' });
  });
});

describe('scale down, orphans, duplicates, foreign containers', () => {
  it('removes the highest slots, orphans, and a duplicate; leaves foreign containers alone', () => {
    const web = service('web', { replicas: 1, stopGracePeriod: 30 });
    const h = specHash(web);
    const other: ObservedContainer = { ...managed('web', 5, h, { id: 'other-cluster' }, 'other') };
    const unlabelled: ObservedContainer = { ...managed('web', 0, h, { id: 'unlabelled' }), labels: {} };
    const out = run(
      [
        {
          name: 'n1',
          containers: [
            managed('web', 0, h, { id: 'w0', startedAt: 10 }),
            managed('web', 0, h, { id: 'w0-dup', startedAt: 20, name: 'fab-web-0-dup' }),
            managed('web', 1, h, { id: 'w1' }),
            managed('web', 2, h, { id: 'w2' }),
            managed('gone', 0, 'x', { id: 'g0' }),
            other,
            unlabelled,
          ],
        },
      ],
      [web],
    );
    expect(out.actions.map((a) => `${brief(a)} ${a.type === 'start' || a.type === 'remove' ? a.containerId : ''}`)).toEqual([
      'remove n1 gone/0 Orphaned g0',
      'remove n1 web/0 Duplicate w0',
      'remove n1 web/1 ScaleDown w1',
      'remove n1 web/2 ScaleDown w2',
    ]);
    const scale = out.actions.find((a) => a.reason === 'ScaleDown');
    expect(scale?.type === 'remove' && scale.stopTimeout).toBe(30);
  });
});

describe('rollouts', () => {
  const v1 = (o: SpecOpts = {}) => service('web', { replicas: 3, ...o });
  const v2 = (o: SpecOpts = {}) => service('web', { replicas: 3, image: 'registry.local/app:2', ...o });
  const olds = (o: SpecOpts = {}) => [0, 1, 2].map((s) => managed('web', s, specHash(v1(o)), { id: `old${s}`, startedAt: 50_000 }));

  it('stop-first: replaces parallelism replicas, then waits for them to be ready', () => {
    const o = { update: { parallelism: 1, order: 'stop-first' as const } };
    const out = run([{ name: 'n1', containers: olds(o) }], [v2(o)]);
    expect(out.actions.map(brief)).toEqual(['remove n1 web/0 RollingUpdate', 'create n1 web/0 RollingUpdate']);
    // Next pass: slot 0's new replica is starting (not ready): nothing more.
    const h2 = specHash(v2(o));
    const starting = [managed('web', 0, h2, { id: 'new0', state: 'created' }), ...olds(o).slice(1)];
    expect(run([{ name: 'n1', containers: starting }], [v2(o)]).actions.map(brief)).toEqual(['start n1 web/0 Start']);
  });

  it('start-first: starts the new replica beside the old one', () => {
    const o = { update: { parallelism: 2, order: 'start-first' as const } };
    const out = run([{ name: 'n1', containers: olds(o) }], [v2(o)]);
    expect(out.actions.map(brief)).toEqual(['create n1 web/0 RollingUpdate', 'create n1 web/1 RollingUpdate']);
    const h2 = specHash(v2(o));
    const next = [...olds(o), managed('web', 0, h2, { id: 'new0', startedAt: 99_000 }), managed('web', 1, h2, { id: 'new1', state: 'created' })];
    expect(run([{ name: 'n1', containers: next }], [v2(o)]).actions.map(brief)).toEqual(['remove n1 web/0 RollingUpdate', 'start n1 web/1 Start', 'create n1 web/2 RollingUpdate']);
  });

  it('honours update.delay from the newest up-to-date replica', () => {
    const o = { update: { parallelism: 1, order: 'stop-first' as const, delay: 10_000 } };
    const h2 = specHash(v2(o));
    const world = [managed('web', 0, h2, { id: 'new0', startedAt: 95_000 }), ...olds(o).slice(1)];
    const early = run([{ name: 'n1', containers: world }], [v2(o)]);
    expect(early.actions).toEqual([]);
    expect(early.requeueAt).toBe(105_000);
    expect(early.status.services[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'Progressing', reason: 'RolloutDelay' }));
    expect(run([{ name: 'n1', containers: world }], [v2(o)], 105_000).actions.map(brief)).toEqual(['remove n1 web/1 RollingUpdate', 'create n1 web/1 RollingUpdate']);
  });

  it('does not roll for replicas, placement or update changes', () => {
    const base = v1();
    expect(specHash(service('web', { replicas: 7, placement: { maxPerNode: 2 }, update: { parallelism: 3 } }))).toBe(specHash(base));
    expect(specHash(v2())).not.toBe(specHash(base));
    expect(specHash(service('web', { env: [{ name: 'A', value: '1', secret: false }] }))).not.toBe(specHash(base));
    expect(specHash(base, [{ name: 'X_HOST', value: '10.0.0.1', secret: false }])).not.toBe(specHash(base));
    expect(specHash(base)).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('node loss and return', () => {
  const web = (onNodeReturn: 'keep-replacement' | 'keep-original') => service('web', { replicas: 1, placement: { onNodeReturn } });
  const h = specHash(web('keep-replacement'));

  it('keeps the replica within the grace period, re-places after it', () => {
    const lost = { name: 'n1', reachable: false, since: NOW - 5_000, lastSeen: NOW - 5_500, containers: [managed('web', 0, h, { id: 'orig' })] };
    const within = run([lost, { name: 'n2' }], [web('keep-replacement')]);
    expect(within.actions).toEqual([]);
    expect(within.status.services[0]!.replicas[0]!.message).toBe('node n1 unreachable since 5.0s ago (last seen 5.5s ago): counted, not ready; re-placed now');
    expect(within.requeueAt).toBe(NOW + 1);
    const after = run([{ ...lost, since: NOW - 5_001 }, { name: 'n2' }], [web('keep-replacement')]);
    expect(after.actions.map(brief)).toEqual(['create n2 web/0 NodeLost']);
    expect(after.actions[0]!.message).toMatch(/^slot 0: node n1 unreachable beyond the grace period \(last seen 5\.5s ago\), re-placing: fab_web-0-[0-9a-f]{8} on n2$/);
    expect(after.status.services[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'Progressing', status: true, reason: 'NodeLost' }));
  });

  it.each([
    ['keep-replacement', 'orig'],
    ['keep-original', 'repl'],
  ] as const)('on return, %s removes %s', (policy, removed) => {
    const out = run(
      [
        { name: 'n1', since: NOW - 100, containers: [managed('web', 0, h, { id: 'orig', startedAt: 10 })] },
        { name: 'n2', since: 0, containers: [managed('web', 0, h, { id: 'repl', startedAt: 50_000 })] },
      ],
      [web(policy)],
    );
    expect(out.actions.map((a) => `${brief(a)} ${a.type === 'remove' ? a.containerId : ''}`)).toEqual([`remove ${removed === 'orig' ? 'n1' : 'n2'} web/0 NodeReturned ${removed}`]);
  });
});

describe('status', () => {
  it('reports nodes: capacity (manifest overrides), reserved (foreign included), replicas, merged labels', () => {
    const web = service('web', { replicas: 1 });
    const foreign: ObservedContainer = { ...managed('x', 0, 'h', { id: 'f', resources: { cpu: 250, memory: 1 * Gi } }), labels: {} };
    const out = run(
      [
        {
          name: 'n1',
          o: { capacity: { cpu: 3000 }, labels: { zone: 'a' }, engineLabels: { vendor: 'acme', zone: 'z' } },
          containers: [foreign, managed('web', 0, specHash(web), { resources: { cpu: 500 } })],
        },
        { name: 'n2', reachable: false, since: NOW - 1000, lastSeen: NOW - 1500 },
      ],
      [web],
    );
    const [n1, n2] = out.status.nodes;
    expect(n1).toMatchObject({ name: 'n1', reachable: true, capacity: { cpu: 3000, memory: 4 * Gi }, reserved: { cpu: 750, memory: 1 * Gi }, replicas: 1, labels: { zone: 'a', vendor: 'acme' } });
    expect(n2!.message).toBe('unreachable since 1.0s ago (last seen 1.5s ago): replicas kept, re-placed in 4.0s');
    expect(out.status.events).toContainEqual(expect.objectContaining({ time: NOW, type: 'Warning', reason: 'NodeUnreachable', object: 'node/n2', message: n2!.message }));
  });

  it('sums actions into one event per service and reason', () => {
    const out = run([{ name: 'n1' }], [service('web', { replicas: 3 })]);
    expect(out.status.events).toEqual([
      expect.objectContaining({
        time: NOW,
        type: 'Normal',
        reason: 'Scheduled',
        object: 'service/web',
        more: 2,
        message: expect.stringMatching(/^slot 0: fab_web-0-[0-9a-f]{8} on n1 \(and 2 more\)$/),
      }),
    ]);
    const st = out.status.services[0]!;
    // Placing new replicas is progress, not a rolling update.
    expect(st.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Available=false:ReplicasNotReady', 'Progressing=true:ReplicasPending']);
  });

  it('is Available and not Progressing once converged', () => {
    const web = service('web', { replicas: 2 });
    const h = specHash(web);
    const out = run([{ name: 'n1', containers: [managed('web', 0, h, { id: 'a' }), managed('web', 1, h, { id: 'b' })] }], [web]);
    expect(out.actions).toEqual([]);
    expect(out.status.services[0]).toMatchObject({ desired: 2, ready: 2, upToDate: 2, available: 2 });
    expect(out.status.services[0]!.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Available=true:ReplicasReady', 'Progressing=false:RolloutComplete']);
    expect(out.requeueAt).toBeUndefined();
  });
});
