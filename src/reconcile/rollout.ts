// Stage 4, rollout: slots still on an old spec hash are replaced in batches
// of `update.parallelism`, in `update.order`:
//
//   retire       a slot whose new replica is ready loses its old one (both orders);
//   stop-first   an old replica goes only while ready replicas stay at or
//                above (occupied slots − parallelism); its replacement is
//                created in the same pass, on the same node when that node
//                still passes every filter;
//   start-first  the new replica starts beside the old one; at most
//                `parallelism` slots run both;
//   delay        the next batch waits `update.delay` after the newest new
//                replica became ready;
//   monitor      with rollout inputs, a new replica counts (for retire and
//                for the stop-first floor) only once it has been ready for
//                `update.monitor`; a hold (pause, closed window, waiting
//                canary) starts no new batch; a canary's replicas start
//                beside the old ones and no more than `canary` of them.
//
// Nothing old is touched while the service is frozen (a dependency not
// ready), while the slot's replacement is backing off after a failed create,
// or while its image is not yet on the node that will run it (pulled or
// copied first: images.ts; the note is PullingImage).

import type { Note } from '../api/notes.js';
import type { Action } from '../api/types.js';
import type { Scheduler, ServicePicker } from '../schedule/scheduler.js';
import { actionGate } from './backoff.js';
import { earliest, replicaReady, replicaSettled, target, type ImageWait, type Removal, type ServiceCtx } from './context.js';
import { cmp } from './pair.js';
import { notMade, pickFor, tryCreate } from './place.js';
import type { Slot } from './slots.js';

/** Old replicas whose slot's new replica is ready: removed before anything is placed. */
export function retire(ctx: ServiceCtx, slots: readonly Slot[]): { removals: readonly Removal[]; retired: ReadonlySet<Slot> } {
  const removals: Removal[] = [];
  const retired = new Set<Slot>();
  for (const s of slots) {
    if (s.old === undefined || s.cur === undefined || s.old.where !== 'live' || !replicaSettled(ctx, s.cur)) continue;
    removals.push({
      replica: s.old,
      reason: 'RollingUpdate',
      note: { code: 'RollingUpdate', step: 'retire', slot: s.slot, container: s.cur.c.name, node: s.cur.nodeName, old: s.old.c.name, oldNode: s.old.nodeName },
    });
    retired.add(s);
  }
  return { removals, retired };
}

export interface RolloutPlan {
  readonly actions: readonly Action[];
  readonly removals: readonly Removal[];
  /** Slots whose old replica is removed this pass (stop-first). */
  readonly replaced: ReadonlySet<Slot>;
  /** Slots that got a new replica this pass. */
  readonly planned: ReadonlySet<Slot>;
  /** Why the rollout is not moving further now. */
  readonly note?: Note;
  readonly unschedulable?: Note;
  readonly backoffs: readonly Note[];
  readonly requeueAt?: number;
}

export interface RolloutInput {
  readonly slots: readonly Slot[];
  readonly retired: ReadonlySet<Slot>;
  /** Slots placed by the place stage this pass. */
  readonly placed: ReadonlySet<Slot>;
}

