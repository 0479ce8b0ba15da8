// Builders, a small model of the world (engines that carry out actions), and
// fast-check arbitraries for fleets and services. Shared by the reconcile and
// schedule property tests.

import fc from 'fast-check';
import { parseConstraint } from '../../src/api/constraint.js';
import type {
  Action,
  ActionHistory,
  ActionResult,
  Constraint,
  DesiredState,
  EngineFacts,
  FogNode,
  ObservedContainer,
  ObservedNode,
  ObservedState,
  ReconcileSettings,
  Service,
  ServiceSpec,
} from '../../src/api/types.js';
import { DEFAULT_UPDATE, LABEL, NO_HISTORY } from '../../src/api/types.js';
import { recordOutcomes } from '../../src/reconcile/index.js';
import { containerPortKeys } from '../../src/schedule/index.js';
import { fastCheckRuns } from '../support/runs.js';

export const numRuns = fastCheckRuns();
export const Mi = 1024 * 1024;
export const Gi = 1024 * Mi;

export const SETTINGS: ReconcileSettings = {
  cluster: 'fab',
  nodeGracePeriod: 5_000,
  restartBackoffBase: 100,
  restartBackoffMax: 1_000,
  crashLoopRestarts: 3,
  actionBackoffBase: 100,
  actionBackoffMax: 1_000,
  stableRunMs: 10_000,
};
/** One model tick outlasts every wait (grace period, back-off, update delay), so each wait costs at most one pass. */
export const TICK = 5_001;

export function constraint(text: string): Constraint {
  const p = parseConstraint(text);
  if (!p.ok) throw new Error(`bad constraint ${text}: ${p.error}`);
  return p.constraint;
}

export interface NodeOpts {
  /** spec.images.pull */
  pull?: 'if-not-present' | 'never';
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  devices?: string[];
  cpu?: number;
  memory?: number;
  capacity?: { cpu?: number; memory?: number; disk?: number };
  unschedulable?: boolean;
  address?: string;
  arch?: string;
}

export function fogNode(name: string, o: NodeOpts = {}): FogNode {
  return {
    kind: 'Node',
    metadata: { name, labels: o.labels ?? {}, annotations: {} },
    spec: {
      endpoint: `tcp://${name}:2376`,
      insecure: false,
      address: o.address ?? `10.0.0.${name.length}${name.charCodeAt(name.length - 1) % 10}`,
      devices: o.devices ?? [],
      capacity: o.capacity ?? {},
      unschedulable: o.unschedulable ?? false,
      ...(o.pull !== undefined ? { images: { pull: o.pull } } : {}),
    },
    source: { file: 'nodes.yaml', line: 1, col: 1 },
  };
}

export function facts(o: NodeOpts = {}): EngineFacts {
  return { engineName: 'docker', arch: o.arch ?? 'amd64', os: 'linux', cpu: o.cpu ?? 4000, memory: o.memory ?? 4 * Gi, labels: o.engineLabels ?? {} };
}

export type SpecOpts = Partial<Omit<ServiceSpec, 'placement' | 'update' | 'restart'>> & {
  placement?: Partial<ServiceSpec['placement']>;
  update?: Partial<ServiceSpec['update']>;
  restart?: Partial<ServiceSpec['restart']>;
};

export function service(name: string, o: SpecOpts = {}): Service {
  const spec: ServiceSpec = {
    image: 'registry.local/app:1',
    env: [],
    ports: [],
    network: 'bridge',
    volumes: [],
    mode: 'replicated',
    replicas: 1,
    resources: {},
    devices: [],
    dependsOn: [],
    stopGracePeriod: 10,
    ...o,
    placement: { constraints: [], affinity: [], antiAffinity: [], onNodeReturn: 'keep-replacement', ...o.placement },
    restart: { policy: 'always', maxRetries: 5, ...o.restart },
    update: { ...DEFAULT_UPDATE, ...o.update },
  };
  return { kind: 'Service', metadata: { name, labels: {}, annotations: {} }, spec, source: { file: 'svc.yaml', line: 1, col: 1 } };
}

export function desiredState(nodes: FogNode[], services: Service[], settings: ReconcileSettings = SETTINGS): DesiredState {
  return { nodes, services, settings };
}

