// fogctl sync: keep the desired folder equal to a git ref (GitOps), and the
// same flags for fogctl run (--sync-*), where --desired is the target.

import type { Command } from 'commander';
import { systemClock, type Clock } from '../runtime/clock.js';
import { checkLogFlags, rootLogger, type Logger } from '../runtime/logger.js';
import { exitCodeOf, formatSyncStatus, GitSync, layoutOf, readSyncStatus, SyncSetupError, type GitSyncOptions, type Revision } from '../sync/index.js';
import { writeFileAtomic } from '../sync/layout.js';
import { durationFlag } from './flags.js';
import { ExitError } from './errors.js';
import { parseOutput, serialize } from './print.js';

/** The sync flags, written once: `--repo` for fogctl sync, `--sync-repo` for fogctl run. */
const FLAGS = [
  ['repo <url|path>', 'git remote: file://, ssh://, https://, host:path or a local path (your own git credentials and known_hosts)'],
  ['ref <branch|tag|sha>', 'branch, tag or full 40-hex commit to follow'],
  ['path <subdir>', 'folder inside the repository that holds the manifests (default: the root)'],
  ['interval <duration>', 'how often to fetch', '30s'],
  ['allow-empty', 'let a revision with no Service at all go through (otherwise refused)'],
  ['max-prune-ratio <ratio>', 'a revision removing more than this share of the current services waits for --confirm', '0.5'],
  ['max-backoff <duration>', 'cap of the exponential back-off after failed fetches', '5m'],
  ['git-timeout <duration>', 'timeout of every git call', '2m'],
] as const;

function addFlags(cmd: Command, prefix: '' | 'sync-'): Command {
  for (const [spec, help, dflt] of FLAGS) cmd.option(`--${prefix}${spec}`, prefix ? `GitOps: ${help}` : help, dflt);
  return cmd;
}

type Flags = Record<string, string | boolean | undefined>;
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The GitSync options from parsed flags (`prefix` '' or 'sync-'). */
function optionsFrom(flags: Flags, prefix: '' | 'sync-', into: string): Omit<GitSyncOptions, 'clock' | 'logger'> {
  const get = (name: string) => flags[camel(prefix + name)];
  const flag = (name: string) => `--${prefix}${name}`;
  const repo = get('repo');
  const ref = get('ref');
  if (typeof repo !== 'string' || repo === '' || repo.startsWith('-')) throw new ExitError(`${flag('repo')} is required: the git remote to follow`, 1);
  if (typeof ref !== 'string' || ref === '' || ref.startsWith('-')) throw new ExitError(`${flag('ref')} is required: a branch, tag or full commit sha`, 1);
  const ratio = Number(get('max-prune-ratio'));
  if (!(ratio >= 0 && ratio <= 1)) throw new ExitError(`${flag('max-prune-ratio')} ${String(get('max-prune-ratio'))}: must be a number from 0 to 1`, 1);
  const intervalMs = durationFlag(flag('interval'), String(get('interval')));
  if (intervalMs < 100) throw new ExitError(`${flag('interval')}: must be at least 100ms`, 1);
  return {
    repo,
    ref,
    path: typeof get('path') === 'string' ? (get('path') as string) : undefined,
    into,
    intervalMs,
    maxBackoffMs: durationFlag(flag('max-backoff'), String(get('max-backoff'))),
    gitTimeoutMs: durationFlag(flag('git-timeout'), String(get('git-timeout'))),
    policy: { allowEmpty: get('allow-empty') === true, maxPruneRatio: ratio },
  };
}

/** A SyncSetupError (bad --path, target not ours) is the user's to fix: exit 1 with its message. */
async function setup<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof SyncSetupError) throw new ExitError(err.message, 1);
    throw err;
  }
}

const create = (options: Omit<GitSyncOptions, 'clock' | 'logger'>, deps: { clock: Clock; logger: Logger; onSwap?: (rev: Revision) => void }) => setup(() => new GitSync({ ...options, ...deps }));

/** For fogctl run: adds --sync-repo, --sync-ref, --sync-path, --sync-interval, … */
export function addRunSyncFlags(cmd: Command): Command {
  return addFlags(cmd, 'sync-');
}

/**
 * For fogctl run: when --sync-repo is given, a started GitSync whose target
 * is the desired folder (one attempt already made); otherwise undefined.
 * Throws ExitError when the flags are wrong or --desired is a real folder.
 */
export async function startSyncForRun(flags: object, desired: string, deps: { clock: Clock; logger: Logger; onSwap?: (rev: Revision) => void }): Promise<GitSync | undefined> {
  const f = flags as Flags;
  if (f.syncRepo === undefined) return undefined;
  const sync = await create(optionsFrom(f, 'sync-', desired), deps);
  await setup(() => sync.start());
  return sync;
}

