// Stage 2, slots: which replica keeps each slot, and which containers go.
//
// A replicated service has slots 0..replicas-1; a global one has one slot per
// node that should run it (pinned to that node). Each slot keeps at most one
// container on the current spec hash (`cur`) and one on an older one (`old`,
// until the rollout replaces it). Everything else is removed, with a reason:
// invalid slot label, scale-down, a node that no longer passes the service's
// enforced filters, dead, a duplicate, the surplus copy after a lost node
// returned. A replica on a lost node keeps nothing: its slot is re-placed.

import type { NodeVerdict, Note, Rejection } from '../api/notes.js';
import type { FailureRecord, Placement } from '../api/types.js';
import type { ServicePicker } from '../schedule/scheduler.js';
import type { NodeInfo } from '../schedule/types.js';
import { staleStart } from './backoff.js';
import { replicaReady, type Removal, type ServiceCtx } from './context.js';
import { cmp, compareReplicas, type Replica } from './pair.js';

export interface Slot {
  readonly slot: number;
  /** Global services: the slot's node. */
  readonly pin?: NodeInfo;
  /** The kept container on the current spec hash / on an older one. */
  readonly cur?: Replica;
  readonly old?: Replica;
  /** A container this slot had on a node lost beyond the grace period. */
  readonly lost?: Replica;
  /** Where a replacement goes first (the node of a dead container). */
  readonly prefer?: NodeInfo;
  /** Why a new container is made, when not simply Scheduled. */
  readonly createReason?: 'Recreate' | 'Rescheduled';
}

/** A replica that belongs to no slot but is still reported (on a lost or unknown node). */
export interface Unslotted {
  readonly replica: Replica;
  readonly note: Note;
}

export interface SlotsPlan {
  readonly slots: readonly Slot[];
  readonly removals: readonly Removal[];
  readonly unslotted: readonly Unslotted[];
  /** Global services: nodes that get no replica, with why. */
  readonly verdicts: readonly NodeVerdict[];
}

export function planSlots(ctx: ServiceCtx, replicas: readonly Replica[], nodes: readonly NodeInfo[], picker: ServicePicker): SlotsPlan {
  const out = { slots: [] as Slot[], removals: [] as Removal[], unslotted: [] as Unslotted[], verdicts: [] as NodeVerdict[] };
  const groups = ctx.svc.spec.mode === 'global' ? globalGroups(ctx, replicas, nodes, picker, out) : replicatedGroups(ctx, replicas, out);
  for (const g of groups) out.slots.push(pruneSlot(ctx, g, picker, out));
  return out;
}

interface Group {
  slot: number;
  pin?: NodeInfo;
  replicas: Replica[];
}

function replicatedGroups(ctx: ServiceCtx, replicas: readonly Replica[], out: { removals: Removal[] }): Group[] {
  const n = ctx.svc.spec.replicas;
  const groups: Group[] = [];
  for (let i = 0; i < n; i++) groups.push({ slot: i, replicas: [] });
  for (const r of replicas) {
    if (Number.isNaN(r.slot)) out.removals.push({ replica: r, reason: 'InvalidSlot', note: { code: 'InvalidSlot', container: r.c.name, node: r.nodeName } });
    else if (r.slot >= n) out.removals.push({ replica: r, reason: 'ScaleDown', note: { code: 'ScaleDown', replicas: n, slot: r.slot, container: r.c.name, node: r.nodeName } });
    else groups[r.slot]!.replicas.push(r);
  }
  return groups;
}

/**
 * Global: one slot (number 0) per node that should run it. A reachable node
 * failing the service's enforced filters loses its replica; a cordoned one
 * keeps it but gets no new one; unreachable nodes are left as they are.
 */
function globalGroups(
  ctx: ServiceCtx,
  replicas: readonly Replica[],
  nodes: readonly NodeInfo[],
  picker: ServicePicker,
  out: { removals: Removal[]; unslotted: Unslotted[]; verdicts: NodeVerdict[] },
): Group[] {
  const byNode = new Map<string, Replica[]>();
  for (const r of replicas) {
    if (r.node === undefined) {
      out.unslotted.push({ replica: r, note: { code: 'UnknownNode', node: r.nodeName } });
      continue;
    }
    let list = byNode.get(r.nodeName);
    if (list === undefined) byNode.set(r.nodeName, (list = []));
    list.push(r);
  }
  const groups: Group[] = [];
  for (const node of nodes) {
    const here = byNode.get(node.name) ?? [];
    if (node.lost) {
      if (here.length > 0) out.verdicts.push({ node: node.name, rejection: unreachable(node) });
      for (const r of here) out.unslotted.push({ replica: r, note: unreachableNote(ctx, r) });
      continue;
    }
    if (!node.reachable) {
      if (here.length > 0) groups.push({ slot: 0, pin: node, replicas: here });
      else out.verdicts.push({ node: node.name, rejection: unreachable(node) });
      continue;
    }
    const enforced = picker.check(node, 'enforced');
    if (enforced !== undefined) {
      for (const r of here) out.removals.push({ replica: r, reason: 'Misplaced', note: { code: 'Misplaced', container: r.c.name, node: node.name, rejection: enforced } });
      out.verdicts.push({ node: node.name, rejection: enforced });
      continue;
    }
    if (here.length > 0) {
      groups.push({ slot: 0, pin: node, replicas: here });
      continue;
    }
    const rej = picker.check(node);
    if (rej === undefined || capacityLike(rej)) groups.push({ slot: 0, pin: node, replicas: [] });
    else out.verdicts.push({ node: node.name, rejection: rej });
  }
  return groups;
}