export function managed(service: string, slot: number | string, hash: string, o: Partial<ObservedContainer> = {}, cluster = SETTINGS.cluster): ObservedContainer {
  return {
    id: o.id ?? `${service}-${slot}-${hash}`,
    name: `${cluster}_${service}-${slot}-${hash.slice(0, 8)}`,
    labels: { [LABEL.cluster]: cluster, [LABEL.service]: service, [LABEL.slot]: String(slot), [LABEL.hash]: hash },
    image: 'registry.local/app:0',
    state: 'running',
    health: 'none',
    restartCount: 0,
    startedAt: 0,
    resources: {},
    hostPorts: [],
    ...o,
  };
}

// ---------------------------------------------------------------------------
// The model world: engines that do what actions say.

export interface ModelNode {
  name: string;
  reachable: boolean;
  since: number;
  lastSeen?: number;
  facts: EngineFacts;
  containers: ObservedContainer[];
  /** What the scheduler may use: the Node's spec.capacity over the engine's figures. */
  capacity?: { cpu: number; memory: number };
  /** Image refs on the engine; absent: not known (a create pulls for itself, as before). */
  images?: string[];
}

export class World {
  now = 1_000_000;
  private seq = 0;
  readonly foreignIds = new Set<string>();
  /** The controller's record of what became of each action, fed back into every reconcile. */
  history: ActionHistory = NO_HISTORY;
  /** Decides whether an action fails (the model's fault injection); undefined: it succeeds. */
  failWith?: (a: Action) => Extract<ActionResult, { ok: false }> | undefined;
  /** Healthchecks that report unhealthy once before they pass (a flapping probe). */
  flakyHealth = false;
  /** A removal failed at some point: what it was to free may still be taken (the plan counted on it). */
  removalFailed = false;
  constructor(
    public desired: DesiredState,
    readonly nodes: Map<string, ModelNode>,
  ) {
    for (const n of nodes.values()) for (const c of n.containers) if (c.labels[LABEL.cluster] !== desired.settings.cluster || !c.labels[LABEL.service]) this.foreignIds.add(c.id);
  }

  observed(): ObservedState {
    return {
      nodes: [...this.nodes.values()].map((n): ObservedNode => ({
        name: n.name,
        reachable: n.reachable,
        since: n.since,
        lastSeen: n.reachable ? this.now : n.lastSeen,
        facts: n.facts,
        containers: n.containers.map((c) => ({ ...c })),
        ...(n.images !== undefined ? { images: n.images.map((ref) => ({ id: `sha256:${ref}`, repoTags: [ref], repoDigests: [], size: 1 })) } : {}),
      })),
    };
  }

  /** Carry out a plan; throws on anything a real engine (or our rules) would refuse. Records every outcome in the history. */
  apply(actions: readonly Action[]): ActionResult[] {
    const results: ActionResult[] = [];
    for (const a of actions) {
      const failed = this.failWith?.(a);
      if (failed !== undefined) {
        if (a.type === 'remove') this.removalFailed = true;
        results.push(failed);
        continue;
      }
      results.push({ action: a, ok: true });
      const n = this.nodes.get(a.node);
      if (n === undefined) throw new Error(`action for unknown node ${a.node}`);
      if (!n.reachable) throw new Error(`action ${a.type} for unreachable node ${a.node}`);
      if (a.type === 'create') {
        if (n.containers.some((c) => c.name === a.container.name)) throw new Error(`name conflict ${a.container.name} on ${a.node}`);
        if (n.images !== undefined && !n.images.includes(a.container.image)) throw new Error(`create of ${a.container.name} on ${a.node} without its image ${a.container.image}`);
        const s = a.container;
        n.containers.push({
          id: `m${++this.seq}`,
          name: s.name,
          labels: s.labels,
          image: s.image,
          state: a.start ? 'running' : 'created',
          health: s.healthcheck ? 'starting' : 'none',
          restartCount: 0,
          startedAt: this.now,
          resources: s.resources,
          hostPorts: containerPortKeys(s.network, s.ports),
        });
        continue;
      }
      if (a.type === 'pull' || a.type === 'copy') {
        if (a.type === 'copy' && !this.nodes.get(a.from)?.images?.includes(a.image)) throw new Error(`copy of ${a.image} from ${a.from}, which does not have it`);
        if (n.images !== undefined && !n.images.includes(a.image)) n.images = [...n.images, a.image];
        continue;
      }
      if (this.foreignIds.has(a.containerId)) throw new Error(`action ${a.type} on foreign container ${a.containerId}`);
      const i = n.containers.findIndex((c) => c.id === a.containerId);
      if (i < 0) throw new Error(`action ${a.type} on missing container ${a.containerId} on ${a.node}`);
      if (a.type === 'remove') n.containers.splice(i, 1);
      else if (a.type === 'start') {
        const c = n.containers[i]!;
        const hc = this.desired.services.find((x) => x.metadata.name === c.labels[LABEL.service])?.spec.healthcheck;
        // Like Docker: a start through the API is not counted in RestartCount (the history counts it).
        n.containers[i] = { ...c, state: 'running', health: hc ? 'starting' : 'none', startedAt: this.now };
      }
    }
    this.history = recordOutcomes(this.history, results, this.now);
    return results;
  }

