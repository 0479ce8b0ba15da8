// reconcile(desired, observed, history, now) → { actions, status, requeueAt }:
// the level-triggered heart of the controller. Pure: no I/O, no clock (time
// is `now`), no randomness; inputs are never mutated; the same world in any
// order gives the same plan. This file only wires the stages:
//
//   pair     observed containers → each service's replicas        (pair.ts)
//   slots    keep one per slot; prune the rest, with reasons       (slots.ts)
//   place    vacant slots → nodes → creates                        (place.ts)
//   rollout  old spec hashes replaced per spec.update              (rollout.ts)
//   heal     start what should run; restart and failure back-off   (heal.ts, restart.ts, backoff.ts)
//   report   status per service, replica and node, and events     (report.ts)
//
// Services are planned in dependency order (deps.ts), one after the other, so
// that a service's placements count for the next one's affinity and capacity:
// the scheduler is the pass's capacity ledger, and the only state the stages
// share. Containers on unreachable nodes never get actions; within the grace
// period they count as present but not ready, after it their slots are re-placed.

import type { Note } from '../api/notes.js';
import type {
  Action,
  ActionHistory,
  Condition,
  DesiredState,
  FogNode,
  NodeStatus,
  ObservedContainer,
  ObservedNode,
  ObservedState,
  ReasonCode,
  ReconcileResult,
  ReconcileSettings,
  Revision,
  RolloutBook,
  RolloutInputs,
  RolloutStatus,
  Service,
  ServiceRollout,
  ServiceStatus,
  StatusEvent,
} from '../api/types.js';
import { dependencyCycles } from '../manifest/cross.js';
import { Scheduler, type ServicePicker } from '../schedule/scheduler.js';
import { refusal } from '../schedule/security.js';
import { actionGate } from './backoff.js';
import { earliest, removable, replicaReady, replicaSettled, target, type Removal, type RolloutGates, type ServiceCtx } from './context.js';
import { planningOrder, resolveDependencies } from './deps.js';
import { canonicalJson, containerShape, fnv1a64 } from './hash.js';
import { heal } from './heal.js';
import { ImagePlanner } from './images.js';
import { cmp, pair, type Paired, type Replica } from './pair.js';
import { placeVacant, placementRequest, repelledBy } from './place.js';
import { replicaLine, report } from './report.js';
import { admit, effectiveService, findHash, judge, rollingForward, rolloutHold, settle } from './revisions.js';
import { pinRevisions, restarted, revisionImage, targetRevision } from './pins.js';
import { retire, rollout } from './rollout.js';
import { planSlots } from './slots.js';

const DEFAULT_STOP_TIMEOUT = 10;
const TYPE_ORDER: Record<Action['type'], number> = { remove: 0, start: 1, create: 2, pull: 3, copy: 3 };
const WARNING_ACTIONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['Dead', 'Unstartable', 'NodeLost', 'Misplaced', 'Rescheduled']);
const WARNING_NOTES: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['DependencyCycle', 'BackOff', 'ActionBackOff', 'Unschedulable', 'PolicyRefused', 'NodeLost', 'NodeUnreachable']);

/**
 * What a pass may reuse from the previous one: each steady service's status
 * (nothing to do, all replicas ready and current) with the inputs it came
 * from, compared by reference. Handed back by the caller, so the reconcile
 * stays a function of its arguments.
 */
export interface ReconcileMemo {
  readonly nodes: readonly FogNode[];
  readonly settings: ReconcileSettings;
  readonly observed: readonly ObservedNode[];
  /** Nodes beyond their grace period then (a node crossing it changes what every service may do). */
  readonly lost: string;
  readonly services: ReadonlyMap<string, SteadyService>;
}

interface SteadyService {
  readonly svc: Service;
  readonly hash: string;
  readonly containers: readonly ObservedContainer[];
  readonly status: ServiceStatus;
}

/**
 * `rollouts`: the rollout book, wall clock and GitOps commit (safe rollouts,
 * revisions.ts). Without it the reconcile runs the plain rolling update: no
 * revisions, no monitoring, no rollback, no windows.
 */
