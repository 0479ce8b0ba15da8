// Safe rollouts: each service's revisions and where its rollout stands, as a
// value the controller keeps (ServiceRollout) and the reconcile advances.
//
//   admit     the manifest's spec hash, seen once: a new revision. A spec that
//             failed before is never retried until the manifest changes again;
//             with maintenance windows a change waits (Pending) on the last
//             complete revision until a window opens.
//   judge     before planning: a rollout whose new replicas failed (exited,
//             restarted, unhealthy, their create refused) beyond
//             maxFailureRatio, or that passed its progressDeadline, fails;
//             failureAction rollback drives the replicas back to the last
//             complete revision (with the same update rules); pause holds
//             every replica where it is (anything made anew is the last
//             complete revision).
//   settle    after planning: every replica on the target and past its
//             monitor period completes the revision; a canary is promoted
//             (autoPromote) or waits for `fogctl rollout resume`.
//
// The user's commands (undo, pause, resume) are pure updates of the same
// value (undo, pause, resume below); the controller persists the book.

import type { Note, RolloutFailure } from '../api/notes.js';
import { historyKey, REVISIONS_KEPT, type ActionHistory, type Revision, type RolloutInputs, type Service, type ServiceRollout, type ServiceSpec } from '../api/types.js';
import { windowState } from '../api/window.js';
import { specHash, specShape } from './hash.js';
import type { Replica } from './pair.js';

const hashes = new WeakMap<Service, string>();

/** A revision's identity: the hash of its container shape without dependency endpoints (remembered per Service object: every pass asks). */
export function revisionHash(svc: Service): string {
  let h = hashes.get(svc);
  if (h === undefined) hashes.set(svc, (h = specHash(svc)));
  return h;
}

/** The service the replicas are driven to: the manifest's, with the target revision's container shape. */
export function effectiveService(svc: Service, entry: ServiceRollout): Service {
  if (entry.target === entry.manifest) return svc;
  const rev = findHash(entry, entry.target);
  if (rev === undefined) return svc;
  const spec: ServiceSpec = { ...svc.spec, ...rev.shape };
  if (rev.shape.command === undefined) delete spec.command;
  if (rev.shape.healthcheck === undefined) delete spec.healthcheck;
  if (rev.shape.security === undefined) delete spec.security;
  if (rev.shape.restartedAt === undefined) delete spec.restartedAt;
  return { ...svc, spec };
}

export function findHash(entry: ServiceRollout, hash: string): Revision | undefined {
  for (let i = entry.revisions.length - 1; i >= 0; i--) if (entry.revisions[i]!.hash === hash) return entry.revisions[i];
  return undefined;
}

export function findNumber(entry: ServiceRollout, n: number): Revision | undefined {
  return entry.revisions.find((r) => r.number === n);
}

/** The newest revision that completed, other than `except`. */
export function lastGood(entry: ServiceRollout, except?: string): Revision | undefined {
  for (let i = entry.revisions.length - 1; i >= 0; i--) {
    const r = entry.revisions[i]!;
    if (r.outcome === 'complete' && r.hash !== except) return r;
  }
  return undefined;
}

export interface Admitted {
  readonly entry: ServiceRollout;
  readonly events: readonly Note[];
}

/**
 * The entry once the manifest's spec has been looked at: a hash not seen last
 * time starts a new revision (or, failed before, is refused); a Pending one
 * starts when a window opens. `now` is monotonic, `inputs.wall` the wall clock.
 */