  /** Time passes: starting healthchecks pass (flaky ones after one unhealthy report). */
  tick(ms = TICK): void {
    this.now += ms;
    for (const n of this.nodes.values()) {
      if (!n.reachable) continue;
      n.containers = n.containers.map((c) => {
        if (c.state !== 'running') return c;
        if (c.health === 'starting') return { ...c, health: this.flakyHealth ? 'unhealthy' : 'healthy' };
        if (c.health === 'unhealthy' && this.flakyHealth) return { ...c, health: 'healthy' };
        return c;
      });
    }
  }

  /** The k-th running managed container (in a fixed order) crashes: exited with code 1 now, after a short run. */
  crash(k: number): void {
    const running = this.containers().filter(({ c }) => c.state === 'running' && !this.foreignIds.has(c.id) && c.labels[LABEL.service] !== undefined);
    if (running.length === 0) return;
    const { node, c } = running[k % running.length]!;
    const i = node.containers.indexOf(c);
    node.containers[i] = { ...c, state: 'exited', exitCode: 1, startedAt: this.now - 100, finishedAt: this.now };
  }

  setReachable(name: string, reachable: boolean): void {
    const n = this.nodes.get(name)!;
    if (n.reachable === reachable) return;
    if (!reachable) n.lastSeen = this.now;
    n.reachable = reachable;
    n.since = this.now;
  }

  containers(): { node: ModelNode; c: ObservedContainer }[] {
    return [...this.nodes.values()].flatMap((node) => node.containers.map((c) => ({ node, c })));
  }
}

// ---------------------------------------------------------------------------
// Arbitraries: small fleets (≤ 8 nodes) and services (≤ 5).

const ZONES = ['a', 'b', 'c'];
const DEVICES = ['/dev/ttyUSB0', '/dev/video0'];
const CONSTRAINTS = ['node.labels.zone == a', 'node.labels.zone != b', 'node.arch == arm64', 'node.labels.tier exists', 'node.labels.zone in [a, c]', 'node.memory >= 2Gi'];

export interface GenNode {
  name: string;
  zone?: string;
  tier?: string;
  arch: string;
  devices: string[];
  cpu: number;
  memory: number;
  reachable: boolean;
  /** Unreachable and never answered since the controller started (only with reachable false). */
  neverSeen: boolean;
  cordoned: boolean;
  /** spec.capacity.cpu: less than the engine reports. */
  capacityCpu?: number;
  foreign: { cpu: number; memory: number; port?: number; labels: 'none' | 'other' }[];
}

const genNode = (i: number): fc.Arbitrary<GenNode> =>
  fc.record({
    name: fc.constant(`n${i}`),
    zone: fc.option(fc.constantFrom(...ZONES), { nil: undefined }),
    tier: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
    arch: fc.constantFrom('amd64', 'arm64'),
    devices: fc.subarray(DEVICES),
    cpu: fc.constantFrom(1000, 2000, 4000),
    memory: fc.constantFrom(1 * Gi, 2 * Gi, 4 * Gi),
    reachable: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    neverSeen: fc.boolean(),
    capacityCpu: fc.constantFrom(undefined, undefined, undefined, 500),
    cordoned: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    foreign: fc.array(
      fc.record({
        cpu: fc.constantFrom(0, 250, 500),
        memory: fc.constantFrom(0, 256 * Mi, 512 * Mi),
        port: fc.option(fc.constantFrom(8000, 8001, 9000), { nil: undefined }),
        labels: fc.constantFrom('none' as const, 'other' as const),
      }),
      { maxLength: 2 },
    ),
  });

export const genFleet = (opts: { min?: number; max?: number; allReachable?: boolean } = {}): fc.Arbitrary<GenNode[]> =>
  fc
    .integer({ min: opts.min ?? 1, max: opts.max ?? 8 })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => genNode(i))).map((ns) => (opts.allReachable ? ns.map((x) => ({ ...x, reachable: true })) : ns)));

