// Real git repositories for the sync tests: a bare repository on disk as the
// remote, and a work tree that commits and pushes to it.

import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../../src/runtime/clock.js';
import { GitSync, type GitSyncOptions } from '../../src/sync/index.js';

const run = promisify(execFile);

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-c', 'user.name=Fog Test', '-c', 'user.email=test@fog.local', '-c', 'init.defaultBranch=main', ...args], { cwd });
  return stdout.trim();
}

/** A valid fog/v1 Service manifest. */
export function service(name: string, tag = 'latest'): string {
  return `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:${tag}\n  replicas: 1\n`;
}

export interface Remote {
  /** The scratch folder: remote.git, work/, and room for targets. */
  root: string;
  bare: string;
  url: string;
  /** Replace every file of the branch with `files` (path → text), commit and push; returns the sha. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function makeRemote(): Promise<Remote> {
  const root = await mkdtemp(join(tmpdir(), 'fog-sync-'));
  const bare = join(root, 'remote.git');
  const work = join(root, 'work');
  await git(root, 'init', '--quiet', '--bare', bare);
  await git(root, 'init', '--quiet', work);
  await git(work, 'remote', 'add', 'origin', bare);
  let n = 0;
  return {
    root,
    bare,
    url: `file://${bare}`,
    async commit(files, message) {
      for (const e of await readdir(work)) if (e !== '.git') await rm(join(work, e), { recursive: true, force: true });
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), text);
      }
      await git(work, 'add', '-A');
      await git(work, 'commit', '--quiet', '--allow-empty', '-m', message ?? `commit ${++n}`);
      await git(work, 'push', '--quiet', '--force', 'origin', 'HEAD:main');
      return git(work, 'rev-parse', 'HEAD');
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export const quietLogger = pino({ level: 'silent' });

export function newSync(remote: Remote, over: Partial<GitSyncOptions> = {}): GitSync {
  return new GitSync({ repo: remote.url, ref: 'main', into: join(remote.root, 'desired'), intervalMs: 200, gitTimeoutMs: 20_000, clock: systemClock, logger: quietLogger, ...over });
}

/** Poll until `check` returns a value (not undefined), or fail after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 5_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