export function reconcile(
  desired: DesiredState,
  observed: ObservedState,
  history: ActionHistory,
  now: number,
  previous?: ReconcileMemo,
  rollouts?: RolloutInputs,
): ReconcileResult & { memo: ReconcileMemo } {
  const world = pair(desired, observed, now);
  const pass = new PassOutput(now);
  const reusable = memoUsable(previous, desired, observed, world) ? previous : undefined;
  const inHistory = new Set<string>();
  if (reusable !== undefined) for (const h of history.values()) inHistory.add(h.service);
  const steady = new Map<string, SteadyService>();
  const nodes = nodeStatuses(world, desired, pass);
  const scheduler = new Scheduler(world.nodes);
  const images = new ImagePlanner(desired, observed);
  const services = new Map<string, Service>();
  for (const s of desired.services) services.set(s.metadata.name, s);

  // Services no longer desired: remove what we own of them.
  for (const [service, list] of world.replicas) {
    if (services.has(service)) continue;
    const orphans = list.map((r): Removal => ({ replica: r, reason: 'Orphaned', note: { code: 'Orphaned', service, container: r.c.name, node: r.nodeName } }));
    pass.commit(scheduler, services, heldRemovals(orphans, history, desired.settings, now, false, pass).go);
  }
  const cycles = dependencyCycles(desired.services);
  const repels = repelledBy(desired.services);
  const statuses: ServiceStatus[] = [];
  const book = rollouts !== undefined ? new Map<string, ServiceRollout>() : undefined;
  for (const declared of planningOrder(services)) {
    const name = declared.metadata.name;
    const manifestSvc = rollouts !== undefined ? restarted(declared, rollouts.book.get(name)?.restartedAt) : declared;
    const mine = world.replicas.get(name) ?? [];
    const object = `service/${name}`;
    const serviceCtx = (svc: Service, gates?: RolloutGates): ServiceCtx => {
      const deps = resolveDependencies(svc, services, world.replicas, cycles.get(name));
      const frozen = deps.blocked ?? (svc.spec.mode === 'replicated' ? unobservedHold(world, desired) : undefined);
      const shape = containerShape(svc, deps.env);
      return {
        svc,
        name,
        hash: fnv1a64(canonicalJson(shape)),
        shape,
        cluster: desired.settings.cluster,
        settings: desired.settings,
        now,
        history,
        totalNodes: world.nodes.length,
        images,
        ...(frozen !== undefined ? { frozen } : {}),
        ...(gates !== undefined ? { rollout: gates } : {}),
      };
    };
    let ctx: ServiceCtx;
    let entry: ServiceRollout | undefined;
    if (rollouts !== undefined) {
      const admitted = admit(rollouts.book.get(name), manifestSvc, rollouts, now);
      entry = pinRevisions(admitted.entry, rollouts.images);
      for (const n of admitted.events) pass.event(object, n);
      ctx = serviceCtx(effectiveService(manifestSvc, entry));
      const judged = judge(entry, manifestSvc, mine, ctx.hash, history, wantedCount(manifestSvc, mine), now, rollouts.wall);
      for (const n of judged.events) pass.event(object, n);
      entry = judged.entry;
      // Dependencies, shape and hash are worked out again only when the target changed (a rollback).
      const gates = rolloutGates(entry, manifestSvc, rollouts.wall, now);
      ctx = judged.retarget ? serviceCtx(effectiveService(manifestSvc, entry), gates) : { ...ctx, rollout: gates };
      ctx = pinnedCtx(ctx, targetRevision(entry));
    } else ctx = serviceCtx(manifestSvc);
    const svc = ctx.svc;
    const frozen = ctx.frozen;
    const kept = reusable?.services.get(name);
    const settledRollout = entry === undefined || (entry.phase === 'Complete' && entry.target === entry.manifest && entry.paused !== true);
    if (kept !== undefined && settledRollout && frozen === undefined && !inHistory.has(name) && kept.svc === svc && kept.hash === ctx.hash && sameContainers(kept.containers, mine)) {
      statuses.push(kept.status);
      steady.set(name, kept);
      if (book !== undefined && entry !== undefined) book.set(name, entry);
      continue;
    }
    const before = pass.mark();
    // Only bind mounts can be refused: skip the fleet-wide socket scan for the rest.
    const refused = svc.spec.volumes.some((v) => v.type === 'bind') ? refusal(svc, desired.nodes) : [];
    const planned =
      refused.length > 0
        ? { status: refusedService(ctx, mine, refused, pass), othersMatter: true }
        : planService(ctx, mine, world, scheduler.prepare(placementRequest(svc, repels.get(name), targetRevision(entry)?.platforms)), scheduler, services, pass);
    if (book !== undefined && entry !== undefined) {
      const counts = rolloutCounts(ctx, mine, planned.status.desired);
      pass.requeue(counts.monitorEnds);
      const settled = settle(entry, manifestSvc, counts, rollouts!.wall);
      for (const n of settled.events) pass.event(object, n);
      if (settled.entry !== entry) pass.requeue(now + 1);
      entry = settled.entry;
      book.set(name, entry);
      planned.status = withRollout(planned.status, entry, ctx.rollout);
    }
    statuses.push(planned.status);
    if (frozen === undefined && !planned.othersMatter && pass.unchangedSince(before) && isSteady(planned.status))
      steady.set(name, { svc, hash: ctx.hash, containers: mine.map((r) => r.c), status: planned.status });
  }
  const memo: ReconcileMemo = { nodes: desired.nodes, settings: desired.settings, observed: observed.nodes, lost: lostKey(world), services: steady };
  return { ...pass.result(statuses, nodes, world), memo, ...(book !== undefined ? { rollouts: sameBook(rollouts!.book, book) } : {}) };
}

