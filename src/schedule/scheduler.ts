// The scheduler: filters (feasibility) then scores (ranking), per service.
//
//   nodes ──class-scoped static filters (once per equivalence class)──▶ candidates
//         ──node-scoped static filters (once per node)─────────────────▶ heap by score
//   pick: pop the best node, run the dynamic filters on it (capacity,
//         maxPerNode, affinity, ports); a node that fails is dropped for the
//         rest of this service's placement, because placing more replicas of
//         the same service only makes those filters stricter.
//
// Scores are (replicas of the service in the node's spread value, replicas
// of the service on the node, least reserved, name):
// a two-level lazy heap (values, then nodes within a value) keeps each pick
// O(log n), which is what makes 50k replicas on 5k nodes affordable.

import { DEFAULT_FILTERS, isRelevant } from './filters.js';
import { Heap, NodeHeap } from './heap.js';
import { ownReplicas, reservedScore, spreadValue } from './scores.js';
import type { Filter, NodeInfo, NodeVerdict, PlacementRequest, Rejection, Resources } from './types.js';

/**
 * all: every filter; static: those that cannot change during a pass;
 * enforced: those enforced on running replicas; replacement: for a replica
 * that replaces one already on the same node, the placement-time rules (cordon,
 * affinity, anti-affinity) are skipped: they held, or were waived, when the
 * replica was first placed.
 */
export type CheckScope = 'all' | 'static' | 'enforced' | 'replacement';

const REPLACEMENT_SKIPS: ReadonlySet<string> = new Set(['NodeSchedulable', 'ServiceAffinity', 'ServiceAntiAffinity']);

interface ValueEntry {
  value: string;
  count: number;
  own: number;
  score: number;
  index: number;
}

const valueLess = (a: ValueEntry, b: ValueEntry): boolean =>
  a.count < b.count || (a.count === b.count && (a.own < b.own || (a.own === b.own && (a.score < b.score || (a.score === b.score && a.index < b.index)))));

export class Scheduler {
  readonly byName: ReadonlyMap<string, NodeInfo>;
  /** Nodes of each class, in name order. */
  readonly classes: readonly (readonly NodeInfo[])[];
  /** Bumped on every release, so pickers built before it rebuild. */
  generation = 0;
  /** service → nodes running at least one replica of it (for spread counts without a fleet scan per service); built on first use. */
  private nodesOf: Map<string, Set<NodeInfo>> | undefined;

  /** In name order; `NodeInfo.index` is the position here (the heaps' name tiebreak). */
  readonly nodes: readonly NodeInfo[];

  constructor(
    nodes: readonly NodeInfo[],
    readonly filters: readonly Filter[] = DEFAULT_FILTERS,
  ) {
    this.nodes = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.nodes.forEach((n, i) => (n.index = i));
    nodes = this.nodes;
    const byName = new Map<string, NodeInfo>();
    const classes: NodeInfo[][] = [];
    for (const n of nodes) {
      byName.set(n.name, n);
      (classes[n.classId] ??= []).push(n);
    }
    this.byName = byName;
    this.classes = classes;
  }

  /** Nodes running at least one replica of the service. */
  hosts(service: string): Set<NodeInfo> {
    if (this.nodesOf === undefined) {
      this.nodesOf = new Map();
      for (const n of this.nodes) for (const [svc, k] of n.services) if (k > 0) this.hostsIn(this.nodesOf, svc).add(n);
    }
    return this.hostsIn(this.nodesOf, service);
  }

  private hostsIn(index: Map<string, Set<NodeInfo>>, service: string): Set<NodeInfo> {
    let set = index.get(service);
    if (set === undefined) index.set(service, (set = new Set()));
    return set;
  }

  /** Nodes with at least one replica of the service. */
  prepare(req: PlacementRequest): ServicePicker {
    return new ServicePicker(this, req);
  }

  /** A container goes away in this plan: give back what it held. */
  release(node: NodeInfo, service: string | undefined, resources: Partial<Resources>, ports: readonly string[]): void {
    node.reserved.cpu -= resources.cpu ?? 0;
    node.reserved.memory -= resources.memory ?? 0;
    if (resources.disk) node.reserved.disk = (node.reserved.disk ?? 0) - resources.disk;
    for (const p of ports) node.hostPorts.set(p, (node.hostPorts.get(p) ?? 1) - 1);
    if (service !== undefined) {
      const k = (node.services.get(service) ?? 1) - 1;
      node.services.set(service, k);
      if (k <= 0 && this.nodesOf !== undefined) this.hosts(service).delete(node);
    }
    this.generation++;
  }