export interface GenService {
  opts: SpecOpts;
  /** Containers from an earlier spec, per (slot, node index, state). */
  previous: { slot: number; node: number; state: 'running' | 'exited' | 'dead' | 'created'; current: boolean }[];
}

const genService = (i: number, count: number): fc.Arbitrary<GenService> =>
  fc
    .record({
      mode: fc.oneof({ weight: 4, arbitrary: fc.constant('replicated' as const) }, { weight: 1, arbitrary: fc.constant('global' as const) }),
      replicas: fc.integer({ min: 0, max: 4 }),
      cpu: fc.constantFrom(undefined, 250, 500, 1000),
      memory: fc.constantFrom(undefined, 256 * Mi, 512 * Mi, 1 * Gi),
      devices: fc.oneof({ weight: 4, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.subarray(DEVICES, { minLength: 1 }) }),
      constraints: fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, { weight: 2, arbitrary: fc.subarray(CONSTRAINTS, { maxLength: 2 }) }),
      spread: fc.constantFrom(undefined, undefined, 'zone'),
      maxPerNode: fc.constantFrom(undefined, undefined, 1, 2),
      port: fc.constantFrom('none', 'none', 'bridge', 'host'),
      affinity:
        i > 0 ? fc.oneof({ weight: 6, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: i - 1 }).map((j) => [`s${j}`]) }) : fc.constant([] as string[]),
      antiAffinity: fc.oneof({ weight: 6, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: count - 1 }).map((j) => [`s${j}`]) }),
      dependsOn:
        i > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: i - 1 }).map((j) => [`s${j}`]) }) : fc.constant([] as string[]),
      parallelism: fc.integer({ min: 1, max: 2 }),
      order: fc.constantFrom('start-first' as const, 'stop-first' as const),
      delay: fc.constantFrom(0, 0, 2000),
      healthcheck: fc.boolean(),
      onNodeReturn: fc.constantFrom('keep-replacement' as const, 'keep-original' as const),
      previous: fc.array(
        fc.record({
          slot: fc.integer({ min: 0, max: 5 }),
          node: fc.nat(7),
          state: fc.constantFrom('running' as const, 'running' as const, 'exited' as const, 'dead' as const, 'created' as const),
          current: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
    })
    .map((g) => {
      const ports = g.port === 'none' ? [] : [{ container: 80, ...(g.port === 'bridge' ? { host: 8000 + i } : {}), protocol: 'tcp' as const }];
      const opts: SpecOpts = {
        image: `registry.local/s${i}:1`,
        mode: g.mode,
        replicas: g.replicas,
        resources: { ...(g.cpu !== undefined ? { cpu: g.cpu } : {}), ...(g.memory !== undefined ? { memory: g.memory } : {}) },
        devices: g.devices,
        ports,
        network: g.port === 'host' ? 'host' : 'bridge',
        dependsOn: g.dependsOn,
        placement: {
          constraints: g.constraints.map(constraint),
          spread: g.spread,
          maxPerNode: g.maxPerNode,
          affinity: g.affinity,
          antiAffinity: g.antiAffinity.filter((s) => s !== `s${i}` || true),
          onNodeReturn: g.onNodeReturn,
        },
        update: { parallelism: g.parallelism, order: g.order, delay: g.delay },
        ...(g.healthcheck ? { healthcheck: { test: ['CMD', 'true'], interval: 1000, timeout: 1000, retries: 3, startPeriod: 0 } } : {}),
      };
      return { opts, previous: g.previous };
    });

export const genServices = (max = 5): fc.Arbitrary<GenService[]> => fc.integer({ min: 1, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => genService(i, n))));