/** The failed start that makes a live, not running replica unstartable (backoff.ts `staleStart`), if any. */
function unstartable(ctx: ServiceCtx, slot: number, r: Replica): FailureRecord | undefined {
  if (r.where !== 'live' || r.c.state === 'running' || ctx.history.size === 0) return undefined;
  return staleStart(ctx.history, ctx.name, slot, r.c.id, ctx.svc.spec.mode === 'global' ? r.nodeName : undefined);
}

/** Drop what cannot stay in the slot, then keep one current and one old container. */
function pruneSlot(ctx: ServiceCtx, g: Group, picker: ServicePicker, out: { removals: Removal[]; unslotted: Unslotted[] }): Slot {
  const base = g.pin !== undefined ? { slot: g.slot, pin: g.pin } : { slot: g.slot };
  if (g.replicas.length === 1) {
    // The common case, without the allocations of the general one.
    const r = g.replicas[0]!;
    if (r.where === 'pending' || (r.where === 'live' && r.c.state !== 'dead' && r.c.state !== 'removing' && (g.pin !== undefined || picker.enforcedOk(r.node!)) && !unstartable(ctx, g.slot, r))) {
      return r.hash === ctx.hash ? { ...base, cur: r } : { ...base, old: r };
    }
  }
  const sorted = g.replicas.length > 1 ? [...g.replicas].sort(compareReplicas) : g.replicas;
  const keep: Replica[] = [];
  let lost: Replica | undefined;
  let prefer: NodeInfo | undefined;
  let createReason: Slot['createReason'];
  for (const r of sorted) {
    if (r.where === 'lost') {
      lost ??= r;
      out.unslotted.push({ replica: r, note: unreachableNote(ctx, r) });
      continue;
    }
    if (r.c.state === 'removing') {
      // Going away on its own: it holds the slot (and its name) until it is gone, and gets no action.
      keep.push(r);
      continue;
    }
    if (r.where === 'live' && g.pin === undefined) {
      const rej = picker.check(r.node!, 'enforced');
      if (rej !== undefined) {
        out.removals.push({ replica: r, reason: 'Misplaced', note: { code: 'Misplaced', slot: g.slot, container: r.c.name, node: r.nodeName, rejection: rej } });
        createReason ??= 'Rescheduled';
        continue;
      }
    }
    if (r.where === 'live' && r.c.state === 'dead') {
      out.removals.push({ replica: r, reason: 'Dead', note: { code: 'Dead', container: r.c.name, node: r.nodeName } });
      prefer ??= r.node;
      createReason ??= 'Recreate';
      continue;
    }
    const stale = r.where === 'live' ? unstartable(ctx, g.slot, r) : undefined;
    if (stale !== undefined) {
      out.removals.push({ replica: r, reason: 'Unstartable', note: { code: 'Unstartable', slot: g.slot, container: r.c.name, node: r.nodeName, message: stale.message } });
      prefer ??= r.node;
      createReason ??= 'Recreate';
      continue;
    }
    keep.push(r);
  }
  const cur = keepOne(
    ctx,
    g.slot,
    keep.filter((r) => r.hash === ctx.hash),
    out.removals,
  );
  const old = keepOne(
    ctx,
    g.slot,
    keep.filter((r) => r.hash !== ctx.hash),
    out.removals,
  );
  return {
    ...base,
    ...(cur !== undefined ? { cur } : {}),
    ...(old !== undefined ? { old } : {}),
    ...(lost !== undefined ? { lost } : {}),
    ...(prefer !== undefined ? { prefer } : {}),
    ...(createReason !== undefined ? { createReason } : {}),
  };
}

function keepOne(ctx: ServiceCtx, slot: number, list: Replica[], removals: Removal[]): Replica | undefined {
  if (list.length === 0) return undefined;
  const onNodeReturn = ctx.svc.spec.placement.onNodeReturn;
  const ranked = rankKeepers(list, onNodeReturn, (r) => replicaReady(ctx, r));
  const keeper = ranked[0]!;
  for (const r of ranked.slice(1)) {
    if (r.where !== 'live' || r.c.state === 'removing') continue;
    if (r.nodeName === keeper.nodeName) {
      removals.push({ replica: r, reason: 'Duplicate', note: { code: 'Duplicate', slot, kept: keeper.c.name, container: r.c.name, node: r.nodeName } });
    } else {
      const note: Note = { code: 'NodeReturned', slot, kept: keeper.c.name, keptNode: keeper.nodeName, onNodeReturn, container: r.c.name, node: r.nodeName, since: r.node?.since ?? 0 };
      removals.push({ replica: r, reason: 'NodeReturned', note });
    }
  }
  return keeper;
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

export function unreachable(n: NodeInfo): Rejection {
  const r: Rejection = { filter: 'NodeReachable', since: n.since };
  if (n.lastSeen !== undefined) r.lastSeen = n.lastSeen;
  if (n.error !== undefined) r.error = n.error;
  return r;
}

/** Filters whose failure on a global service's node means "no room", not "not for this node". */
export function capacityLike(r: Rejection): boolean {
  return r.filter === 'NodeResources' || r.filter === 'HostPorts' || r.filter === 'MaxPerNode';
}

/** Why a replica on an unreachable (or unknown) node is only reported. */
export function unreachableNote(ctx: ServiceCtx, r: Replica): Note {
  const n = r.node;
  if (n === undefined) return { code: 'UnknownNode', node: r.nodeName };
  const note: Note = { code: 'ReplicaUnreachable', node: n.name, since: n.since, until: n.since + ctx.settings.nodeGracePeriod, lost: r.where === 'lost', global: ctx.svc.spec.mode === 'global' };
  if (n.lastSeen !== undefined) note.lastSeen = n.lastSeen;
  if (n.error !== undefined) note.error = n.error;
  return note;
}
