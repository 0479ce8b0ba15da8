// The validation gate: may a fetched revision become the desired state?
// Pure: it sees what the revision holds and what the current one holds, and
// answers with a verdict that carries everything a person needs to act.

import type { LoadError } from '../api/types.js';

/** Why a revision was not made current. */
export type HoldReason = 'invalid' | 'empty' | 'prune-blocked';

export interface GatePolicy {
  /** Let a revision with no Service at all go through. Default false. */
  allowEmpty: boolean;
  /** Removing more than this share of the current Services at once needs a confirmation. Default 0.5. */
  maxPruneRatio: number;
}

export const DEFAULT_POLICY: GatePolicy = { allowEmpty: false, maxPruneRatio: 0.5 };

export interface Candidate {
  /** Whether --path exists in the revision as a folder. */
  pathExists: boolean;
  path: string;
  services: readonly string[];
  errors: readonly LoadError[];
}

export type Verdict = { ok: true; removed: string[] } | { ok: false; reason: HoldReason; message: string; errors: LoadError[]; removed: string[] };

/**
 * `current` is undefined before the first revision was made current (nothing
 * can be pruned then). `confirmed` says the operator confirmed this very
 * revision (`fogctl sync --confirm SHA`): it lifts the prune limit only.
 */
export function judgeRevision(candidate: Candidate, current: readonly string[] | undefined, policy: GatePolicy, confirmed: boolean): Verdict {
  const next = new Set(candidate.services);
  const removed = (current ?? []).filter((s) => !next.has(s)).sort();
  if (candidate.errors.length > 0) {
    const first = candidate.errors[0]!;
    const more = candidate.errors.length > 1 ? ` (and ${candidate.errors.length - 1} more)` : '';
    return { ok: false, reason: 'invalid', message: `${first.file}:${first.line}:${first.col}: ${first.message}${more}`, errors: [...candidate.errors], removed };
  }
  if (next.size === 0) {
    if (policy.allowEmpty) return { ok: true, removed };
    const where = candidate.pathExists ? `${candidate.path || 'the repository root'} holds no Service` : `path ${candidate.path} does not exist in this revision`;
    return { ok: false, reason: 'empty', message: `${where}: refusing to remove every service (check --path and the branch, or pass --allow-empty)`, errors: [], removed };
  }
  const before = current?.length ?? 0;
  if (before > 0 && removed.length / before > policy.maxPruneRatio && !confirmed) {
    return {
      ok: false,
      reason: 'prune-blocked',
      message: `would remove ${removed.length} of ${before} services (${removed.join(', ')}), more than ${Math.round(policy.maxPruneRatio * 100)}% at once`,
      errors: [],
      removed,
    };
  }
  return { ok: true, removed };
}

/**
 * Delay before the next attempt after `failures` consecutive failures:
 * interval · 2^failures, capped at maxMs (never below the interval).
 */
export function backoffDelay(failures: number, intervalMs: number, maxMs: number): number {
  if (failures <= 0) return intervalMs;
  const grown = intervalMs * 2 ** Math.min(failures, 30);
  return Math.max(intervalMs, Math.min(grown, maxMs));
}