export function rollout(ctx: ServiceCtx, input: RolloutInput, picker: ServicePicker, scheduler: Scheduler): RolloutPlan {
  const { slots, retired, placed } = input;
  const upd = ctx.svc.spec.update;
  const actions: Action[] = [];
  const removals: Removal[] = [];
  const replaced = new Set<Slot>();
  const planned = new Set<Slot>();
  const backoffs: Note[] = [];
  const pulling: ImageWait[] = [];
  const old = (s: Slot) => (retired.has(s) ? undefined : s.old);
  const ready = (r: Slot['cur']) => replicaReady(ctx, r);
  const todo = slots.filter((s) => {
    const o = old(s);
    return o !== undefined && s.cur === undefined && o.where === 'live' && o.c.state !== 'removing';
  });
  const done = { actions, removals, replaced, planned, backoffs };
  if (todo.length === 0) return done;
  if (ctx.frozen !== undefined) return { ...done, note: { code: 'RolloutWaiting', blockedBy: ctx.frozen } };
  const gates = ctx.rollout;
  if (gates?.hold !== undefined) return { ...done, note: gates.hold, ...(gates.holdUntil !== undefined ? { requeueAt: gates.holdUntil } : {}) };
  const settled = (r: Slot['cur']) => replicaSettled(ctx, r);
  // A canary: at most `canary` slots on the new spec until it is promoted, each started beside its old replica.
  let canaryRoom = gates?.canary !== undefined ? gates.canary - slots.filter((s) => s.cur !== undefined).length : Number.POSITIVE_INFINITY;
  const order = gates?.canary !== undefined ? 'start-first' : upd.order;
  const parallelism = gates?.canary !== undefined ? Math.max(upd.parallelism, gates.canary) : upd.parallelism;

  let newest = Number.NEGATIVE_INFINITY;
  for (const s of slots) if (ready(s.cur) && s.cur!.c.startedAt !== undefined) newest = Math.max(newest, s.cur!.c.startedAt);
  if (upd.delay > 0 && ctx.now < newest + upd.delay) {
    const until = newest + upd.delay;
    return { ...done, note: { code: 'RolloutDelay', until }, requeueAt: until };
  }
  let available = slots.filter((s) => settled(s.cur) || ready(old(s))).length;
  let surge = slots.filter((s) => s.cur !== undefined && old(s) !== undefined).length;
  // Slots that cannot be placed at all do not hold a rollout back: the floor
  // is what runs (or is only unreachable) minus parallelism.
  const occupied = slots.filter((s) => s.cur !== undefined || old(s) !== undefined || placed.has(s)).length;
  const minAvailable = occupied - parallelism;
  // Not-ready old replicas first: replacing them costs no availability.
  todo.sort((a, b) => Number(ready(a.old)) - Number(ready(b.old)) || a.slot - b.slot || cmp(a.pin?.name ?? '', b.pin?.name ?? ''));
  let waiting = 0;
  let unschedulable: Note | undefined;
  let requeueAt: number | undefined;
  for (const s of todo) {
    const o = s.old!;
    const cost = ready(o) ? 1 : 0;
    const base = { slot: s.slot, old: o.c.name, oldNode: o.nodeName };
    if (canaryRoom <= 0) {
      waiting++;
      continue;
    }
    if (order === 'start-first') {
      if (surge >= parallelism) {
        waiting++;
        continue;
      }
      const node = pickFor(picker, s, o.node, true);
      if (node !== undefined) {
        const made = tryCreate(ctx, picker, s, node, { code: 'RollingUpdate', step: 'start-first', container: '', node: node.name, ...base });
        if (made.ok) {
          surge++;
          canaryRoom--;
          planned.add(s);
          actions.push(withContainer(made.action));
        } else requeueAt = earliest(requeueAt, notMade(made, actions, backoffs, pulling));
        continue;
      }
      // No room next to the old replica: fall back to stop-first for this slot.
    }
    if (cost === 1 && available - 1 < minAvailable) {
      waiting++;
      prefetch(ctx, s.slot, o.nodeName, actions);
      continue;
    }
    // The old replica's last removal failed and is backing off: nothing is replaced until it can go.
    const removal = actionGate(ctx.history, ctx.name, s.slot, 'remove', target(o), ctx.now, ctx.settings, ctx.svc.spec.mode === 'global');
    if (!removal.open) {
      backoffs.push(removal.note);
      requeueAt = earliest(requeueAt, removal.until);
      continue;
    }
    scheduler.release(o.node!, ctx.name, o.c.resources, o.c.hostPorts);
    const node = pickFor(picker, s, o.node, true);
    if (node === undefined) {
      scheduler.occupy(o.node!, ctx.name, o.c.resources, o.c.hostPorts);
      if (s.pin === undefined) unschedulable ??= { code: 'Unschedulable', slot: s.slot, totalNodes: ctx.totalNodes, verdicts: picker.rejections() };
      continue;
    }
    const made = tryCreate(ctx, picker, s, node, { code: 'RollingUpdate', step: 'stop-first', container: '', node: node.name, ...base });
    if (!made.ok) {
      // The replacement cannot be made now (backing off, or its image is not on the node yet): the old replica stays.
      scheduler.occupy(o.node!, ctx.name, o.c.resources, o.c.hostPorts);
      requeueAt = earliest(requeueAt, notMade(made, actions, backoffs, pulling));
      continue;
    }
    removals.push({
      replica: o,
      reason: 'RollingUpdate',
      note: { code: 'RollingUpdate', step: 'stop-first', slot: s.slot, container: o.c.name, node: o.nodeName, old: o.c.name, oldNode: o.nodeName },
      released: true,
    });
    actions.push(withContainer(made.action));
    replaced.add(s);
    planned.add(s);
    canaryRoom--;
    available -= cost;
  }
  let note: Note | undefined = pulling.length > 0 ? { code: 'PullingImage', slots: pulling } : waiting > 0 ? { code: 'RolloutWaiting', waiting, update: upd } : undefined;
  // New replicas still in their monitor period are what the waiting ones wait for.
  if (pulling.length === 0 && waiting > 0 && gates !== undefined && gates.monitor > 0) {
    const watching = slots.filter((s) => ready(s.cur) && !settled(s.cur) && s.cur!.c.startedAt !== undefined);
    if (watching.length > 0) {
      const until = Math.min(...watching.map((s) => s.cur!.c.startedAt! + gates.monitor));
      note = { code: 'RolloutMonitoring', monitoring: watching.length, until, monitor: gates.monitor };
      requeueAt = earliest(requeueAt, until);
    }
  }
  return {
    ...done,
    ...(note !== undefined ? { note } : {}),
    ...(unschedulable !== undefined ? { unschedulable } : {}),
    ...(requeueAt !== undefined ? { requeueAt } : {}),
  };
}

/**
 * A slot waiting for its batch gets the new image on its old replica's node
 * (where its replacement goes when that node still fits) meanwhile, so that
 * later batches do not wait for downloads one after the other.
 */
function prefetch(ctx: ServiceCtx, slot: number, node: string, actions: Action[]): void {
  const need = ctx.images?.need(ctx.history, ctx.settings, ctx.now, { service: ctx.name, slot, global: ctx.svc.spec.mode === 'global', node, image: ctx.shape.image, specHash: ctx.hash });
  if (need !== undefined && !need.ready && need.action !== undefined) actions.push(need.action);
}

/** The rollout's create notes name the new container once it has one. */
function withContainer(a: Action): Action {
  return a.type === 'create' && a.note.code === 'RollingUpdate' ? { ...a, note: { ...a.note, container: a.container.name } } : a;
}