export function admit(prev: ServiceRollout | undefined, svc: Service, inputs: RolloutInputs, now: number): Admitted {
  const hash = revisionHash(svc);
  const upd = svc.spec.update;
  if (prev === undefined) {
    // First sight (a new service, or a controller without a book): nothing to hold on to or go back to.
    const rev = newRevision(1, hash, svc, inputs, 'progressing');
    const entry: ServiceRollout = { service: svc.metadata.name, revisions: [rev], manifest: hash, target: hash, phase: 'Progressing', startedAt: now };
    return { entry, events: [] };
  }
  if (prev.manifest === hash) {
    let entry = prev.startedAt === undefined && (prev.phase === 'Progressing' || prev.phase === 'Paused' || prev.phase === 'RolledBack') ? { ...prev, startedAt: now } : prev;
    const events: Note[] = [];
    if (entry.phase === 'Pending' && windowState(upd.windows, inputs.wall).open) {
      entry = start(entry, hash, now);
      events.push({ code: 'RolloutStarted', revision: findHash(entry, hash)!.number, hash });
    } else if (rollingForward(entry) && upd.windows.length > 0) {
      // A rollout held between batches by a closed window gets a fresh progressDeadline when the next window opens.
      const open = windowState(upd.windows, inputs.wall).open;
      if (!open && entry.windowHeld !== true) entry = { ...entry, windowHeld: true };
      else if (open && entry.windowHeld === true) {
        const { windowHeld: _w, ...rest } = entry;
        entry = { ...rest, startedAt: now };
      }
    }
    return { entry, events };
  }
  // The manifest changed: a pin or a pause of the old one no longer holds.
  const base: ServiceRollout = dropOverrides({ ...prev, manifest: hash });
  const seen = findHash(prev, hash);
  if (seen?.outcome === 'failed') {
    // Not retried until the manifest changes again: stay on (or go back to) the last good revision.
    const good = lastGood(prev, hash);
    const entry: ServiceRollout = good !== undefined ? { ...base, target: good.hash, phase: 'RolledBack', startedAt: now } : { ...base, phase: 'Failed' };
    return { entry, events: [] };
  }
  const number = Math.max(...prev.revisions.map((r) => r.number)) + 1;
  const rest = prev.revisions.filter((r) => r.hash !== hash).map((r): Revision => (r.outcome === 'progressing' || r.outcome === 'pending' ? { ...r, outcome: 'superseded' } : r));
  const good = lastGood(prev);
  const waits = upd.windows.length > 0 && good !== undefined && !windowState(upd.windows, inputs.wall).open;
  const rev = newRevision(number, hash, svc, inputs, waits ? 'pending' : 'progressing');
  const revisions = [...rest, rev].slice(-REVISIONS_KEPT);
  if (waits) return { entry: { ...base, revisions, target: good.hash, phase: 'Pending' }, events: [] };
  return { entry: { ...base, revisions, target: hash, phase: 'Progressing', startedAt: now }, events: [{ code: 'RolloutStarted', revision: number, hash }] };
}

function newRevision(number: number, hash: string, svc: Service, inputs: RolloutInputs, outcome: Revision['outcome']): Revision {
  return {
    number,
    hash,
    shape: specShape(svc.spec),
    created: inputs.wall,
    source: { file: svc.source.file, line: svc.source.line },
    ...(inputs.commit !== undefined ? { commit: inputs.commit } : {}),
    outcome,
  };
}

function dropOverrides(e: ServiceRollout): ServiceRollout {
  const { paused: _p, pinned: _n, promoted: _c, windowHeld: _w, ...rest } = e;
  return rest;
}

function start(entry: ServiceRollout, hash: string, now: number): ServiceRollout {
  return { ...entry, target: hash, phase: 'Progressing', startedAt: now, revisions: setOutcome(entry.revisions, hash, { outcome: 'progressing' }) };
}

function setOutcome(revisions: readonly Revision[], hash: string, change: Partial<Revision>): Revision[] {
  return revisions.map((r) => (r.hash === hash ? { ...r, ...change } : r));
}

/** Whether the rollout toward the manifest's revision is what runs now (so monitoring and failure judging apply). */
export function rollingForward(entry: ServiceRollout): boolean {
  return entry.phase === 'Progressing' && entry.target === entry.manifest && entry.pinned === undefined;
}

type FailedReplica = Extract<RolloutFailure, { kind: 'replicas' }>['failed'][number];

/** Why one new replica counts as failed, if it does: it stopped, Docker or the controller restarted it, or its healthcheck failed. */
function replicaFailure(r: Replica, policy: ServiceSpec['restart']['policy']): FailedReplica | undefined {
  const c = r.c;
  const base = { slot: r.slot, node: r.nodeName, container: c.name };
  // A run-to-completion service (restart on-failure or never) that exits 0 did its job.
  const completed = c.state === 'exited' && c.exitCode === 0 && policy !== 'always';
  if ((c.state === 'exited' || c.state === 'dead') && !completed) return { ...base, why: 'exited', ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}) };
  if (c.restartCount > 0) return { ...base, why: 'restarted' };
  if (c.health === 'unhealthy') return { ...base, why: 'unhealthy' };
  return undefined;
}

export interface Judged {
  readonly entry: ServiceRollout;
  readonly events: readonly Note[];
  /** The entry's target changed (a rollback): the service must be looked at again with it. */
  readonly retarget: boolean;
}

/**
 * Before planning: has the rollout toward the manifest's revision failed? `targetHash`
 * is the replicas' hash for that revision (dependency endpoints included).
 */