  /** Undo a release (a tentative removal that was not carried out). */
  occupy(node: NodeInfo, service: string | undefined, resources: Partial<Resources>, ports: readonly string[]): void {
    node.reserved.cpu += resources.cpu ?? 0;
    node.reserved.memory += resources.memory ?? 0;
    if (resources.disk) node.reserved.disk = (node.reserved.disk ?? 0) + resources.disk;
    for (const p of ports) node.hostPorts.set(p, (node.hostPorts.get(p) ?? 0) + 1);
    if (service !== undefined) {
      node.services.set(service, (node.services.get(service) ?? 0) + 1);
      if (this.nodesOf !== undefined) this.hosts(service).add(node);
    }
  }
}

/** One service's placement during one pass: memoised class verdicts and a picker. */
export class ServicePicker {
  private readonly classMemo = new Map<number, (Rejection | undefined)[]>();
  private dropped = new Uint8Array(0);
  private builtAt = -1;
  private flat?: NodeHeap;
  private groups?: Map<string, NodeHeap>;
  private values?: Heap<ValueEntry>;
  private counts?: Map<string, number>;

  /** The filters enforced on running replicas that can reject something for this request. */
  private readonly enforced: readonly Filter[];
  /** Per class: passes every filter enforced on running replicas. Undefined when the node name matters. */
  private readonly enforcedByClass: Map<number, boolean> | undefined;

  constructor(
    readonly scheduler: Scheduler,
    readonly req: PlacementRequest,
  ) {
    this.enforced = scheduler.filters.filter((f) => f.enforcedOnRunning && isRelevant(f, req));
    // Memoise per class unless a node-scoped filter enforced on running replicas applies to this request.
    if (!this.enforced.some((f) => f.scope === 'node')) this.enforcedByClass = new Map();
  }

  private classResults(node: NodeInfo): (Rejection | undefined)[] {
    let r = this.classMemo.get(node.classId);
    if (r === undefined) {
      r = this.scheduler.filters.map((f) => (f.scope === 'class' ? f.check(this.req, node) : undefined));
      this.classMemo.set(node.classId, r);
    }
    return r;
  }

  /** The first filter (in pipeline order) that rejects the node, among `all`, the `static` ones, or those `enforced` on running replicas. */
  check(node: NodeInfo, scope: CheckScope = 'all'): Rejection | undefined {
    const filters = this.scheduler.filters;
    const memo = this.classResults(node);
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i]!;
      if (scope === 'static' && !f.static) continue;
      if (scope === 'enforced' && !f.enforcedOnRunning) continue;
      if (scope === 'replacement' && REPLACEMENT_SKIPS.has(f.name)) continue;
      const r = f.scope === 'class' ? memo[i] : f.check(this.req, node);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /** No filter enforced on running replicas rejects the node (memoised per class when no such filter is node-scoped). */
  enforcedOk(node: NodeInfo): boolean {
    if (this.enforced.length === 0) return true;
    if (this.enforcedByClass === undefined) return this.check(node, 'enforced') === undefined;
    let ok = this.enforcedByClass.get(node.classId);
    if (ok === undefined) {
      // Only the enforced filters, straight on this node: the class answers for the rest of it.
      ok = this.enforced.every((f) => f.check(this.req, node) === undefined);
      this.enforcedByClass.set(node.classId, ok);
    }
    return ok;
  }

