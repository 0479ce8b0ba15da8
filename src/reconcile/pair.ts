// Stage 1, pair: which observed container is which service's replica.
//
// Every container carrying this cluster's label and a service label is ours
// (isOurs); it is grouped under its service with its slot, spec hash and
// where its node stands (live, pending within the grace period, lost). Nodes
// are built once for the scheduler (capacity, labels, reachability); the
// containers only reserve what they hold there.

import { isOurs, LABEL, type DesiredState, type ObservedContainer, type ObservedState } from '../api/types.js';
import { buildNodeInfos } from '../schedule/nodes.js';
import type { NodeInfo } from '../schedule/types.js';

/** A managed container as the reconcile sees it. */
export interface Replica {
  readonly c: ObservedContainer;
  /** undefined: the node is not in the desired state. */
  readonly node: NodeInfo | undefined;
  readonly nodeName: string;
  readonly service: string;
  /** NaN when the slot label is missing or not a non-negative integer. */
  readonly slot: number;
  /** The spec-hash label, read once. */
  readonly hash: string | undefined;
  /** live: reachable node; pending: unreachable within the grace period; lost: beyond it (or a node not desired). */
  readonly where: 'live' | 'pending' | 'lost';
}

export interface Paired {
  /** Every desired node, by name (the scheduler's view; its reservations change as the pass plans). */
  readonly nodes: readonly NodeInfo[];
  /** Our replicas by service name (services no longer desired included). */
  readonly replicas: ReadonlyMap<string, readonly Replica[]>;
  /** Our containers per node name. */
  readonly managedOn: ReadonlyMap<string, number>;
  /** Unreachable within grace and never seen by this controller: what they run is unknown. */
  readonly unobserved: readonly NodeInfo[];
}

export function pair(desired: DesiredState, observed: ObservedState, now: number): Paired {
  const nodes = buildNodeInfos(desired.nodes, observed.nodes, desired.settings, now);
  const byName = new Map<string, NodeInfo>();
  for (const n of nodes) byName.set(n.name, n);
  const cluster = desired.settings.cluster;
  const replicas = new Map<string, Replica[]>();
  const managedOn = new Map<string, number>();
  for (const o of observed.nodes) {
    const node = byName.get(o.name);
    const where = node === undefined || node.lost ? 'lost' : node.reachable ? 'live' : 'pending';
    for (const c of o.containers) {
      if (!isOurs(c.labels, cluster)) continue;
      const service = c.labels[LABEL.service]!;
      managedOn.set(o.name, (managedOn.get(o.name) ?? 0) + 1);
      let list = replicas.get(service);
      if (list === undefined) replicas.set(service, (list = []));
      list.push({ c, node, nodeName: o.name, service, slot: parseSlot(c.labels[LABEL.slot]), hash: c.labels[LABEL.hash], where });
    }
  }
  const unobserved = nodes.filter((n) => !n.reachable && !n.lost && n.lastSeen === undefined);
  return { nodes, replicas, managedOn, unobserved };
}

function parseSlot(text: string | undefined): number {
  if (text === undefined || text.length === 0 || text.length > 9) return Number.NaN;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i === 0 && d === 0 && text.length > 1)) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Slot, node name, container name, id: the order that makes "the first" deterministic. */
export function compareReplicas(a: Replica, b: Replica): number {
  return a.slot - b.slot || cmp(a.nodeName, b.nodeName) || cmp(a.c.name, b.c.name) || cmp(a.c.id, b.c.id);
}
