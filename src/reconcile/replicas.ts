// A managed container as the reconcile sees it, slots, and which copy of a
// slot is kept when there are several.

import type { ObservedContainer, Placement } from '../api/types.js';
import type { NodeInfo } from '../schedule/types.js';

export interface Replica {
  c: ObservedContainer;
  /** undefined: the node is not in the desired state. */
  node: NodeInfo | undefined;
  nodeName: string;
  service: string;
  /** NaN when the slot label is missing or not a non-negative integer. */
  slot: number;
  /** The spec-hash label, read once. */
  hash: string | undefined;
  /** live: reachable node; pending: unreachable within the grace period; lost: beyond it (or unknown node). */
  where: 'live' | 'pending' | 'lost';
}

export interface SlotState {
  slot: number;
  /** Global services: the slot's node. */
  pin?: NodeInfo;
  replicas: Replica[];
  /** The kept container with the current spec hash / with an older one. */
  cur?: Replica;
  old?: Replica;
  /** A container on a lost node that this slot had. */
  lost?: Replica;
  /** Where a replacement goes first (the node of a dead container). */
  prefer?: NodeInfo;
  createReason?: string;
  planned?: NodeInfo;
  crashLoop?: string;
  terminal?: 'completed' | 'failed';
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Order copies of one slot, the keeper first:
 *  1. on a reachable node and not already being removed (copies on unreachable
 *     nodes cannot be removed anyway);
 *  2. onNodeReturn: keep-replacement keeps the copy on the node reachable the
 *     longest (smallest `since`: the returning node has the latest), keep-original the opposite;
 *  3. ready first;
 *  4. keep-replacement: newest startedAt; keep-original: oldest;
 *  5. node name, container name, id.
 */
export function rankKeepers(list: readonly Replica[], onNodeReturn: Placement['onNodeReturn'], ready: (r: Replica) => boolean): Replica[] {
  const sign = onNodeReturn === 'keep-original' ? -1 : 1;
  return [...list].sort((a, b) => {
    const live = Number(b.where === 'live' && b.c.state !== 'removing') - Number(a.where === 'live' && a.c.state !== 'removing');
    if (live !== 0) return live;
    const sa = a.node?.since ?? 0;
    const sb = b.node?.since ?? 0;
    if (sa !== sb) return sign * (sa < sb ? -1 : 1);
    const rd = Number(ready(b)) - Number(ready(a));
    if (rd !== 0) return rd;
    const ta = a.c.startedAt ?? Number.NEGATIVE_INFINITY;
    const tb = b.c.startedAt ?? Number.NEGATIVE_INFINITY;
    if (ta !== tb) return sign * (ta > tb ? -1 : 1);
    return cmp(a.nodeName, b.nodeName) || cmp(a.c.name, b.c.name) || cmp(a.c.id, b.c.id);
  });
}
