// Scorers: rank the nodes that passed every filter. Lower is better; the
// scheduler compares, in order: replicas of the service in the node's spread
// value, replicas of the service on the node (Swarm's default spread: without
// it, services that reserve nothing would all land on one node), least
// reserved, node name.

import type { NodeInfo, PlacementRequest } from './types.js';

const NO_VALUE = '\u0000(no value)';

/** The node's value of the service's spread label; nodes without the label form one group of their own. */
export function spreadValue(req: PlacementRequest, node: NodeInfo): string {
  if (req.spread === undefined) return '';
  return node.facts.labels[req.spread] ?? NO_VALUE;
}

function fraction(used: number, capacity: number): number {
  if (capacity > 0) return used / capacity;
  return used > 0 ? 1 : 0;
}

/** Least reserved: the mean of cpu and memory fractions after placing one replica (kube's LeastAllocated). */
export function reservedScore(req: PlacementRequest, node: NodeInfo): number {
  return (fraction(node.reserved.cpu + req.resources.cpu, node.capacity.cpu) + fraction(node.reserved.memory + req.resources.memory, node.capacity.memory)) / 2;
}

/** Replicas of the service already on the node (planned ones included). */
export function ownReplicas(req: PlacementRequest, node: NodeInfo): number {
  return node.services.get(req.service) ?? 0;
}