/** New replicas of a pinned revision are created from `name@digest`; the hash (already worked out from the shape as written) stays. */
function pinnedCtx(ctx: ServiceCtx, rev: Revision | undefined): ServiceCtx {
  if (rev?.digest === undefined || ctx.shape.image !== rev.shape.image) return ctx;
  return { ...ctx, shape: { ...ctx.shape, image: revisionImage(rev) } };
}

/** The old book when no entry changed (so the caller can tell cheaply that nothing needs saving). */
function sameBook(before: RolloutBook, after: Map<string, ServiceRollout>): RolloutBook {
  if (before.size !== after.size) return after;
  for (const [k, v] of after) if (before.get(k) !== v) return after;
  return before;
}

/** How many replicas the rollout judges against: `replicas`, or for a global service the nodes it runs on. */
function wantedCount(svc: Service, mine: readonly Replica[]): number {
  if (svc.spec.mode === 'replicated') return svc.spec.replicas;
  return Math.max(1, new Set(mine.map((r) => r.nodeName)).size);
}

function rolloutGates(entry: ServiceRollout, svc: Service, wall: number, now: number): RolloutGates {
  const upd = svc.spec.update;
  const forward = rollingForward(entry);
  const gates: { -readonly [K in keyof RolloutGates]: RolloutGates[K] } = { monitor: forward ? upd.monitor : 0 };
  const hold = rolloutHold(entry, svc, wall);
  if (hold !== undefined) {
    gates.hold = hold.note;
    if (hold.opensAt !== undefined) gates.holdUntil = now + Math.max(1, hold.opensAt - wall);
  }
  if (forward && upd.canary > 0 && entry.promoted !== true) gates.canary = upd.canary;
  return gates;
}

/** What settle needs: replicas ready on the target, past their monitor period, and replicas of other specs still there. */
function rolloutCounts(ctx: ServiceCtx, mine: readonly Replica[], desired: number): { desired: number; onTarget: number; passed: number; others: number; monitorEnds?: number } {
  let onTarget = 0;
  let passed = 0;
  let others = 0;
  let monitorEnds: number | undefined;
  for (const r of mine) {
    if (r.hash !== ctx.hash) {
      others++;
      continue;
    }
    if (!replicaReady(ctx, r)) continue;
    onTarget++;
    if (replicaSettled(ctx, r)) passed++;
    else monitorEnds = earliest(monitorEnds, r.c.startedAt! + (ctx.rollout?.monitor ?? 0));
  }
  return { desired, onTarget, passed, others, ...(monitorEnds !== undefined ? { monitorEnds } : {}) };
}

