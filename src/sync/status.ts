// What a sync reports: a plain JSON document, kept in memory, written beside
// the target (.DIR.sync.json) after every attempt, and merged into the
// controller's status document as `sync`. Times are wall-clock ISO strings.

import { readFile } from 'node:fs/promises';
import type { LoadError } from '../api/types.js';
import type { HoldReason } from './gate.js';

export interface Revision {
  sha: string;
  /** Committer time, ISO 8601. */
  time: string;
  /** `Name <email>`. */
  author: string;
  subject: string;
}

export interface HeldRevision extends Revision {
  reason: HoldReason;
  message: string;
  /** For `invalid`: every loader error, files relative to the repository root. */
  errors: LoadError[];
  /** Services the revision would remove. */
  removed: string[];
  /** When it was first held. */
  since: string;
}

export type SyncState = 'Pending' | 'Synced' | 'Held' | 'Error';

export interface SyncStatus {
  apiVersion: 'fog/v1';
  kind: 'SyncStatus';
  /** Credentials redacted. */
  repo: string;
  ref: string;
  path: string;
  into: string;
  state: SyncState;
  current?: Revision & { services: number; syncedAt: string };
  /** The revision before the current one (its checkout is kept). */
  previous?: string;
  lastFetch?: { time: string; ok: boolean; sha?: string; error?: string };
  lastError?: { time: string; stage: 'target' | 'fetch' | 'checkout' | 'swap'; code: string; message: string };
  held?: HeldRevision;
  /** Failed attempts in a row; the back-off grows with it. */
  consecutiveFailures: number;
  nextAttemptAt?: string;
  updatedAt: string;
}

/** Narrows the controller's `sync` field (typed `unknown` there). */
export function asSyncStatus(value: unknown): SyncStatus | undefined {
  const v = value as Partial<SyncStatus> | undefined;
  return v && typeof v === 'object' && v.kind === 'SyncStatus' ? (v as SyncStatus) : undefined;
}

export async function readSyncStatus(file: string): Promise<SyncStatus | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return asSyncStatus(JSON.parse(text));
}

const short = (sha: string) => sha.slice(0, 12);

/** The human view, as `fogctl sync status` and `fogctl get sync` print it. */
export function formatSyncStatus(s: SyncStatus): string {
  const lines: string[] = [];
  lines.push(`State:        ${s.state}`);
  lines.push(`Source:       ${s.repo} ${s.ref}${s.path ? ` (path ${s.path})` : ''}`);
  lines.push(`Target:       ${s.into}`);
  if (s.current) {
    const c = s.current;
    lines.push(`Current:      ${short(c.sha)} ${c.subject}`);
    lines.push(`              by ${c.author} at ${c.time}; ${c.services} service(s); synced ${c.syncedAt}`);
  } else lines.push('Current:      none (nothing synced yet)');
  if (s.lastFetch) lines.push(`Last fetch:   ${s.lastFetch.time} ${s.lastFetch.ok ? `ok ${short(s.lastFetch.sha ?? '')}` : `failed: ${s.lastFetch.error ?? ''}`}`);
  if (s.held) {
    const h = s.held;
    lines.push(`Held:         ${short(h.sha)} ${h.subject} (by ${h.author}, since ${h.since})`);
    lines.push(`  reason:     ${h.reason}: ${h.message}`);
    for (const e of h.errors.slice(0, 10)) lines.push(`  ${e.file}:${e.line}:${e.col}: ${e.message}`);
    if (h.errors.length > 10) lines.push(`  … and ${h.errors.length - 10} more`);
    if (h.reason === 'prune-blocked') lines.push(`  to accept:  fogctl sync --into ${s.into} --confirm ${h.sha}`);
  }
  if (s.lastError) lines.push(`Last error:   ${s.lastError.time} ${s.lastError.stage}: ${s.lastError.message}`);
  if (s.consecutiveFailures > 0) lines.push(`Failures:     ${s.consecutiveFailures} in a row; next attempt ${s.nextAttemptAt ?? 'soon'}`);
  return lines.join('\n') + '\n';
}
