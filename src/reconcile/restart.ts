// Restarts the controller does on top of the engine's own restart policy:
// exponential back-off from the container's finish time, crash-loop detection,
// and the terminal states of `never` / exhausted `on-failure`.
//
// The streak counts the engine's restarts (RestartCount) plus the controller's
// own starts of this container (from the action history). A container that
// had run for `stableRunMs` before it stopped starts a new streak, so a
// container stopped from outside once (`docker kill`, which Docker treats as a
// manual stop) is started again at once; back-off only grows when it keeps
// happening.

import type { Note } from '../api/notes.js';
import type { ObservedContainer, ReconcileSettings, RestartPolicy } from '../api/types.js';

/** 0 for the first restart of a streak, then min(max, base · 2^(streak-1)): 0, 1s, 2s, 4s, … 60s with the defaults. */
export function restartBackoff(streak: number, settings: Pick<ReconcileSettings, 'restartBackoffBase' | 'restartBackoffMax'>): number {
  if (streak <= 0) return 0;
  const exp = Math.min(streak - 1, 30);
  return Math.min(settings.restartBackoffMax, settings.restartBackoffBase * 2 ** exp);
}

export type RestartDecision =
  | { kind: 'none' } // running, or the engine is on it (restarting), or paused
  | { kind: 'start'; note: Note }
  | { kind: 'backoff'; until: number; note: Note }
  | { kind: 'completed'; note: Note }
  | { kind: 'failed'; note: Note };

const NONE: RestartDecision = Object.freeze({ kind: 'none' });

/** Whether an exited container should run again under its policy. */
export function shouldRestart(c: ObservedContainer, policy: RestartPolicy, streak = c.restartCount): boolean {
  if (policy.policy === 'always') return true;
  if (policy.policy === 'never') return false;
  return (c.exitCode ?? 1) !== 0 && streak < policy.maxRetries;
}

/**
 * Restarts in a row: the engine's plus the controller's, unless the container
 * last ran long enough to count as stable, or it stopped before its node last
 * came back (`nodeSince`): a node's outage kills its containers, and a node
 * that flaps is the node's streak, not theirs.
 */
export function restartStreak(c: ObservedContainer, controllerRestarts: number, settings: Pick<ReconcileSettings, 'stableRunMs'>, nodeSince?: number): number {
  if (nodeSince !== undefined && c.finishedAt !== undefined && c.finishedAt <= nodeSince) return 0;
  const ran = c.startedAt !== undefined && c.finishedAt !== undefined ? c.finishedAt - c.startedAt : 0;
  return ran >= settings.stableRunMs ? 0 : c.restartCount + controllerRestarts;
}

export function restartDecision(c: ObservedContainer, policy: RestartPolicy, settings: ReconcileSettings, now: number, controllerRestarts = 0, nodeSince?: number): RestartDecision {
  if (c.state === 'created') return { kind: 'start', note: { code: 'Start', container: c.name } };
  if (c.state !== 'exited') return NONE;
  const total = c.restartCount + controllerRestarts;
  if (!shouldRestart(c, policy, total)) {
    if (c.exitCode === 0) return { kind: 'completed', note: { code: 'Completed', count: 1, exitCode: 0 } };
    const note: Note = { code: 'Failed', count: 1, restart: policy, restarts: total };
    if (c.exitCode !== undefined) note.exitCode = c.exitCode;
    return { kind: 'failed', note };
  }
  const streak = restartStreak(c, controllerRestarts, settings, nodeSince);
  const backoff = restartBackoff(streak, settings);
  const due = (c.finishedAt ?? Number.NEGATIVE_INFINITY) + backoff;
  if (now >= due) {
    const note: Note = { code: 'Restart', container: c.name, restart: total + 1, backoff };
    if (c.exitCode !== undefined) note.exitCode = c.exitCode;
    return { kind: 'start', note };
  }
  return { kind: 'backoff', until: due, note: { code: 'BackOff', container: c.name, backoff, until: due } };
}

/** Not running and restarted at least `crashLoopRestarts` times in a row. */
export function inCrashLoop(c: ObservedContainer, settings: ReconcileSettings, controllerRestarts = 0, nodeSince?: number): boolean {
  return c.state !== 'running' && restartStreak(c, controllerRestarts, settings, nodeSince) >= settings.crashLoopRestarts;
}