/** The service's status with where its rollout stands (and a Rollout condition unless it is simply complete). */
function withRollout(st: ServiceStatus, entry: ServiceRollout, gates: RolloutGates | undefined): ServiceStatus {
  const monitor = gates?.monitor ?? 0;
  const target = findHash(entry, entry.target);
  const manifest = findHash(entry, entry.manifest);
  const summary: RolloutStatus = { phase: entry.phase, revision: target?.number ?? 0, hash: entry.target, manifestRevision: manifest?.number ?? 0, monitor };
  if (entry.paused === true) summary.paused = true;
  if (entry.pinned !== undefined) summary.pinned = entry.pinned;
  if (target !== undefined) summary.image = revisionImage(target);
  const note = rolloutNote(entry, st, gates?.hold);
  const out: ServiceStatus = { ...st, rollout: summary };
  if (note !== undefined) out.conditions = [...st.conditions, { type: 'Rollout', status: entry.phase !== 'Complete', reason: note.code, note }];
  return out;
}

function rolloutNote(entry: ServiceRollout, st: ServiceStatus, hold: Note | undefined): Note | undefined {
  const target = findHash(entry, entry.target);
  const manifest = findHash(entry, entry.manifest);
  const progress = st.conditions.find((c) => c.type === 'Progressing')?.note;
  if (entry.pinned !== undefined) return { code: 'RolloutUndo', to: entry.pinned, hash: entry.target };
  switch (entry.phase) {
    case 'Complete':
      return undefined;
    case 'RolledBack':
      if (manifest?.failure !== undefined && target !== undefined)
        return { code: 'RolledBack', from: manifest.number, fromHash: manifest.hash, to: target.number, toHash: target.hash, cause: manifest.failure };
      return progress;
    case 'Failed':
      if (manifest?.failure !== undefined) return { code: 'RolloutFailed', revision: manifest.number, hash: manifest.hash, cause: manifest.failure };
      return progress;
    case 'Paused':
      return { code: 'RolloutPaused', revision: target?.number ?? 0, by: entry.paused === true ? 'user' : 'canary' };
    case 'Pending':
    case 'Progressing':
      return hold ?? progress ?? { code: 'RollingUpdate', upToDate: st.upToDate, desired: st.desired };
  }
}

/** The node-level inputs are the same objects as last time, and no node crossed its grace period since. */
function memoUsable(m: ReconcileMemo | undefined, desired: DesiredState, observed: ObservedState, world: Paired): m is ReconcileMemo {
  if (m === undefined || m.nodes !== desired.nodes || m.settings !== desired.settings || m.observed.length !== observed.nodes.length || world.unobserved.length > 0) return false;
  for (let i = 0; i < observed.nodes.length; i++) {
    const a = m.observed[i]!;
    const b = observed.nodes[i]!;
    if (a.name !== b.name || a.reachable !== b.reachable || a.since !== b.since || a.facts !== b.facts) return false;
  }
  return m.lost === lostKey(world);
}

function lostKey(world: Paired): string {
  let key = '';
  for (const n of world.nodes) if (n.lost) key += `${n.name}\u0000`;
  return key;
}

function sameContainers(a: readonly ObservedContainer[], b: readonly Replica[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]!.c) return false;
  return true;
}

/** Every replica ready and current, and nothing else to say: the status cannot change while its inputs do not. */
function isSteady(s: ServiceStatus): boolean {
  return (
    s.ready === s.desired &&
    s.upToDate === s.desired &&
    s.available === s.desired &&
    s.unschedulable === undefined &&
    s.backoffs === undefined &&
    s.conditions.length === 2 &&
    s.replicas.every((r) => r.note === undefined)
  );
}

/**
 * One service through slots → place → rollout → heal → report. `othersMatter`:
 * a global service left some node out for a reason that other services or
 * capacity decide (affinity, resources, ports), so its plan may change when they do.
 */
