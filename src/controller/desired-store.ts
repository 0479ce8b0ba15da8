// The desired state in force: the last good version of every object.
//
// A bad file must never be read as "the objects in it were deleted": an
// object whose file now has an error (or that an error names) keeps its last
// good version; only an object that is gone from a file that loaded cleanly
// is really gone. A missing or unreadable desired folder keeps everything as
// it is, and says so.

import { existsSync, realpathSync, statSync } from 'node:fs';
import type { FogNode, LoadError, LoadResult, Service } from '../api/types.js';
import { loadDesired } from '../manifest/index.js';

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

/** Pure merge of the previous objects in force with a new load. */
export function mergeLoad(previous: readonly Obj[], load: LoadResult): { objects: Obj[]; held: string[] } {
  const fresh = new Map<string, Obj>();
  for (const o of [...load.nodes, ...load.services]) fresh.set(key(o), o);
  const badFiles = new Set(load.errors.map((e) => e.file));
  const namedInErrors = new Set(load.errors.flatMap((e) => (e.object ? [e.object] : [])));
  const held: string[] = [];
  const out = new Map(fresh);
  for (const old of previous) {
    const k = key(old);
    if (fresh.has(k)) continue;
    if (namedInErrors.has(k) || badFiles.has(old.source.file)) {
      out.set(k, old);
      held.push(k);
    }
  }
  return { objects: [...out.values()].sort((a, b) => key(a).localeCompare(key(b))), held: held.sort() };
}

export class DesiredStore {
  private objects: Obj[] = [];
  private snapshot: DesiredSnapshot = { nodes: [], services: [], errors: [], held: [], generation: 0 };

  constructor(private readonly dir: string) {}

  current(): DesiredSnapshot {
    return this.snapshot;
  }

  /** Reload from disk; returns true when the objects in force changed. */
  async reload(): Promise<boolean> {
    const folderError = this.checkFolder();
    if (folderError) {
      this.snapshot = { ...this.snapshot, folderError };
      return false;
    }
    // Resolve a GitOps symlink once, so one load reads one revision; report
    // paths under the folder's own name, so they stay the same across revisions.
    const real = realpathSync(this.dir);
    const load = renamePrefix(await loadDesired([real]), real, this.dir);
    const { objects, held } = mergeLoad(this.objects, load);
    const changed = fingerprint(objects) !== fingerprint(this.objects);
    this.objects = objects;
    this.snapshot = {
      nodes: objects.filter((o): o is FogNode => o.kind === 'Node'),
      services: objects.filter((o): o is Service => o.kind === 'Service'),
      errors: load.errors,
      held,
      generation: this.snapshot.generation + (changed ? 1 : 0),
    };
    return changed;
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
