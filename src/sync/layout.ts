// Everything a sync keeps lives beside the target, in dot-names the
// controller's watcher ignores:
//
//   DIR                     symlink → .DIR.rev/<sha>[/<path>]  (the desired folder)
//   .DIR.git/               bare cache of the remote
//   .DIR.rev/<sha>/         one checkout per revision (current, previous, held)
//   .DIR.sync.json          the status, replaced atomically
//   .DIR.confirm            a SHA the operator confirmed (fogctl sync --confirm)
//
// A revision is extracted into a temporary folder and renamed into place once
// complete; it becomes current by renaming a fresh symlink over DIR, so a
// reader that resolves DIR sees the old tree or the new one, never a mixture.

import { lstat, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export interface SyncLayout {
  target: string;
  parent: string;
  name: string;
  cache: string;
  revs: string;
  status: string;
  confirm: string;
}

export function layoutOf(into: string): SyncLayout {
  const target = resolve(into);
  const parent = dirname(target);
  const name = basename(target);
  const beside = (suffix: string) => join(parent, `.${name}.${suffix}`);
  return { target, parent, name, cache: beside('git'), revs: beside('rev'), status: beside('sync.json'), confirm: beside('confirm') };
}

export const FULL_SHA = /^[0-9a-f]{40}$/;

/** The link text for a revision: relative, so the whole parent folder may move. */
export function linkText(l: SyncLayout, sha: string, path: string): string {
  return `.${l.name}.rev/${sha}${path ? `/${path}` : ''}`;
}

export type TargetState =
  | { kind: 'absent' }
  | { kind: 'ours'; sha: string }
  /** Not made by a sync: never touched. */
  | { kind: 'foreign'; message: string };

export async function inspectTarget(l: SyncLayout): Promise<TargetState> {
  let st;
  try {
    st = await lstat(l.target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  if (!st.isSymbolicLink()) {
    const what = st.isDirectory() ? 'a real folder' : 'a file';
    return {
      kind: 'foreign',
      message: `${l.target} is ${what}, not a sync symlink: it is left untouched (move it aside, e.g. mv ${l.target} ${l.target}.orig, and sync creates ${l.name} as a symlink)`,
    };
  }
  const text = await readlink(l.target);
  const m = new RegExp(`^\\.${escape(l.name)}\\.rev/([0-9a-f]{40})(/|$)`).exec(text);
  if (!m) return { kind: 'foreign', message: `${l.target} is a symlink to ${text}, not made by fogctl sync: it is left untouched (remove it to let sync manage ${l.name})` };
  return { kind: 'ours', sha: m[1]! };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function revDir(l: SyncLayout, sha: string): string {
  return join(l.revs, sha);
}

/** Make `sha` current: a new symlink renamed over the target (rename(2) is atomic). */
export async function swapTo(l: SyncLayout, sha: string, path: string): Promise<void> {
  const tmp = join(l.parent, `.${l.name}.link-${process.pid}`);
  await rm(tmp, { force: true });
  await symlink(linkText(l, sha, path), tmp);
  await rename(tmp, l.target);
}

/** Remove every revision folder (and leftover temporary one) except those kept. */
export async function pruneRevisions(l: SyncLayout, keep: ReadonlySet<string>): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(l.revs);
  } catch {
    return [];
  }
  const gone = entries.filter((e) => !keep.has(e));
  await Promise.all(gone.map((e) => rm(join(l.revs, e), { recursive: true, force: true })));
  return gone;
}

/** Write beside, then rename over: a reader sees the old file or the new one. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** `services/`, `/services`, `./services` → `services`; rejects paths that leave the repository. */
export function normalisePath(path: string | undefined): { ok: true; value: string } | { ok: false; error: string } {
  const parts = (path ?? '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, error: `--path ${path}: must stay inside the repository (no ..)` };
  return { ok: true, value: parts.join('/') };
}
