// The decisions of "one controller acts per cluster", as pure functions of
// what was observed and the monotonic time: no I/O, no clock. The shell
// (src/ha/gate.ts, src/ha/elector.ts) feeds them.

import { LABEL, type ObservedContainer, type ObservedState } from '../api/types.js';

// ---------------------------------------------------------------------------
// Leader election timing (client-go's leaderelection: LeaseDuration,
// RenewDeadline, RetryPeriod).

export interface LeaseTiming {
  /** How long a lease lives without renewal; the standby takes over only after it ran out. */
  leaseMs: number;
  /** The leader stops acting when its last successful renewal was sent this long ago. */
  renewDeadlineMs: number;
  /** Between two renewals (leader) or two attempts to take the lease (standby). */
  retryMs: number;
}

/** client-go's own defaults are 15 s / 10 s / 2 s; fogctl's lease defaults to 10 s with the same proportions. */
export function timingFor(leaseMs: number, renewDeadlineMs?: number, retryMs?: number): LeaseTiming {
  return { leaseMs, renewDeadlineMs: renewDeadlineMs ?? Math.round((leaseMs * 2) / 3), retryMs: retryMs ?? Math.round(leaseMs / 5) };
}

/** client-go's checks (leaseDuration > renewDeadline > retryPeriod × 1.2), plus etcd's whole-second TTLs of at least 2 s. */
export function timingProblem(t: LeaseTiming): string | undefined {
  if (t.leaseMs < 2_000 || t.leaseMs % 1_000 !== 0) return `--ha-lease ${t.leaseMs}ms: must be whole seconds, at least 2s (etcd's lease TTLs are whole seconds, 2 s at the least)`;
  if (t.renewDeadlineMs >= t.leaseMs) return `--ha-renew-deadline ${t.renewDeadlineMs}ms: must be shorter than --ha-lease ${t.leaseMs}ms (the leader must stop acting before its lease can run out)`;
  if (t.renewDeadlineMs <= t.retryMs * 1.2) return `--ha-renew-deadline ${t.renewDeadlineMs}ms: must be more than 1.2 × --ha-retry-period ${t.retryMs}ms (a renewal must have time to be retried)`;
  if (t.retryMs <= 0) return `--ha-retry-period ${t.retryMs}ms: must be more than 0`;
  return undefined;
}

export type Leadership =
  | { role: 'standby'; reason: string }
  /** `renewSentAt`: monotonic time at which the last successful grant or renewal was sent (etcd started the TTL later than that). */
  | { role: 'leader'; rev: number; leaseId: string; renewSentAt: number };

export type ActVerdict = { act: true; rev?: number } | { act: false; why: string };

/**
 * May the leader act now? Only while its last successful renewal was sent
 * less than the renew deadline ago: the lease then lives at least
 * leaseMs - renewDeadlineMs longer, which is the margin for clock rates
 * and for one engine call in flight.
 */
export function leaderMayAct(l: Leadership, now: number, t: LeaseTiming): ActVerdict {
  if (l.role !== 'leader') return { act: false, why: l.reason };
  const deadline = l.renewSentAt + t.renewDeadlineMs;
  if (now >= deadline) return { act: false, why: `the lease (revision ${l.rev}) was last renewed ${Math.round(now - l.renewSentAt)} ms ago, beyond the renew deadline of ${t.renewDeadlineMs} ms` };
  return { act: true, rev: l.rev };
}

/** Whether a renewal must be given up (stepping down): past the renew deadline. */
export function renewalExpired(l: Leadership, now: number, t: LeaseTiming): boolean {
  return l.role === 'leader' && now >= l.renewSentAt + t.renewDeadlineMs;
}

/**
 * How long a standby waits before its next attempt: the retry period (with
 * client-go's jitter, `jitter` in [0, 1)), or, when etcd says the holder's
 * lease has less than that to live, until then (not before 100 ms: etcd
 * counts the remaining TTL in whole seconds, rounded down), so that it takes
 * over as soon as the lease has run out instead of up to a retry period later.
 */
export function standbyWaitMs(t: LeaseTiming, holderTtlSeconds: number | undefined, jitter: number): number {
  const retry = t.retryMs * (1 + 0.2 * jitter);
  if (holderTtlSeconds === undefined) return retry;
  return Math.min(retry, Math.max(100, holderTtlSeconds * 1_000));
}