function planService(
  ctx: ServiceCtx,
  mine: readonly Replica[],
  world: Paired,
  picker: ServicePicker,
  scheduler: Scheduler,
  services: ReadonlyMap<string, Service>,
  pass: PassOutput,
): { status: ServiceStatus; othersMatter: boolean } {
  const slotted = planSlots(ctx, mine, world.nodes, picker);
  const global = ctx.svc.spec.mode === 'global';
  const pruned = heldRemovals(slotted.removals, ctx.history, ctx.settings, ctx.now, global, pass);
  pass.commit(scheduler, services, pruned.go);
  const { removals: retirements, retired } = retire(ctx, slotted.slots);
  const retiring = heldRemovals(retirements, ctx.history, ctx.settings, ctx.now, global, pass);
  pass.commit(scheduler, services, retiring.go);
  const placed = placeVacant(ctx, slotted.slots, picker);
  pass.actions.push(...placed.actions);
  const rolled = rollout(ctx, { slots: slotted.slots, retired, placed: placed.planned }, picker, scheduler);
  pass.commit(scheduler, services, rolled.removals);
  pass.actions.push(...rolled.actions);

  const outcomes = slotted.slots.map((slot) => {
    const old = retired.has(slot) || rolled.replaced.has(slot) ? undefined : slot.old;
    return { slot, planned: placed.planned.has(slot) || rolled.planned.has(slot), ...(old !== undefined ? { old } : {}) };
  });
  const kept: { slot: number; replica: Replica }[] = [];
  for (const o of outcomes) {
    if (o.slot.cur !== undefined) kept.push({ slot: o.slot.slot, replica: o.slot.cur });
    if (o.old !== undefined) kept.push({ slot: o.slot.slot, replica: o.old });
  }
  const healed = heal(ctx, kept);
  pass.actions.push(...healed.actions);
  pass.requeue(earliest(earliest(placed.requeueAt, rolled.requeueAt), healed.requeueAt));

  const backoffs = [...pruned.held, ...retiring.held, ...placed.backoffs, ...rolled.backoffs, ...healed.backoffs];
  const pulling = [...placed.pulling, ...(rolled.note?.code === 'PullingImage' ? rolled.note.slots : [])];
  const extra: Condition[] = [];
  if (ctx.frozen !== undefined) extra.push(frozenCondition(ctx.frozen));
  const unschedulable = placed.unschedulable ?? rolled.unschedulable;
  const status = report(ctx, {
    slots: outcomes,
    healed: healed.healed,
    unslotted: slotted.unslotted,
    verdicts: [...slotted.verdicts, ...placed.verdicts],
    backoffs,
    extra,
    ...(unschedulable !== undefined ? { unschedulable } : {}),
    ...(rolled.note !== undefined ? { rollout: rolled.note } : {}),
  });
  if (pulling.length > 0 && rolled.note?.code !== 'PullingImage')
    status.conditions = [...status.conditions, { type: 'Images', status: true, reason: 'PullingImage', note: { code: 'PullingImage', slots: pulling } }];
  const object = `service/${ctx.name}`;
  if (ctx.frozen !== undefined && ctx.frozen.code !== 'NodeUnreachable') pass.event(object, ctx.frozen);
  for (const n of healed.events) pass.event(object, n);
  for (const n of backoffs) pass.event(object, n);
  if (status.unschedulable !== undefined) pass.event(object, { code: 'Unschedulable', ...status.unschedulable });
  // Static filters answer from the node alone (its manifest and engine facts), never from other services or capacity.
  const staticFilters = new Set(scheduler.filters.filter((f) => f.static).map((f) => f.name));
  const othersMatter = [...slotted.verdicts, ...placed.verdicts].some((v) => !staticFilters.has(v.rejection.filter));
  return { status, othersMatter };
}