  private dynamicCheck(node: NodeInfo): Rejection | undefined {
    for (const f of this.scheduler.filters) {
      if (f.static) continue;
      const r = f.check(this.req, node);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /** Nodes passing every static filter; whole classes are skipped on their memoised answer. */
  private candidates(): NodeInfo[] {
    const filters = this.scheduler.filters;
    const nodeStatic = filters.filter((f) => f.static && f.scope === 'node' && isRelevant(f, this.req));
    const out: NodeInfo[] = [];
    for (const members of this.scheduler.classes) {
      if (members === undefined || members.length === 0) continue;
      const memo = this.classResults(members[0]!);
      if (filters.some((f, i) => f.static && f.scope === 'class' && memo[i] !== undefined)) continue;
      if (nodeStatic.length === 0) for (const n of members) out.push(n);
      else for (const n of members) if (nodeStatic.every((f) => f.check(this.req, n) === undefined)) out.push(n);
    }
    return out;
  }

  private heapOf(nodes: readonly NodeInfo[]): NodeHeap {
    const h = new NodeHeap(nodes.length);
    for (const n of nodes) h.add(n.index, ownReplicas(this.req, n), reservedScore(this.req, n));
    h.heapify();
    return h;
  }

  private build(): void {
    this.builtAt = this.scheduler.generation;
    this.dropped = new Uint8Array(this.scheduler.nodes.length);
    const req = this.req;
    const cands = this.candidates();
    if (req.spread === undefined) {
      this.flat = this.heapOf(cands);
      return;
    }
    const counts = new Map<string, number>();
    for (const n of this.scheduler.hosts(req.service)) {
      const v = spreadValue(req, n);
      counts.set(v, (counts.get(v) ?? 0) + (n.services.get(req.service) ?? 0));
    }
    const byValue = new Map<string, NodeInfo[]>();
    for (const node of cands) {
      const v = spreadValue(req, node);
      let list = byValue.get(v);
      if (list === undefined) byValue.set(v, (list = []));
      list.push(node);
    }
    this.groups = new Map();
    const ventries: ValueEntry[] = [];
    for (const [value, list] of byValue) {
      const h = this.heapOf(list);
      this.groups.set(value, h);
      ventries.push({ value, count: counts.get(value) ?? 0, own: h.topOwn, score: h.topScore, index: h.topIndex });
    }
    this.values = Heap.from(ventries, valueLess);
    this.counts = counts;
  }

  /** Drop nodes that failed, re-key stale entries; the index of the valid best node, or -1. */
  private cleanTop(h: NodeHeap): number {
    const nodes = this.scheduler.nodes;
    for (;;) {
      const i = h.topIndex;
      if (i < 0) return -1;
      if (this.dropped[i] === 1) {
        h.pop();
        continue;
      }
      const node = nodes[i]!;
      const own = ownReplicas(this.req, node);
      const score = reservedScore(this.req, node);
      if (own !== h.topOwn || score !== h.topScore) {
        h.rekeyTop(own, score);
        continue;
      }
      return i;
    }
  }

  /** The best node for one more replica, or undefined. `prefer` (e.g. the node of the replica being replaced) wins when it passes every filter. */
  pick(prefer?: NodeInfo): NodeInfo | undefined {
    if (prefer !== undefined && this.check(prefer) === undefined) return prefer;
    if (this.builtAt !== this.scheduler.generation) this.build();
    const nodes = this.scheduler.nodes;
    if (this.req.spread === undefined) {
      const h = this.flat!;
      for (;;) {
        const i = this.cleanTop(h);
        if (i < 0) return undefined;
        if (this.dynamicCheck(nodes[i]!) === undefined) return nodes[i];
        this.dropped[i] = 1;
      }
    }
    const values = this.values!;
    for (;;) {
      const ve = values.peek();
      if (ve === undefined) return undefined;
      const h = this.groups!.get(ve.value)!;
      const i = this.cleanTop(h);
      if (i < 0) {
        values.pop();
        continue;
      }
      const count = this.counts!.get(ve.value) ?? 0;
      if (ve.count !== count || ve.own !== h.topOwn || ve.score !== h.topScore || ve.index !== i) {
        values.pop();
        values.push({ value: ve.value, count, own: h.topOwn, score: h.topScore, index: i });
        continue;
      }
      if (this.dynamicCheck(nodes[i]!) === undefined) return nodes[i];
      this.dropped[i] = 1;
    }
  }

  /** Record one planned replica on the node. */
  assign(node: NodeInfo): void {
    const req = this.req;
    this.scheduler.occupy(node, req.service, req.resources, req.hostPorts);
    if (this.counts !== undefined) {
      const v = spreadValue(req, node);
      this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
    }
  }

  /** Every node that rejects one more replica, with the first reason: the input of an Unschedulable note. */
  rejections(nodes: readonly NodeInfo[] = this.scheduler.nodes): NodeVerdict[] {
    const out: NodeVerdict[] = [];
    for (const n of nodes) {
      const r = this.check(n);
      if (r !== undefined) out.push({ node: n.name, rejection: r });
    }
    return out;
  }
}