/** Build the desired state and a model world (with foreign and stale managed containers that fit the nodes). */
export function buildWorld(gn: GenNode[], gs: GenService[], currentHash: (s: Service) => string, settings = SETTINGS): World {
  const nodes = gn.map((g) =>
    fogNode(g.name, { labels: { ...(g.zone ? { zone: g.zone } : {}) }, devices: g.devices, unschedulable: g.cordoned, ...(g.capacityCpu !== undefined ? { capacity: { cpu: g.capacityCpu } } : {}) }),
  );
  const services = gs.map((g, i) => service(`s${i}`, g.opts));
  const desired = desiredState(nodes, services, settings);
  const model = new Map<string, ModelNode>();
  for (const g of gn) {
    const containers: ObservedContainer[] = [];
    let cpu = 0;
    let memory = 0;
    const ports = new Set<string>();
    const capCpu = g.capacityCpu ?? g.cpu;
    const fits = (c: number, m: number, p: readonly string[]): boolean => {
      if (cpu + c > capCpu || memory + m > g.memory || p.some((x) => ports.has(x))) return false;
      cpu += c;
      memory += m;
      for (const x of p) ports.add(x);
      return true;
    };
    g.foreign.forEach((f, k) => {
      const hostPorts = f.port !== undefined ? [`tcp/${f.port}`] : [];
      if (!fits(f.cpu, f.memory, hostPorts)) return;
      containers.push({
        id: `foreign-${g.name}-${k}`,
        name: `other-${g.name}-${k}`,
        labels: f.labels === 'none' ? {} : { [LABEL.cluster]: 'other', [LABEL.service]: 's0', [LABEL.slot]: '0', [LABEL.hash]: 'x' },
        image: 'other:1',
        state: 'running',
        health: 'none',
        restartCount: 0,
        startedAt: 0,
        resources: { cpu: f.cpu, memory: f.memory },
        hostPorts,
      });
    });
    // A never-seen node went unreachable when the controller started (the world's clock starts at 1,000,000).
    const unseen = !g.reachable && g.neverSeen;
    model.set(g.name, {
      name: g.name,
      reachable: g.reachable,
      since: unseen ? 1_000_000 : 0,
      ...(g.reachable || unseen ? {} : { lastSeen: 0 }),
      facts: facts({ cpu: g.cpu, memory: g.memory, arch: g.arch, engineLabels: g.tier ? { tier: g.tier } : {} }),
      containers,
      capacity: { cpu: capCpu, memory: g.memory },
    });
  }
  gs.forEach((g, i) => {
    const svc = services[i]!;
    g.previous.forEach((p, k) => {
      const node = model.get(gn[p.node % gn.length]!.name)!;
      const r = svc.spec.resources;
      const hostPorts = containerPortKeys(svc.spec.network, svc.spec.ports);
      if (!fits2(node, r.cpu ?? 0, r.memory ?? 0, hostPorts)) return;
      // The world was valid once: maxPerNode and (symmetric) anti-affinity held where these containers were placed.
      if (!placementHeld(node, svc, services, desired.settings.cluster)) return;
      const hash = p.current ? currentHash(svc) : `stale${k}`;
      node.containers.push(
        managed(`s${i}`, p.slot, hash, {
          id: `prev-s${i}-${k}`,
          state: p.state,
          exitCode: p.state === 'exited' ? 1 : undefined,
          finishedAt: p.state === 'exited' ? 0 : undefined,
          health: p.state === 'running' && svc.spec.healthcheck ? 'healthy' : 'none',
          resources: svc.spec.resources,
          hostPorts,
        }),
      );
    });
  });
  // An orphan: a service that is no longer desired.
  const first = model.get(gn[0]!.name)!;
  first.containers.push(managed('gone', 0, 'old', { id: 'orphan-0' }));
  return new World(desired, model);
}

/** maxPerNode and anti-affinity (both ways, and a service listing itself) for one more replica of `svc` on `n`. */
export function placementHeld(n: ModelNode, svc: Service, services: readonly Service[], cluster: string): boolean {
  const count = (s: string) => n.containers.filter((c) => c.labels[LABEL.cluster] === cluster && c.labels[LABEL.service] === s).length;
  const name = svc.metadata.name;
  const max = svc.spec.placement.maxPerNode;
  if (max !== undefined && count(name) >= max) return false;
  for (const t of svc.spec.placement.antiAffinity) if (count(t) > 0) return false;
  for (const u of services) if (u.spec.placement.antiAffinity.includes(name) && count(u.metadata.name) > 0) return false;
  return true;
}

function fits2(n: ModelNode, cpu: number, memory: number, ports: readonly string[]): boolean {
  let c = 0;
  let m = 0;
  for (const x of n.containers) {
    c += x.resources.cpu ?? 0;
    m += x.resources.memory ?? 0;
    if (x.hostPorts.some((p) => ports.includes(p))) return false;
  }
  return c + cpu <= (n.capacity?.cpu ?? n.facts.cpu) && m + memory <= (n.capacity?.memory ?? n.facts.memory);
}

/** A deterministic permutation of `xs` by `keys`. */
export function permute<T>(xs: readonly T[], keys: readonly number[]): T[] {
  return xs
    .map((x, i) => ({ x, k: keys[i % Math.max(1, keys.length)] ?? 0, i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((e) => e.x);
}
