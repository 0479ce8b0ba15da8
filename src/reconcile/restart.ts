// Restarts the controller does on top of the engine's own restart policy:
// exponential back-off from the container's finish time, crash-loop detection,
// and the terminal states of `never` / exhausted `on-failure`.

import { formatDuration } from '../api/quantity.js';
import type { ObservedContainer, ReconcileSettings, RestartPolicy } from '../api/types.js';

/** min(max, base · 2^restartCount): 1s, 2s, 4s, … 60s with the defaults. */
export function restartBackoff(restartCount: number, settings: Pick<ReconcileSettings, 'restartBackoffBase' | 'restartBackoffMax'>): number {
  const exp = Math.min(Math.max(0, restartCount), 30);
  return Math.min(settings.restartBackoffMax, settings.restartBackoffBase * 2 ** exp);
}

export type RestartDecision =
  | { kind: 'none' } // running, or the engine is on it (restarting), or paused
  | { kind: 'start'; reason: 'Start' | 'Restart'; message: string }
  | { kind: 'backoff'; until: number; message: string }
  | { kind: 'completed'; message: string }
  | { kind: 'failed'; message: string };

const NONE: RestartDecision = Object.freeze({ kind: 'none' });

/** Whether an exited container should run again under its policy. */
export function shouldRestart(c: ObservedContainer, policy: RestartPolicy): boolean {
  if (policy.policy === 'always') return true;
  if (policy.policy === 'never') return false;
  return (c.exitCode ?? 1) !== 0 && c.restartCount < policy.maxRetries;
}

export function restartDecision(c: ObservedContainer, policy: RestartPolicy, settings: ReconcileSettings, now: number): RestartDecision {
  if (c.state === 'created') return { kind: 'start', reason: 'Start', message: `starting ${c.name} (created, never started)` };
  if (c.state !== 'exited') return NONE;
  if (!shouldRestart(c, policy)) {
    const code = c.exitCode ?? 'unknown';
    if (c.exitCode === 0) return { kind: 'completed', message: `exited with code 0 (restart: ${policy.policy})` };
    const why = policy.policy === 'on-failure' ? `gave up after ${c.restartCount} restarts (maxRetries ${policy.maxRetries})` : 'restart: never';
    return { kind: 'failed', message: `exited with code ${code}, ${why}` };
  }
  const backoff = restartBackoff(c.restartCount, settings);
  const due = (c.finishedAt ?? Number.NEGATIVE_INFINITY) + backoff;
  if (now >= due)
    return { kind: 'start', reason: 'Restart', message: `restarting ${c.name} (exit code ${c.exitCode ?? 'unknown'}, restart ${c.restartCount + 1}, back-off ${formatDuration(backoff)})` };
  return { kind: 'backoff', until: due, message: `back-off ${formatDuration(backoff)} restarting failed container ${c.name}` };
}

/** Not running and restarted at least `crashLoopRestarts` times. */
export function inCrashLoop(c: ObservedContainer, settings: ReconcileSettings): boolean {
  return c.restartCount >= settings.crashLoopRestarts && c.state !== 'running';
}