/** `fogctl sync --confirm SHA`: how a confirmation reaches a running sync (it reads the file every attempt). */
async function writeConfirm(into: string, sha: string): Promise<void> {
  if (!/^[0-9a-f]{7,40}$/i.test(sha)) throw new ExitError(`--confirm ${sha}: must be a commit sha (at least 7 hex digits)`, 1);
  const l = layoutOf(into);
  await writeFileAtomic(l.confirm, `${sha.toLowerCase()}\n`);
  const status = await readSyncStatus(l.status).catch(() => undefined);
  const held = status?.held;
  if (held && !held.sha.startsWith(sha.toLowerCase())) {
    process.stderr.write(`warning: the held revision is ${held.sha.slice(0, 12)} (${held.reason}), not ${sha}: the confirmation waits for a revision with that sha\n`);
  }
  process.stderr.write(`confirmed ${sha} for ${l.target}: the sync applies it at its next attempt\n`);
}

export function registerSync(program: Command, setCode: (c: number) => void): void {
  const cmd = addFlags(
    program
      .command('sync')
      .description('Keep the desired folder equal to a git branch, tag or commit: atomic swaps, a validation gate, prune safety')
      .option('--into <dir>', 'the desired folder, kept as a symlink to the current revision (what fogctl run --desired watches)'),
    '',
  )
    .option('--once', 'one fetch/validate/swap, then exit: 0 current is good, 1 error, 3 a revision is held')
    .option('--confirm <sha>', 'accept a revision held as prune-blocked (written to .<into>.confirm, read by the running sync)')
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option('--log-format <format>', 'auto (readable on a terminal, JSON otherwise) | json | pretty')
    .addHelpText(
      'after',
      '\nExamples:\n  fogctl sync --repo ssh://git@git.plant.local/fog.git --ref main --path line1 --into /srv/fog/desired\n  fogctl sync --repo /srv/git/fog.git --ref main --into desired --once\n  fogctl sync --into /srv/fog/desired --confirm 3f2a9c1\n  fogctl sync status --into /srv/fog/desired\n\nExit codes with --once: 0 current is good, 1 error (fetch, checkout, target not ours), 3 a revision is held.\nSee docs/gitops.md.\n',
    )
    .action(async (flags: Flags & { into?: string; once?: boolean; confirm?: string; logLevel?: string; logFormat?: string }) => {
      if (!flags.into) throw new ExitError('--into is required: the desired folder that fogctl run --desired watches', 1);
      if (flags.confirm) {
        await writeConfirm(flags.into, flags.confirm);
        if (flags.repo === undefined) return setCode(0);
      }
      const logFlags = checkLogFlags(flags.logLevel, flags.logFormat);
      if (logFlags) throw new ExitError(logFlags, 1);
      const logger = rootLogger({ level: flags.logLevel, format: flags.logFormat });
      const sync = await create(optionsFrom(flags, '', flags.into), { clock: systemClock, logger });
      if (flags.once) {
        const outcome = await sync.syncOnce();
        const s = sync.status();
        const line =
          outcome === 'error'
            ? `error: ${s.lastError?.stage ?? ''}: ${s.lastError?.message ?? ''}`
            : s.held
              ? `held ${s.held.sha.slice(0, 12)} (${s.held.reason}): ${s.held.message}`
              : `current ${s.current?.sha.slice(0, 12) ?? 'none'} ${s.current?.subject ?? ''} (${outcome})`;
        process.stderr.write(line + '\n');
        logger.flush?.();
        return setCode(exitCodeOf(outcome));
      }
      await setup(() => sync.start());
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await sync.stop();
      logger.flush?.();
      setCode(0);
    });

  cmd
    .command('status')
    .description('Show what a sync into --into did last: current revision, last fetch, held revision and why, last error')
    .option('--into <dir>', 'the desired folder the sync keeps')
    .option('-o, --output <format>', 'json | yaml')
    .action(async (own: { into?: string; output?: string }, sub: Command) => {
      // `--into` after `status` is parsed by `sync` itself (commander without positional options).
      const into = own.into ?? (sub.parent?.opts() as { into?: string }).into;
      if (!into) throw new ExitError('--into is required: the desired folder the sync keeps', 1);
      const out = parseOutput(own.output);
      const l = layoutOf(into);
      const status = await readSyncStatus(l.status);
      if (!status) throw new ExitError(`no sync status at ${l.status}: no sync has run into ${l.target} yet`, 1);
      process.stdout.write(out === 'json' || out === 'yaml' ? serialize(status, out) : formatSyncStatus(status));
      setCode(status.state === 'Error' ? 1 : status.state === 'Held' ? 3 : 0);
    });
}
