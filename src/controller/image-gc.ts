// Image garbage collection, the shell: list a node's images and containers
// through its engine, let the pure plan (src/reconcile/images-gc.ts) choose,
// remove what it chose (DELETE /images/{ref}, never forced), and record every
// removal as an event. Runs on `fogctl images prune`, and by itself on a node
// whose data root's free space fell below the --image-gc threshold (at most
// once per cooldown per node). One collection per node at a time.

import type { DiskThreshold, ObservedNode, RolloutBook, Service, StatusEvent } from '../api/types.js';
import type { ImageGcTrigger, Note } from '../api/notes.js';
import type { Engine } from '../docker/engine.js';
import { planImageGc, type KeptWhy } from '../reconcile/images-gc.js';
import { belowThreshold } from '../schedule/nodes.js';
import type { Logger } from '../runtime/logger.js';

export interface RemovedImage {
  image: string;
  id: string;
  size: number;
}

export interface NodePrune {
  node: string;
  /** Removed, or with a dry run, what would be. */
  removed: RemovedImage[];
  failed: (RemovedImage & { error: string })[];
  kept: { image: string; id: string; why: KeptWhy; service?: string }[];
  /** The node could not be collected at all (unreachable, no client). */
  error?: string;
}

export interface PruneReport {
  dryRun: boolean;
  nodes: NodePrune[];
  /** Bytes removed (or that would be), summed over the nodes. */
  reclaimed: number;
}

/** What the plan needs from the controller, read when a collection starts. */
export interface GcInputs {
  book: RolloutBook;
  services: readonly Service[];
}

export interface ImageCollectorOptions {
  logger: Logger;
  now: () => number;
  /** Collect by itself on a node whose data root is below this. Absent: only on `fogctl images prune`. */
  threshold?: DiskThreshold;
  /** A node is collected by itself at most this often, ms. Default 5 minutes. */
  cooldownMs?: number;
  record: (events: StatusEvent[]) => void;
}

export class ImageCollector {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly lastAuto = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly opts: ImageCollectorOptions) {
    this.log = opts.logger.child({ component: 'image-gc' });
  }

  /** One node, after any collection already running on it. */
  collect(node: string, engine: Engine, inputs: () => GcInputs, trigger: ImageGcTrigger, dryRun: boolean): Promise<NodePrune> {
    const prev = this.chains.get(node) ?? Promise.resolve();
    const next = prev.then(() => this.collectNow(node, engine, inputs(), trigger, dryRun));
    const tail = next.catch(() => undefined);
    this.chains.set(node, tail);
    void tail.then(() => this.chains.get(node) === tail && this.chains.delete(node));
    return next;
  }

  /** After a pass: start a collection on each node whose data root is below the threshold (not waited for). */
  auto(nodes: readonly ObservedNode[], engineOf: (node: string) => Engine | undefined, inputs: () => GcInputs): void {
    const threshold = this.opts.threshold;
    if (threshold === undefined) return;
    const now = this.opts.now();
    for (const n of nodes) {
      if (!n.reachable || n.disk === undefined || !belowThreshold(n.disk, threshold)) continue;
      const last = this.lastAuto.get(n.name);
      if (last !== undefined && now - last < (this.opts.cooldownMs ?? 300_000)) continue;
      const engine = engineOf(n.name);
      if (engine === undefined) continue;
      this.lastAuto.set(n.name, now);
      this.log.info({ node: n.name, free: n.disk.free, total: n.disk.total }, 'data root below the image GC threshold; collecting unused images');
      this.collect(n.name, engine, inputs, 'disk', false).catch((err: unknown) => this.log.warn({ node: n.name, err: (err as Error).message }, 'image collection failed'));
    }
  }

  private async collectNow(node: string, engine: Engine, inputs: GcInputs, trigger: ImageGcTrigger, dryRun: boolean): Promise<NodePrune> {
    const out: NodePrune = { node, removed: [], failed: [], kept: [] };
    let images, containers;
    try {
      [images, containers] = await Promise.all([engine.listImages(), engine.listContainers()]);
    } catch (err) {
      out.error = (err as Error).message;
      return out;
    }
    const plan = planImageGc({
      images: images.flatMap((i) => (i.Id === undefined ? [] : [{ id: i.Id, repoTags: i.RepoTags ?? [], repoDigests: i.RepoDigests ?? [], size: i.Size ?? 0 }])),
      containers: containers.map((c) => ({ image: c.Image, ...(c.ImageID !== undefined ? { imageId: c.ImageID } : {}) })),
      book: inputs.book,
      services: inputs.services,
    });
    out.kept = plan.keep.map((k) => ({ image: k.image, id: k.id, why: k.why, ...(k.service !== undefined ? { service: k.service } : {}) }));
    const events: StatusEvent[] = [];
    for (const d of plan.remove) {
      const item = { image: d.image, id: d.id, size: d.size };
      if (dryRun) {
        out.removed.push(item);
        continue;
      }
      try {
        // By id when one tag (or none) names it; several tags are untagged in turn (a delete by id is refused then), the last one deletes it.
        for (const ref of d.tags.length > 1 ? d.tags : [d.id]) await engine.removeImage(ref);
        out.removed.push(item);
        const note: Note = { code: 'ImageRemoved', node, image: d.image, id: d.id, size: d.size, trigger };
        events.push({ time: this.opts.now(), type: 'Normal', reason: note.code, object: `node/${node}`, note });
        this.log.info({ node, image: d.image, id: d.id, size: d.size, trigger }, 'image removed');
      } catch (err) {
        const error = (err as Error).message;
        out.failed.push({ ...item, error });
        const note: Note = { code: 'ImageRemoveFailed', node, image: d.image, id: d.id, error, trigger };
        events.push({ time: this.opts.now(), type: 'Warning', reason: note.code, object: `node/${node}`, note });
        this.log.warn({ node, image: d.image, id: d.id, err: error }, 'image not removed');
      }
    }
    this.opts.record(events);
    return out;
  }
}
