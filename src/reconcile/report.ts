// Stage 6, report: one service's status from what the other stages decided.
// READY / UP-TO-DATE / AVAILABLE are counted per slot as the plan leaves it;
// each condition carries a reason code and the detail behind it (the words
// are made by src/status/text.ts when the status is read).

import type { NodeVerdict, Note } from '../api/notes.js';
import type { Condition, ReplicaStatus, ServiceStatus } from '../api/types.js';
import { replicaReady, type ServiceCtx } from './context.js';
import type { Healed } from './heal.js';
import { cmp, type Replica } from './pair.js';
import { capacityLike, type Slot, type Unslotted } from './slots.js';

/** A slot as the plan leaves it. */
export interface SlotOutcome {
  readonly slot: Slot;
  /** The old replica, unless this pass removes it. */
  readonly old?: Replica;
  /** A new container is created for it this pass. */
  readonly planned: boolean;
}

export interface ReportInput {
  readonly slots: readonly SlotOutcome[];
  readonly healed: readonly Healed[];
  readonly unslotted: readonly Unslotted[];
  readonly unschedulable?: Note;
  /** Global services: nodes without a replica, and why. */
  readonly verdicts: readonly NodeVerdict[];
  readonly rollout?: Note;
  readonly backoffs: readonly Note[];
  /** Conditions that stand on their own (DependencyWait, DependencyCycle, NodeUnreachable hold). */
  readonly extra: readonly Condition[];
}

export function report(ctx: ServiceCtx, input: ReportInput): ServiceStatus {
  const { slots } = input;
  const desired = slots.length;
  let ready = 0;
  let upToDate = 0;
  let available = 0;
  let rolling = false;
  let lostSlot: Replica | undefined;
  for (const s of slots) {
    const cur = s.slot.cur;
    if (replicaReady(ctx, cur) || replicaReady(ctx, s.old)) ready++;
    if (cur !== undefined) upToDate++;
    if (replicaReady(ctx, cur)) available++;
    if (s.old !== undefined) rolling = true;
    if (s.slot.lost !== undefined && !replicaReady(ctx, cur)) lostSlot ??= s.slot.lost;
  }
  let unschedulable = input.unschedulable;
  if (ctx.svc.spec.mode === 'global' && input.verdicts.some((v) => capacityLike(v.rejection))) unschedulable = { code: 'Unschedulable', totalNodes: ctx.totalNodes, verdicts: input.verdicts };

  const conds: Condition[] = [
    ready >= desired
      ? { type: 'Available', status: true, reason: 'ReplicasReady', note: { code: 'ReplicasReady', ready, desired } }
      : { type: 'Available', status: false, reason: 'ReplicasNotReady', note: { code: 'ReplicasNotReady', ready, desired } },
  ];
  conds.push(progressing(ctx, { rolling, upToDate, desired, lostSlot, unschedulable, rollout: input.rollout, backoff: input.backoffs[0] }));
  if (unschedulable !== undefined) conds.push({ type: 'Unschedulable', status: true, reason: 'Unschedulable', note: unschedulable });
  if (input.backoffs.length > 0) conds.push({ type: 'ActionBackOff', status: true, reason: 'ActionBackOff', note: input.backoffs[0]! });
  const crash = input.healed.flatMap((h) => (h.crashLoop !== undefined ? [h.crashLoop] : []));
  if (crash.length > 0) conds.push({ type: 'CrashLoop', status: true, reason: 'CrashLoopBackOff', note: { code: 'CrashLoopBackOff', replicas: crash } });
  const failed = input.healed.filter((h) => h.terminal === 'failed').length;
  if (failed > 0) conds.push({ type: 'Failed', status: true, reason: 'Failed', note: { code: 'Failed', count: failed, restart: ctx.svc.spec.restart } });
  const completed = input.healed.filter((h) => h.terminal === 'completed').length;
  if (completed > 0) conds.push({ type: 'Completed', status: true, reason: 'Completed', note: { code: 'Completed', count: completed } });

  const lines: ReplicaStatus[] = [];
  for (const h of input.healed) lines.push(replicaLine(ctx, h.replica, h.note, h.terminal));
  for (const u of input.unslotted) lines.push(replicaLine(ctx, u.replica, u.note));
  lines.sort((a, b) => a.slot - b.slot || cmp(a.node, b.node) || cmp(a.containerName ?? '', b.containerName ?? '') || cmp(a.containerId ?? '', b.containerId ?? ''));
  const away = lines.flatMap((l) => (l.note?.code === 'ReplicaUnreachable' ? [{ slot: l.slot, node: l.node, since: l.note.since, until: l.note.until }] : []));
  if (away.length > 0) conds.push({ type: 'NodeUnreachable', status: true, reason: 'NodeUnreachable', note: { code: 'NodeUnreachable', replicas: away } });

  const st: ServiceStatus = {
    name: ctx.name,
    mode: ctx.svc.spec.mode,
    desired,
    ready,
    upToDate,
    available,
    specHash: ctx.hash,
    conditions: [...conds, ...input.extra],
    replicas: lines,
  };
  if (unschedulable?.code === 'Unschedulable') {
    const { code: _code, ...u } = unschedulable;
    st.unschedulable = u;
  }
  if (input.backoffs.length > 0) st.backoffs = input.backoffs;
  return st;
}

interface Progress {
  rolling: boolean;
  upToDate: number;
  desired: number;
  lostSlot: Replica | undefined;
  unschedulable: Note | undefined;
  rollout: Note | undefined;
  backoff: Note | undefined;
}

/** Progressing says what is happening: a rollout, a re-placement after node loss, a placement that waits, or nothing. */
function progressing(ctx: ServiceCtx, p: Progress): Condition {
  const counts = { upToDate: p.upToDate, desired: p.desired };
  if (!p.rolling && p.upToDate >= p.desired) return { type: 'Progressing', status: false, reason: 'RolloutComplete', note: { code: 'RolloutComplete', ...counts } };
  let note: Note;
  if (p.rolling) note = p.rollout ?? { code: 'RollingUpdate', ...counts };
  else if (p.lostSlot?.node !== undefined) {
    const n = p.lostSlot.node;
    note = { code: 'NodeLost', node: n.name, since: n.since, ...(n.lastSeen !== undefined ? { lastSeen: n.lastSeen } : {}), ...(n.error !== undefined ? { error: n.error } : {}) };
  } else if (p.unschedulable !== undefined) note = p.unschedulable;
  else if (p.backoff !== undefined) note = p.backoff;
  else if (ctx.frozen !== undefined) note = ctx.frozen;
  else note = { code: 'ReplicasPending', ...counts };
  return { type: 'Progressing', status: true, reason: note.code, note };
}

export function replicaLine(ctx: ServiceCtx, r: Replica, note?: Note, terminal?: 'completed' | 'failed'): ReplicaStatus {
  const line: ReplicaStatus = {
    slot: Number.isNaN(r.slot) ? -1 : r.slot,
    node: r.nodeName,
    containerId: r.c.id,
    containerName: r.c.name,
    state: terminal ?? (r.where === 'live' ? r.c.state : r.where === 'pending' ? 'unknown (node unreachable)' : 'unknown (node lost)'),
    health: r.c.health,
    restarts: r.c.restartCount,
    upToDate: r.hash === ctx.hash,
    ready: replicaReady(ctx, r),
  };
  if (note !== undefined) line.note = note;
  if (r.c.startedAt !== undefined) line.startedAt = r.c.startedAt;
  return line;
}
