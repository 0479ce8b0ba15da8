// Carries out the pull and copy actions (reconcile/images.ts decides them)
// and keeps what is in flight for the status: layers and bytes per node.
//
// A pull is POST /images/create with its JSON progress stream read as it
// comes. A copy is GET /images/{name}/get on the source piped straight into
// POST /images/load on the target: the tar streams through the controller,
// never whole in memory. The plan already keeps to one copy into a node and
// COPIES_PER_SOURCE out of one; the limits here hold the same bounds should
// two passes' actions ever overlap.

import { Transform } from 'node:stream';
import { COPIES_PER_SOURCE } from '../reconcile/images.js';
import type { Engine, PullMessage } from '../docker/engine.js';

/** One image transfer in flight, for `describe` and the status document. */
export interface Transfer {
  node: string;
  image: string;
  /** A copy: the node it streams from. */
  from?: string;
  /** Layers seen, and those complete (pulls). */
  layers: number;
  layersDone: number;
  /** Bytes received so far, and the total when known (the layers' sizes as the registry announced them). */
  bytes: number;
  total?: number;
  /** Wall-clock ms (Unix). */
  startedAt: number;
}

/** A counting gate per key: at most `max` holders at once; the others wait in order. */
class Gates {
  private readonly held = new Map<string, number>();
  private readonly queued = new Map<string, Array<() => void>>();

  constructor(private readonly max: number) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if ((this.held.get(key) ?? 0) >= this.max) await new Promise<void>((r) => this.queued.set(key, [...(this.queued.get(key) ?? []), r]));
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (this.held.get(key) ?? 1) - 1;
      if (n === 0) this.held.delete(key);
      else this.held.set(key, n);
      const next = this.queued.get(key)?.shift();
      if (next !== undefined) next();
    }
  }
}

export class ImageTransfers {
  private readonly active = new Map<string, Transfer>();
  private readonly into = new Gates(1);
  private readonly outOf = new Gates(COPIES_PER_SOURCE);

  /** `wall`: the injected clock's wall time, for each transfer's start (its age in the status). */
  constructor(private readonly wall: () => number) {}

  /** What is in flight now, by node then image. */
  inFlight(): Transfer[] {
    return [...this.active.values()].map((t) => ({ ...t })).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.image < b.image ? -1 : 1));
  }

  /** Pulls `image` onto the engine's node from its registry (`registryAuth`: the X-Registry-Auth value for it). */
  async pull(engine: Engine, image: string, registryAuth?: string): Promise<void> {
    const t = this.begin(engine.node, image);
    const layers = new Map<string, { current: number; total?: number; done: boolean }>();
    try {
      await engine.pullImage(image, registryAuth, (m) => track(t, layers, m));
    } finally {
      this.active.delete(key(engine.node, image));
    }
  }

  /** Streams `image` from `source` into `target`: export (by `exportAs`, a name the source has) piped into load. */
  async copy(source: Engine, target: Engine, image: string, exportAs = image): Promise<void> {
    await this.into.run(target.node, () =>
      this.outOf.run(source.node, async () => {
        const t = this.begin(target.node, image, source.node);
        let tar: Awaited<ReturnType<Engine['exportImage']>> | undefined;
        try {
          tar = await source.exportImage(exportAs);
          const counted = new Transform({
            transform(chunk: Buffer, _enc, done) {
              t.bytes += chunk.length;
              done(null, chunk);
            },
          });
          tar.on('error', (err) => counted.destroy(err));
          await target.loadImage(tar.pipe(counted));
        } finally {
          // A load that failed early leaves the export half read: end it, or the source engine keeps streaming.
          tar?.destroy();
          this.active.delete(key(target.node, image));
        }
      }),
    );
  }

  private begin(node: string, image: string, from?: string): Transfer {
    const t: Transfer = { node, image, ...(from !== undefined ? { from } : {}), layers: 0, layersDone: 0, bytes: 0, startedAt: this.wall() };
    this.active.set(key(node, image), t);
    return t;
  }
}

const key = (node: string, image: string) => `${node}\u0000${image}`;

/** Folds one progress message into the transfer's layer and byte counts. */
export function track(t: Transfer, layers: Map<string, { current: number; total?: number; done: boolean }>, m: PullMessage): void {
  // Messages without a layer id are about the whole image (`Pulling from …`, `Digest: …`, `Status: …`).
  if (m.id === undefined || m.status === undefined || /^Pulling from|^Digest|^Status/.test(m.status)) return;
  let l = layers.get(m.id);
  if (l === undefined) layers.set(m.id, (l = { current: 0, done: false }));
  if (m.status === 'Downloading' && m.progressDetail?.current !== undefined) {
    l.current = m.progressDetail.current;
    if (m.progressDetail.total !== undefined && m.progressDetail.total > 0) l.total = m.progressDetail.total;
  } else if (m.status === 'Download complete' || m.status === 'Verifying Checksum') {
    if (l.total !== undefined) l.current = l.total;
  } else if (m.status === 'Pull complete' || m.status === 'Already exists') {
    l.done = true;
    if (l.total !== undefined) l.current = l.total;
  }
  let bytes = 0;
  let total = 0;
  let known = true;
  let done = 0;
  for (const x of layers.values()) {
    bytes += x.current;
    if (x.done) done++;
    if (x.total === undefined && !x.done) known = false;
    total += x.total ?? 0;
  }
  t.layers = layers.size;
  t.layersDone = done;
  t.bytes = bytes;
  if (known && total > 0) t.total = total;
  else delete t.total;
}