/** Removals whose last attempt on this container failed and is backing off wait (the container stays, and so does what it holds). */
function heldRemovals(removals: readonly Removal[], history: ActionHistory, settings: ReconcileSettings, now: number, global: boolean, pass: PassOutput): { go: Removal[]; held: Note[] } {
  const go: Removal[] = [];
  const held: Note[] = [];
  for (const m of removals) {
    const r = m.replica;
    const slot = Number.isNaN(r.slot) ? -1 : r.slot;
    const gate = actionGate(history, r.service, slot, 'remove', target(r), now, settings, global);
    if (gate.open) go.push(m);
    else {
      held.push(gate.note);
      pass.requeue(gate.until);
    }
  }
  return { go, held };
}

function frozenCondition(note: Note): Condition {
  const type = note.code === 'DependencyWait' || note.code === 'DependencyCycle' ? note.code : 'NodeUnreachable';
  return { type, status: true, reason: note.code, note };
}

/** Never-allowed settings (schedule/security.ts): no action of any kind; what already runs is only reported. */
function refusedService(ctx: ServiceCtx, mine: readonly Replica[], reasons: readonly string[], pass: PassOutput): ServiceStatus {
  const note: Note = { code: 'PolicyRefused', reasons };
  const n = ctx.svc.spec.mode === 'global' ? 0 : ctx.svc.spec.replicas;
  pass.event(`service/${ctx.name}`, note);
  const refusedCtx: ServiceCtx = { ...ctx, frozen: note };
  const st = report(refusedCtx, {
    slots: Array.from({ length: n }, (_, slot) => ({ slot: { slot }, planned: false })),
    healed: [],
    unslotted: [],
    verdicts: [],
    backoffs: [],
    extra: [{ type: 'Refused', status: true, reason: 'PolicyRefused', note }],
    rollout: note,
  });
  return { ...st, replicas: mine.map((r) => replicaLine(ctx, r, note)) };
}

/**
 * A node that has not answered once since the controller started may run any
 * of a replicated service's replicas: creating them elsewhere now could double
 * them. New containers wait until its grace period (counted from the
 * controller's start) is over, as they would for a node seen going away.
 */
function unobservedHold(world: Paired, desired: DesiredState): Note | undefined {
  if (world.unobserved.length === 0) return undefined;
  const until = Math.max(...world.unobserved.map((n) => n.since)) + desired.settings.nodeGracePeriod;
  return { code: 'NodeUnreachable', nodes: world.unobserved.map((n) => n.name), until, unobserved: true };
}

function nodeStatuses(world: Paired, desired: DesiredState, pass: PassOutput): NodeStatus[] {
  const grace = desired.settings.nodeGracePeriod;
  return world.nodes.map((n) => {
    const st: NodeStatus = {
      name: n.name,
      reachable: n.reachable,
      since: n.since,
      unschedulable: n.cordoned,
      capacity: { ...n.capacity },
      reserved: { ...n.reserved },
      labels: n.facts.labels,
      devices: [...n.devices].sort(),
      replicas: world.managedOn.get(n.name) ?? 0,
    };
    if (n.lastSeen !== undefined) st.lastSeen = n.lastSeen;
    if (n.disk !== undefined) st.disk = { ...n.disk, pressure: n.diskPressure };
    if (!n.reachable) {
      if (n.error !== undefined) st.error = n.error;
      const away = { node: n.name, since: n.since, ...(n.lastSeen !== undefined ? { lastSeen: n.lastSeen } : {}), ...(n.error !== undefined ? { error: n.error } : {}) };
      st.note = n.lost ? { code: 'NodeLost', ...away } : { code: 'NodeUnreachable', ...away, until: n.since + grace };
      pass.event(`node/${n.name}`, st.note);
      if (!n.lost) pass.requeue(n.since + grace + 1);
    }
    return st;
  });
}

/** What the pass has decided so far: actions, events, the earliest requeue. */
class PassOutput {
  readonly actions: Action[] = [];
  private readonly events: StatusEvent[] = [];
  private requeueAt: number | undefined;

  constructor(private readonly now: number) {}

  /** Where the pass stands, to tell afterwards whether a service added anything. */
  mark(): { actions: number; events: number; requeueAt: number | undefined } {
    return { actions: this.actions.length, events: this.events.length, requeueAt: this.requeueAt };
  }