export function judge(entry: ServiceRollout, svc: Service, mine: readonly Replica[], targetHash: string, history: ActionHistory, desired: number, now: number, wall: number): Judged {
  const upd = svc.spec.update;
  // The first revision is not judged: there is nothing to go back to, and its crashes are reported as such (CrashLoop, Failed).
  if (!rollingForward(entry) || upd.failureAction === 'continue' || lastGood(entry, entry.target) === undefined) return { entry, events: [], retarget: false };
  const failed: FailedReplica[] = [];
  for (const r of mine) {
    if (r.hash !== targetHash || r.where !== 'live') continue;
    const f = replicaFailure(r, svc.spec.restart.policy);
    if (f !== undefined) failed.push(f);
  }
  for (const f of refusedCreates(history, svc.metadata.name, targetHash, desired)) failed.push(f);
  const allowed = Math.floor(upd.maxFailureRatio * desired + 1e-9);
  let cause: RolloutFailure | undefined;
  if (failed.length > allowed) cause = { kind: 'replicas', allowed, failed: failed.sort((a, b) => a.slot - b.slot) };
  // The deadline does not run out while the rollout is held on purpose (paused, or between batches outside its windows).
  else if (entry.startedAt !== undefined && now >= entry.startedAt + upd.progressDeadline && entry.paused !== true && entry.windowHeld !== true)
    cause = { kind: 'deadline', deadline: upd.progressDeadline };
  if (cause === undefined) return { entry, events: [], retarget: false };
  const rev = findHash(entry, entry.target)!;
  const revisions = setOutcome(entry.revisions, entry.target, { outcome: 'failed', failure: cause, ended: wall });
  const failedNote: Note = { code: 'RolloutFailed', revision: rev.number, hash: rev.hash, cause };
  const good = lastGood(entry, entry.target);
  if (good === undefined) return { entry: { ...entry, revisions, phase: 'Failed' }, events: [failedNote], retarget: false };
  // failureAction pause: nothing more is replaced, but what must be made anew (a crash, a lost node) is the last good revision.
  if (upd.failureAction === 'pause') return { entry: { ...entry, revisions, target: good.hash, phase: 'Failed' }, events: [failedNote], retarget: true };
  const back: Note = { code: 'RolledBack', from: rev.number, fromHash: rev.hash, to: good.number, toHash: good.hash, cause };
  return { entry: { ...entry, revisions, target: good.hash, phase: 'RolledBack', startedAt: now }, events: [failedNote, back], retarget: true };
}

/** Creates of the target spec that were refused for good (or kept failing): each a failed replica. */
function refusedCreates(history: ActionHistory, service: string, hash: string, desired: number): FailedReplica[] {
  const out: FailedReplica[] = [];
  for (let slot = 0; slot < desired; slot++) {
    const f = history.get(historyKey(service, slot))?.failures?.find((x) => x.type === 'create' && x.specHash === hash);
    if (f !== undefined && (!f.retryable || f.attempts >= 3)) out.push({ slot, node: f.node, container: '', why: 'create-failed' });
  }
  return out;
}

/** Ready and running at least `monitor` ms (a replica with no start time yet is not). */
export function monitored(r: Replica | undefined, monitor: number, ready: boolean, now: number): boolean {
  return r !== undefined && ready && r.c.startedAt !== undefined && r.c.startedAt + monitor <= now;
}

export interface Settled {
  readonly entry: ServiceRollout;
  readonly events: readonly Note[];
  /** When a monitor period ends (a pass should look then). */
  readonly requeueAt?: number;
}

/**
 * After planning: `onTarget` is how many of the `desired` replicas run the
 * target (ready), `passed` how many of those also passed their monitor
 * period, `others` how many replicas of other hashes are still there.
 */
export function settle(entry: ServiceRollout, svc: Service, counts: { desired: number; onTarget: number; passed: number; others: number }, wall: number): Settled {
  const upd = svc.spec.update;
  const { desired, onTarget, passed, others } = counts;
  if (entry.phase === 'Progressing' && upd.canary > 0 && entry.promoted !== true && rollingForward(entry)) {
    const canaries = Math.min(upd.canary, desired);
    if (passed >= canaries && others > 0) {
      if (upd.autoPromote) return { entry: { ...entry, promoted: true }, events: [] };
      return { entry: { ...entry, phase: 'Paused' }, events: [{ code: 'RolloutPaused', revision: findHash(entry, entry.target)?.number ?? 0, by: 'canary' }] };
    }
  }
  const done = onTarget >= desired && others === 0 && (entry.phase !== 'Progressing' || !rollingForward(entry) || passed >= desired);
  if (!done) return { entry, events: [] };
  if (entry.phase === 'Progressing') {
    const rev = findHash(entry, entry.target);
    const revisions = rev !== undefined && rev.outcome !== 'complete' ? setOutcome(entry.revisions, entry.target, { outcome: 'complete', ended: wall }) : entry.revisions;
    const e: ServiceRollout = { ...entry, revisions, phase: 'Complete' };
    delete (e as { startedAt?: number }).startedAt;
    return { entry: e, events: rev !== undefined && rev.outcome !== 'complete' ? [{ code: 'RevisionComplete', revision: rev.number, hash: rev.hash }] : [] };
  }
  return { entry, events: [] };
}

