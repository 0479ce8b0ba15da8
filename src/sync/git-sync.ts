// GitSync: keeps a folder equal to a git ref, safely. Each attempt is
// fetch → check out (its own folder) → validate (the gate) → swap (one
// rename) → tidy, and reports what happened in its status. The loop never
// ends on an error it can recover from: a failed fetch or checkout leaves the
// target as it is and backs off.

import { access, lstat, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { LoadError } from '../api/types.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { loadDesired } from '../manifest/index.js';
import { backoffDelay, DEFAULT_POLICY, judgeRevision, type GatePolicy } from './gate.js';
import { extractRevision, git, GitError } from './git.js';
import { FULL_SHA, inspectTarget, layoutOf, normalisePath, pruneRevisions, revDir, swapTo, writeFileAtomic, type SyncLayout } from './layout.js';
import { redactUrl } from './redact.js';
import type { HeldRevision, Revision, SyncStatus } from './status.js';

export interface GitSyncOptions {
  /** URL (file://, ssh://, https://, host:path) or a local path. */
  repo: string;
  /** Branch, tag or full 40-hex commit SHA. */
  ref: string;
  /** Folder inside the repository that holds the manifests. Default: the root. */
  path?: string;
  /** The desired folder, made a symlink; `fogctl run --desired` points here. */
  into: string;
  intervalMs: number;
  /** Cap of the exponential back-off after failures. Default 5 min. */
  maxBackoffMs?: number;
  /** Timeout of every git call. Default 2 min. */
  gitTimeoutMs?: number;
  policy?: Partial<GatePolicy>;
  clock: Clock;
  logger: Logger;
  /** Called after each swap, once the new revision is current. */
  onSwap?: (rev: Revision) => void;
}

/** What one attempt did. */
export type SyncOutcome = 'synced' | 'unchanged' | 'held' | 'error';

/** The target is not ours to replace (a real folder, a foreign symlink): nothing is done until someone fixes it. */
export class SyncSetupError extends Error {
  constructor(
    message: string,
    readonly code: 'target-not-ours' | 'bad-option' = 'target-not-ours',
  ) {
    super(message);
  }
}

const TRACKING_REF = 'refs/fogsync/target';

export class GitSync {
  private readonly layout: SyncLayout;
  private readonly repo: string;
  private readonly path: string;
  private readonly policy: GatePolicy;
  private readonly log: Logger;
  /** The working state, changed step by step during an attempt. */
  private state: SyncStatus;
  /**
   * What status() shows: the state as a whole attempt left it. An attempt
   * changes `state` in steps (the new revision is current before its
   * failures in a row are reset), so readers never see those in between.
   */
  private published: SyncStatus;
  /** Services of the current revision, by sha (loaded once per revision). */
  private currentServices?: { sha: string; names: string[] };
  /** The held revision's candidate services: enough to re-judge on confirmation. */
  private heldServices: string[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<SyncOutcome>;
  private stopped = false;

  constructor(private readonly opts: GitSyncOptions) {
    this.layout = layoutOf(opts.into);
    this.repo = isLocalPath(opts.repo) ? resolve(opts.repo) : opts.repo;
    const path = normalisePath(opts.path);
    if (!path.ok) throw new SyncSetupError(path.error, 'bad-option');
    this.path = path.value;
    this.policy = { ...DEFAULT_POLICY, ...opts.policy };
    this.log = opts.logger.child({ component: 'sync' });
    this.state = {
      apiVersion: 'fog/v1',
      kind: 'SyncStatus',
      repo: redactUrl(this.repo),
      ref: opts.ref,
      path: this.path,
      into: this.layout.target,
      state: 'Pending',
      consecutiveFailures: 0,
      updatedAt: this.now(),
    };
    this.published = this.state;
  }

  status(): SyncStatus {
    return this.published;
  }

  /**
   * Refuses (SyncSetupError) when the target is not ours; otherwise makes one
   * attempt, awaited, so a controller started next finds the folder, then
   * keeps attempting every interval (longer after failures) until stop().
   */
  async start(): Promise<void> {
    const target = await inspectTarget(this.layout);
    if (target.kind === 'foreign') throw new SyncSetupError(target.message);
    this.stopped = false;
    this.log.info({ repo: this.state.repo, ref: this.opts.ref, path: this.path, into: this.layout.target, intervalMs: this.opts.intervalMs }, 'sync started');
    this.running = this.syncOnce();
    await this.running;
    this.scheduleNext();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** The interval, or the back-off after failures in a row (see backoffDelay). */
  private nextDelay(): number {
    return backoffDelay(this.state.consecutiveFailures, this.opts.intervalMs, Math.max(this.opts.maxBackoffMs ?? 300_000, this.opts.intervalMs));
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const delay = this.nextDelay();
    this.timer = setTimeout(() => {
      this.running = this.syncOnce();
      void this.running.then(() => this.scheduleNext());
    }, delay);
  }

  /** One fetch → checkout → validate → swap. Never throws. */
  async syncOnce(): Promise<SyncOutcome> {
    let outcome: SyncOutcome;
    try {
      outcome = await this.attempt();
    } catch (err) {
      const stage = err instanceof StageError ? err.stage : 'swap';
      const cause = err instanceof StageError ? err.cause : err;
      this.fail(stage, cause);
      outcome = 'error';
    }
    if (outcome !== 'error') this.state = { ...this.state, consecutiveFailures: 0 };
    const delay = this.nextDelay();
    this.state = { ...this.state, state: stateOf(this.state, outcome), nextAttemptAt: new Date(this.opts.clock.wall() + delay).toISOString(), updatedAt: this.now() };
    this.published = this.state;
    if (outcome === 'synced' && this.state.current) this.opts.onSwap?.(this.state.current);
    await writeFileAtomic(this.layout.status, JSON.stringify(this.state, null, 2) + '\n').catch((err: unknown) => this.log.warn({ err }, 'cannot write the sync status file'));
    return outcome;
  }

  private async attempt(): Promise<SyncOutcome> {
    const target = await stage('target', () => inspectTarget(this.layout));
    if (target.kind === 'foreign') throw new StageError('target', new SyncSetupError(target.message));
    const currentSha = target.kind === 'ours' ? target.sha : undefined;

    if (currentSha !== undefined && this.state.current?.sha !== currentSha) await this.adoptCurrent(currentSha);

    const sha = await stage('fetch', () => this.fetch());
    this.state = { ...this.state, lastFetch: { time: this.now(), ok: true, sha } };
    if (sha === currentSha) {
      this.state = { ...this.state, held: undefined };
      return 'unchanged';
    }
    const confirmed = await this.confirmed(sha);
    const held = this.state.held;
    if (held?.sha === sha && !(held.reason === 'prune-blocked' && confirmed)) return 'held';

    const rev = await stage('checkout', () => this.describe(sha));
    await stage('checkout', () => this.checkout(sha));
    const candidate = held?.sha === sha ? { services: this.heldServices, errors: [], pathExists: true } : await this.validate(sha);
    const current = currentSha === undefined ? undefined : await this.servicesOf(currentSha);
    const verdict = judgeRevision({ ...candidate, path: this.path }, current, this.policy, confirmed);
    if (!verdict.ok) {
      const since = held?.sha === sha ? held.since : this.now();
      const next: HeldRevision = { ...rev, reason: verdict.reason, message: verdict.message, errors: verdict.errors, removed: verdict.removed, since };
      if (held?.sha !== sha) this.log.warn({ sha, reason: verdict.reason, errors: verdict.errors.slice(0, 20) }, `revision ${sha.slice(0, 12)} held: ${verdict.message}`);
      this.heldServices = candidate.services;
      this.state = { ...this.state, held: next };
      await this.tidy(currentSha, sha);
      return 'held';
    }
    await stage('swap', () => this.makeCurrent(sha, candidate.pathExists));
    this.currentServices = { sha, names: [...candidate.services] };
    this.state = { ...this.state, current: { ...rev, services: candidate.services.length, syncedAt: this.now() }, previous: currentSha, held: undefined };
    this.log.info({ sha, subject: rev.subject, services: candidate.services.length, removed: verdict.removed }, `revision ${sha.slice(0, 12)} is current`);
    if (confirmed) await rm(this.layout.confirm, { force: true });
    await this.tidy(sha, currentSha);
    return 'synced';
  }

  private fail(stageName: NonNullable<SyncStatus['lastError']>['stage'], err: unknown): void {
    const code = err instanceof GitError || err instanceof SyncSetupError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'error');
    const message = redactUrl(err instanceof Error ? err.message : String(err));
    const time = this.now();
    const failures = this.state.consecutiveFailures + 1;
    this.state = {
      ...this.state,
      consecutiveFailures: failures,
      lastError: { time, stage: stageName, code, message },
      ...(stageName === 'fetch' ? { lastFetch: { time, ok: false, error: message } } : {}),
    };
    this.log.warn({ stage: stageName, code, failures, repo: this.state.repo }, `sync ${stageName} failed, target unchanged: ${message}`);
  }

  // --- git ---------------------------------------------------------------

  private get timeout(): number {
    return this.opts.gitTimeoutMs ?? 120_000;
  }

  private g(...args: string[]): Promise<string> {
    return git(['--git-dir', this.layout.cache, ...args], this.timeout);
  }

  /** Fetch the ref into the bare cache; returns the commit it names. */
  private async fetch(): Promise<string> {
    const exists = await access(join(this.layout.cache, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!exists) await git(['init', '--bare', '--quiet', this.layout.cache], this.timeout);
    const ref = this.opts.ref;
    if (FULL_SHA.test(ref)) {
      const have = await this.g('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).then(
        (s) => s.trim(),
        () => '',
      );
      if (have) return have;
    }
    await this.g('fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--', this.repo, `+${ref}:${TRACKING_REF}`);
    return (await this.g('rev-parse', '--verify', `${TRACKING_REF}^{commit}`)).trim();
  }

  private async describe(sha: string): Promise<Revision> {
    const out = await this.g('log', '-1', '--no-show-signature', '--format=%H%x00%cI%x00%an <%ae>%x00%s', sha);
    const [full = sha, time = '', author = '', subject = ''] = out.replace(/\n$/, '').split('\0');
    return { sha: full, time, author, subject };
  }

  /** Extract into `.rev/<sha>.tmp-PID`, then rename to `.rev/<sha>`: a folder that exists is complete. */
  private async checkout(sha: string): Promise<void> {
    const dir = revDir(this.layout, sha);
    if (await isDir(dir)) return;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const kind = this.path
      ? await this.g('cat-file', '-t', `${sha}:${this.path}`).then(
          (s) => s.trim(),
          () => 'missing',
        )
      : 'tree';
    if (kind === 'tree') await extractRevision(this.layout.cache, sha, this.path, tmp, this.timeout);
    await rename(tmp, dir);
  }

  // --- validation ----------------------------------------------------------

  private async validate(sha: string): Promise<{ services: string[]; errors: LoadError[]; pathExists: boolean }> {
    const root = revDir(this.layout, sha);
    const dir = join(root, this.path);
    if (!(await isDir(dir))) return { services: [], errors: [], pathExists: false };
    const load = await loadDesired([dir]);
    const errors = load.errors.map((e) => ({ ...e, file: relative(root, e.file) || e.file }));
    return { services: load.services.map((s) => s.metadata.name).sort(), errors, pathExists: true };
  }

  /** After a restart: report the revision the target already points at (synced when the link was made). */
  private async adoptCurrent(sha: string): Promise<void> {
    // Never in the way of a fetch: a cache that lost the commit only costs the details.
    const rev = await this.describe(sha).catch((): Revision => ({ sha, time: '', author: '', subject: '(details unknown: commit not in the cache)' }));
    const linked = await lstat(this.layout.target);
    this.state = { ...this.state, current: { ...rev, services: (await this.servicesOf(sha)).length, syncedAt: linked.mtime.toISOString() } };
  }

  /** The current revision's services (loaded from its checkout after a restart). */
  private async servicesOf(sha: string): Promise<string[]> {
    if (this.currentServices?.sha === sha) return this.currentServices.names;
    const dir = join(revDir(this.layout, sha), this.path);
    const names = (await isDir(dir)) ? (await loadDesired([dir])).services.map((s) => s.metadata.name).sort() : [];
    this.currentServices = { sha, names };
    return names;
  }

  private async confirmed(sha: string): Promise<boolean> {
    const text = await readFile(this.layout.confirm, 'utf8').then(
      (t) => t.trim().toLowerCase(),
      () => '',
    );
    return text.length >= 7 && sha.startsWith(text);
  }

  // --- swap and tidy -------------------------------------------------------

  private async makeCurrent(sha: string, pathExists: boolean): Promise<void> {
    // An allowed empty revision whose --path is missing still needs a folder to point at.
    if (!pathExists) await mkdir(join(revDir(this.layout, sha), this.path), { recursive: true });
    await swapTo(this.layout, sha, this.path);
  }

  /** Keep the current revision, the one before it (readers may still hold it) and a held one. */
  private async tidy(...keep: (string | undefined)[]): Promise<void> {
    const names = new Set([...keep, this.state.previous, this.state.held?.sha].filter((s): s is string => s !== undefined));
    await pruneRevisions(this.layout, names).catch((err: unknown) => this.log.warn({ err }, 'cannot remove old revisions'));
  }

  private now(): string {
    return new Date(this.opts.clock.wall()).toISOString();
  }
}

/** An error tagged with the stage it happened in. */
class StageError extends Error {
  constructor(
    readonly stage: NonNullable<SyncStatus['lastError']>['stage'],
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

async function stage<T>(name: StageError['stage'], f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw err instanceof StageError ? err : new StageError(name, err);
  }
}

function stateOf(s: SyncStatus, outcome: SyncOutcome): SyncStatus['state'] {
  if (outcome === 'error') return 'Error';
  if (s.held) return 'Held';
  return s.current ? 'Synced' : 'Pending';
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** A plain path (not `scheme://…` and not scp-like `host:path`). */
function isLocalPath(repo: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !/^[^/]*:/.test(repo);
}

/** Exit status of `fogctl sync --once`: 0 current is good, 1 error, 3 a revision is held. */
export function exitCodeOf(outcome: SyncOutcome): number {
  return outcome === 'error' ? 1 : outcome === 'held' ? 3 : 0;
}
