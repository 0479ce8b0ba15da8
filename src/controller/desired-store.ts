// The desired state in force: the last good version of every object.
//
// A bad file must never be read as "the objects in it were deleted": an
// object whose file now has an error (or that an error names) keeps its last
// good version; only an object that is gone from a file that loaded cleanly
// is really gone. A missing or unreadable desired folder keeps everything as
// it is, and says so.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FogNode, LoadError, LoadResult, Service } from '../api/types.js';
import { findFiles, loadDesired } from '../manifest/index.js';

export interface DesiredSnapshot {
  nodes: FogNode[];
  services: Service[];
  /** The errors of the latest load (what users must fix). */
  errors: LoadError[];
  /** Objects kept at their last good version because their file is bad now. */
  held: string[];
  /** Set when the whole folder could not be read: nothing was changed. */
  folderError?: string;
  /** Increases whenever the objects in force change. */
  generation: number;
}

type Obj = FogNode | Service;
const key = (o: Obj) => `${o.kind}/${o.metadata.name}`;

export interface MergeResult {
  objects: Obj[];
  held: string[];
  /** Objects missing from the files, kept until the absence is confirmed: key → first seen missing. */
  pending: Map<string, number>;
}

/**
 * Pure merge of the previous objects in force with a new load. An object
 * missing from a clean load is removed only once it has been missing for
 * `confirmMs` (a second look): a file caught half-written (truncated, but
 * still valid YAML) must not read as "the rest was deleted".
 */
export function mergeLoad(previous: readonly Obj[], load: LoadResult, pending: ReadonlyMap<string, number> = new Map(), now = 0, confirmMs = 0): MergeResult {
  const fresh = new Map<string, Obj>();
  for (const o of [...load.nodes, ...load.services]) fresh.set(key(o), o);
  const badFiles = new Set(load.errors.map((e) => e.file));
  const namedInErrors = new Set(load.errors.flatMap((e) => (e.object ? [e.object] : [])));
  const held: string[] = [];
  const stillPending = new Map<string, number>();
  const out = new Map(fresh);
  for (const old of previous) {
    const k = key(old);
    if (fresh.has(k)) continue;
    if (namedInErrors.has(k) || badFiles.has(old.source.file)) {
      out.set(k, old);
      held.push(k);
      continue;
    }
    const since = pending.get(k) ?? now;
    if (now - since < confirmMs) {
      out.set(k, old);
      stillPending.set(k, since);
    }
  }
  return { objects: [...out.values()].sort((a, b) => key(a).localeCompare(key(b))), held: held.sort(), pending: stillPending };
}

export interface ReloadResult {
  /** The objects in force changed. */
  changed: boolean;
  /** Reload again after this long to confirm objects that went missing. */
  recheckAfterMs?: number;
}

export class DesiredStore {
  private objects: Obj[] = [];
  private snapshot: DesiredSnapshot = { nodes: [], services: [], errors: [], held: [], generation: 0 };
  private pending = new Map<string, number>();
  private lastStamp = '';

  /** `confirmMs`: how long an object must stay missing before it is deleted. */
  constructor(
    private readonly dir: string,
    private readonly now: () => number = () => 0,
    private readonly confirmMs = 0,
  ) {}

  current(): DesiredSnapshot {
    return this.snapshot;
  }

  /** Reload from disk (skipped when no file changed since the last load). */
  async reload(): Promise<ReloadResult> {
    const folderError = this.checkFolder();
    if (folderError) {
      this.snapshot = { ...this.snapshot, folderError };
      return { changed: false };
    }
    // Resolve a GitOps symlink once, so one load reads one revision; report
    // paths under the folder's own name, so they stay the same across revisions.
    const real = realpathSync(this.dir);
    const stamp = await stampOf(real);
    if (stamp === this.lastStamp && this.pending.size === 0 && this.snapshot.folderError === undefined) return { changed: false };
    this.lastStamp = stamp;
    const load = renamePrefix(await loadDesired([real]), real, this.dir);
    const { objects, held, pending } = mergeLoad(this.objects, load, this.pending, this.now(), this.confirmMs);
    this.pending = pending;
    const changed = fingerprint(objects) !== fingerprint(this.objects);
    this.objects = objects;
    this.snapshot = {
      nodes: objects.filter((o): o is FogNode => o.kind === 'Node'),
      services: objects.filter((o): o is Service => o.kind === 'Service'),
      errors: load.errors,
      held,
      generation: this.snapshot.generation + (changed ? 1 : 0),
    };
    return { changed, recheckAfterMs: pending.size > 0 ? this.confirmMs : undefined };
  }

  private checkFolder(): string | undefined {
    try {
      if (!existsSync(this.dir)) return `desired folder ${this.dir} does not exist: keeping every object as it was (create it, or point --desired at the right folder)`;
      if (!statSync(this.dir).isDirectory()) return `desired path ${this.dir} is not a folder: keeping every object as it was`;
      return undefined;
    } catch (err) {
      return `desired folder ${this.dir} cannot be read (${(err as Error).message}): keeping every object as it was`;
    }
  }
}

function fingerprint(objects: readonly Obj[]): string {
  return JSON.stringify(objects.map((o) => [key(o), o.metadata, o.spec]));
}

function renamePrefix(load: LoadResult, from: string, to: string): LoadResult {
  if (from === to) return load;
  const fix = (f: string) => (f === from ? to : f.startsWith(`${from}/`) ? `${to.replace(/\/$/, '')}/${f.slice(from.length + 1)}` : f);
  return {
    nodes: load.nodes.map((n) => ({ ...n, source: { ...n.source, file: fix(n.source.file) } })),
    services: load.services.map((s) => ({ ...s, source: { ...s.source, file: fix(s.source.file) } })),
    errors: load.errors.map((e) => ({ ...e, file: fix(e.file) })),
    files: load.files.map(fix),
  };
}

/** What changes when any manifest file changes: paths, inodes, sizes, mtimes. Cheap next to parsing. */
async function stampOf(dir: string): Promise<string> {
  const { files } = await findFiles([dir]);
  const parts = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (st) => `${f}\0${st.ino}\0${st.size}\0${st.mtimeMs}`,
        () => `${f}\0?`,
      ),
    ),
  );
  return parts.sort().join('\n');
}