/** What holds the next batch of the rollout now, if anything (a pause, a failed rollout that pauses, a closed window, a canary waiting). */
export function rolloutHold(entry: ServiceRollout, svc: Service, wall: number): { note: Note; opensAt?: number } | undefined {
  const rev = findHash(entry, entry.target)?.number ?? 0;
  if (entry.paused === true) return { note: { code: 'RolloutPaused', revision: rev, by: 'user' } };
  if (entry.phase === 'Paused') return { note: { code: 'RolloutPaused', revision: rev, by: 'canary' } };
  if (entry.phase === 'Failed') return { note: { code: 'RolloutPaused', revision: rev, by: 'failure' } };
  if (entry.phase === 'Pending' || (rollingForward(entry) && svc.spec.update.windows.length > 0)) {
    const w = windowState(svc.spec.update.windows, wall);
    if (!w.open || entry.phase === 'Pending') {
      const pending = findHash(entry, entry.manifest)?.number ?? rev;
      const opensAt = w.open ? undefined : w.opensAt;
      return {
        note: { code: 'WaitingForWindow', revision: pending, windows: svc.spec.update.windows.map((x) => x.text), ...(opensAt !== undefined ? { opensAt } : {}) },
        ...(opensAt !== undefined ? { opensAt } : {}),
      };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The user's commands (through the controller's control endpoint).

/** `restart`: `at` is the wall clock (ms) the controller stamps on it; it becomes part of the container shape, so the next pass admits a new revision whose tag is resolved afresh. */
export type Command = { kind: 'undo'; toRevision?: number } | { kind: 'pause' } | { kind: 'resume' } | { kind: 'restart'; at?: number };
export type CommandResult = { ok: true; entry: ServiceRollout; note: Note } | { ok: false; message: string };

export function applyCommand(entry: ServiceRollout | undefined, service: string, cmd: Command, now: number): CommandResult {
  if (entry === undefined) return { ok: false, message: `service ${service} has no rollout history yet (is it in the desired folder, and has the controller run a pass?)` };
  const current = findHash(entry, entry.target);
  switch (cmd.kind) {
    case 'pause':
      return { ok: true, entry: { ...entry, paused: true }, note: { code: 'RolloutPaused', revision: current?.number ?? 0, by: 'user' } };
    case 'resume': {
      // The time spent paused does not count toward progressDeadline.
      const next: ServiceRollout = { ...entry, promoted: true, startedAt: now };
      delete (next as { paused?: boolean }).paused;
      return { ok: true, entry: entry.phase === 'Paused' ? { ...next, phase: 'Progressing' } : next, note: { code: 'RolloutResumed', revision: current?.number ?? 0 } };
    }
    case 'restart': {
      const at = Math.max(cmd.at ?? now, (entry.restartedAt ?? 0) + 1);
      return { ok: true, entry: { ...entry, restartedAt: at }, note: { code: 'RolloutRestart', revision: current?.number ?? 0 } };
    }
    case 'undo': {
      const to = cmd.toRevision !== undefined ? findNumber(entry, cmd.toRevision) : previousOf(entry);
      if (to === undefined) {
        const have = entry.revisions.map((r) => r.number).join(', ');
        return {
          ok: false,
          message: cmd.toRevision !== undefined ? `service ${service} has no revision ${cmd.toRevision} (kept: ${have})` : `service ${service} has no earlier revision to go back to (kept: ${have})`,
        };
      }
      if (to.hash === entry.target) return { ok: false, message: `service ${service} already runs revision ${to.number}` };
      const next: ServiceRollout = { ...entry, target: to.hash, pinned: to.number, phase: 'Progressing', startedAt: now };
      delete (next as { paused?: boolean }).paused;
      return { ok: true, entry: next, note: { code: 'RolloutUndo', to: to.number, hash: to.hash } };
    }
  }
}

/** The revision before the one running now (kubectl's undo): the newest complete one other than the target. */
function previousOf(entry: ServiceRollout): Revision | undefined {
  return lastGood(entry, entry.target);
}