  unchangedSince(m: { actions: number; events: number; requeueAt: number | undefined }): boolean {
    return this.actions.length === m.actions && this.events.length === m.events && this.requeueAt === m.requeueAt;
  }

  requeue(t: number | undefined): void {
    if (t !== undefined && t > this.now) this.requeueAt = earliest(this.requeueAt, t);
  }

  event(object: string, note: Note, type: StatusEvent['type'] = WARNING_NOTES.has(note.code) ? 'Warning' : 'Normal'): void {
    this.events.push({ time: this.now, type, reason: note.code, object, note });
  }

  /** Removals become actions; what they held goes back to the scheduler for this pass. */
  commit(scheduler: Scheduler, services: ReadonlyMap<string, Service>, removals: readonly Removal[]): void {
    for (const { replica: r, reason, note, released } of removals) {
      if (!removable(r)) continue;
      if (released !== true) scheduler.release(r.node!, r.service, r.c.resources, r.c.hostPorts);
      const a: Action = {
        type: 'remove',
        node: r.nodeName,
        service: r.service,
        slot: Number.isNaN(r.slot) ? -1 : r.slot,
        reason,
        note,
        containerId: r.c.id,
        containerName: r.c.name,
        stopTimeout: services.get(r.service)?.spec.stopGracePeriod ?? DEFAULT_STOP_TIMEOUT,
      };
      if (r.hash !== undefined) a.specHash = r.hash;
      if (services.get(r.service)?.spec.mode === 'global') a.global = true;
      this.actions.push(a);
    }
  }

  result(statuses: ServiceStatus[], nodes: NodeStatus[], world: Paired): ReconcileResult {
    const actions = sortActions(this.actions, world);
    actionEvents(actions, this);
    const events = this.events.sort((a, b) => cmp(a.object, b.object) || cmp(a.reason, b.reason));
    const services = statuses.sort((a, b) => cmp(a.name, b.name));
    const out: ReconcileResult = { actions, status: { services, nodes, events } };
    if (this.requeueAt !== undefined) out.requeueAt = this.requeueAt;
    return out;
  }

  /** One event per service and reason, with the first action's note and a count (a fresh fleet would otherwise log 50k lines). */
  pushGroup(a: Action, more: number): void {
    const e: StatusEvent = { time: this.now, type: WARNING_ACTIONS.has(a.reason) ? 'Warning' : 'Normal', reason: a.reason, object: `service/${a.service}`, note: a.note };
    if (more > 0) e.more = more;
    this.events.push(e);
  }
}

function actionEvents(actions: readonly Action[], pass: PassOutput): void {
  const groups = new Map<string, { a: Action; n: number }>();
  for (const a of actions) {
    const key = `${a.service}\u0000${a.reason}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { a, n: 1 });
    else g.n++;
  }
  for (const { a, n } of groups.values()) pass.pushGroup(a, n - 1);
}

/** By node, service, slot, type (remove, start, create), name: bucketed per node, since a fleet plan can hold 50k actions. */
function sortActions(actions: readonly Action[], world: Paired): Action[] {
  const byNode = new Map<string, Action[]>();
  for (const a of actions) {
    let list = byNode.get(a.node);
    if (list === undefined) byNode.set(a.node, (list = []));
    list.push(a);
  }
  const out: Action[] = [];
  for (const n of world.nodes) {
    const list = byNode.get(n.name);
    if (list === undefined) continue;
    list.sort((a, b) => cmp(a.service, b.service) || a.slot - b.slot || TYPE_ORDER[a.type] - TYPE_ORDER[b.type] || cmp(actionName(a), actionName(b)) || cmp(actionTarget(a), actionTarget(b)));
    for (const a of list) out.push(a);
  }
  return out;
}

function actionName(a: Action): string {
  return a.type === 'create' ? a.container.name : a.type === 'pull' || a.type === 'copy' ? a.image : a.containerName;
}

function actionTarget(a: Action): string {
  return a.type === 'start' || a.type === 'remove' ? a.containerId : a.type === 'copy' ? a.from : '';
}