// ---------------------------------------------------------------------------
// Conflicts without etcd: another controller of the same cluster acting on
// the same engines, seen by the containers it creates.

export interface ConflictMemory {
  /** What each node showed at the previous observation. */
  readonly nodes: ReadonlyMap<string, NodeSeen>;
  /** The last time (monotonic) each other identity was seen acting, and what it made last. */
  readonly others: ReadonlyMap<string, ForeignSighting>;
}

/** One node as the conflict watch last saw it. */
export interface NodeSeen {
  /** Reachable then: a node seen for the first time (or again) is a baseline, not news. */
  readonly reachable: boolean;
  /** Its containers array as observed (the observer keeps the array of an unchanged node: same array, nothing new). */
  readonly containers: readonly ObservedContainer[];
  /** Container ids already seen on it (kept while it is unreachable). */
  readonly known: ReadonlySet<string>;
}

export interface ForeignSighting {
  identity: string;
  node: string;
  container: string;
  at: number;
}

export const NO_CONFLICT_MEMORY: ConflictMemory = { nodes: new Map(), others: new Map() };

/**
 * Folds one observation in. A container is news when its node was
 * reachable at the previous observation too and its id was never seen: it
 * was created since. News of this cluster carrying another controller's
 * identity is a sighting, unless it carries a lease revision (`ha`: an
 * earlier leader elected through etcd, which etcd already kept apart).
 * A node whose containers array and reachability are those of the previous
 * observation is taken as it was: at 1,000 idle nodes the controller folds an
 * observation in every second, and rebuilding 10,000 ids each time was most
 * of an idle pass.
 */
export function noteObservation(
  mem: ConflictMemory,
  observed: ObservedState,
  opts: {
    cluster: string;
    me: string;
    ha: boolean;
    /** False for an identity known to be gone (a process of this host that no longer exists: a killed predecessor whose last create landed late). */ mayBeAlive?: (identity: string) => boolean;
  },
  now: number,
): ConflictMemory {
  const nodes = new Map<string, NodeSeen>();
  let others: Map<string, ForeignSighting> | undefined;
  for (const n of observed.nodes) {
    const before = mem.nodes.get(n.name);
    if (before !== undefined && before.containers === n.containers && before.reachable === n.reachable) {
      nodes.set(n.name, before);
      continue;
    }
    const known = new Set<string>();
    if (!n.reachable) {
      for (const c of n.containers) if (before?.known.has(c.id)) known.add(c.id);
      nodes.set(n.name, { reachable: false, containers: n.containers, known });
      continue;
    }
    const baseline = before === undefined || !before.reachable;
    for (const c of n.containers) {
      known.add(c.id);
      if (baseline || before.known.has(c.id)) continue;
      if (c.labels[LABEL.cluster] !== opts.cluster) continue;
      const identity = c.labels[LABEL.controller];
      if (identity === undefined || identity === opts.me) continue;
      if (opts.ha && c.labels[LABEL.leaseRev] !== undefined) continue;
      if (opts.mayBeAlive && !opts.mayBeAlive(identity)) continue;
      others ??= new Map(mem.others);
      others.set(identity, { identity, node: n.name, container: c.name, at: now });
    }
    nodes.set(n.name, { reachable: true, containers: n.containers, known });
  }
  return { nodes, others: others ?? mem.others };
}

export type ConflictVerdict = { conflict: false } | { conflict: true; others: ForeignSighting[]; until: number };

/** In conflict while another identity was seen acting less than `graceMs` ago; sightings older than that are forgotten. */
export function conflictVerdict(mem: ConflictMemory, now: number, graceMs: number): ConflictVerdict {
  const recent = [...mem.others.values()].filter((s) => now < s.at + graceMs).sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  if (recent.length === 0) return { conflict: false };
  return { conflict: true, others: recent, until: Math.max(...recent.map((s) => s.at)) + graceMs };
}

/** Drops sightings older than the grace period (so the memory does not grow). */
export function forgetOld(mem: ConflictMemory, now: number, graceMs: number): ConflictMemory {
  const keep = [...mem.others].filter(([, s]) => now < s.at + graceMs);
  return keep.length === mem.others.size ? mem : { ...mem, others: new Map(keep) };
}
