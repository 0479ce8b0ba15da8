// The shell side of pinned digests (the pure side is reconcile/pins.ts):
// before a pass, the tag of every revision about to roll out is resolved
// afresh, and a revision still without a pin is tried again (at most every
// RETRY_MS). From the registry first (digest and the index's platforms);
// when the registry cannot be asked, from the first node that has the image
// (its RepoDigests: the node pulled it by tag). With neither, the revision
// rolls out from the tag and is pinned as soon as a node has pulled it.
//
// Only new revisions and unpinned ones cost a look, so a steady fleet asks
// no registry at all. An image named without a registry host (Docker Hub)
// that a node already has is pinned from the nodes alone: the controller
// does not reach outside the plant for an image the plant has (imported for
// an air gap, or pulled before). Name the registry (`docker.io/library/x:1`)
// to have such a tag looked up there.

import { DOCKER_HUB, isDigestRef, parseImageRef } from '../api/image-ref.js';
import type { ImageResolution, RolloutBook, Service } from '../api/types.js';
import { resolveTag, type Resolved } from '../docker/registry.js';
import type { RegistryAuth } from '../docker/registry-auth.js';
import { findHash, restarted, revisionHash } from '../reconcile/index.js';
import type { Logger } from '../runtime/logger.js';

const RETRY_MS = 10_000;
/** A registry that did not answer at all is not asked again for this long (an air-gapped plant pays one failed lookup, not one per revision). */
const DOWN_MS = 30_000;
/** How long a pass waits for the lookup of a revision about to roll out; a slower registry answers a later pass. */
const WAIT_MS = 2_000;

export interface ImagePinsOptions {
  auth?: RegistryAuth;
  /** The digest of an image on the first node that has it (FleetPort.imageDigest). */
  nodeDigest?: (image: string) => Promise<string | undefined>;
  /** Whether some node has the image under this name (FleetPort.hasImage). */
  onNodes?: (image: string) => boolean;
  now: () => number;
  logger: Logger;
  /** The registry lookup (a test may count calls); default resolveTag. */
  resolve?: (image: string, auth: RegistryAuth | undefined) => Promise<Resolved>;
  /** Told when a lookup the pass did not wait for has ended (run a pass: there may be something to pin). */
  onResolved?: () => void;
  /** Default 2 s. */
  waitMs?: number;
}

export class ImagePins {
  private readonly known = new Map<string, ImageResolution>();
  /** service → the revision hash its image was last looked up for, and when. */
  private readonly looked = new Map<string, { hash: string; at: number }>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Images already warned about (one warning per image, not one per retry). */
  private readonly warned = new Set<string>();
  private view: ReadonlyMap<string, ImageResolution> = new Map();
  private changed = false;
  /** Registry host → when it last failed to answer at all. */
  private readonly down = new Map<string, number>();
  /** The lookups the running prepare() waits for: one that ends outside it wakes the controller. */
  private awaited = new Set<string>();

  constructor(private readonly opts: ImagePinsOptions) {}

  /** What the next pass may pin from. Waits (at most waitMs) only for revisions about to roll out; retries go on in the background. */
  async prepare(services: readonly Service[], book: RolloutBook): Promise<ReadonlyMap<string, ImageResolution>> {
    const now = this.opts.now();
    const fresh: Promise<void>[] = [];
    for (const svc of services) {
      if (isDigestRef(svc.spec.image)) continue;
      const entry = book.get(svc.metadata.name);
      const hash = revisionHash(restarted(svc, entry?.restartedAt));
      const rev = entry && findHash(entry, hash);
      if (rev?.digest !== undefined) continue;
      const last = this.looked.get(svc.metadata.name);
      // A revision not in the book yet is looked up once; one that stayed unpinned again after RETRY_MS.
      if (last?.hash === hash && (rev === undefined || now - last.at < RETRY_MS)) continue;
      this.looked.set(svc.metadata.name, { hash, at: now });
      const p = this.start(svc.spec.image);
      if (rev === undefined) {
        fresh.push(p);
        this.awaited.add(svc.spec.image);
      }
    }
    if (fresh.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(fresh), new Promise<void>((r) => (timer = setTimeout(r, this.opts.waitMs ?? WAIT_MS)))]);
      clearTimeout(timer);
      this.awaited.clear();
    }
    if (this.changed) {
      this.changed = false;
      this.view = new Map(this.known);
    }
    return this.view;
  }

  /** One lookup per image at a time; its result lands in `known` for this pass or a later one. */
  private start(image: string): Promise<void> {
    const running = this.inFlight.get(image);
    if (running !== undefined) return running;
    const p = this.lookUp(image)
      .then((r) => {
        if (r !== undefined) this.known.set(image, r);
        else this.known.delete(image);
        this.changed = true;
      })
      .finally(() => {
        this.inFlight.delete(image);
        // An answer the pass waited for is in that pass; a later one (or a retry's) wakes the controller.
        if (!this.awaited.has(image) && this.known.has(image)) this.opts.onResolved?.();
      });
    this.inFlight.set(image, p);
    return p;
  }
  private async lookUp(image: string): Promise<ImageResolution | undefined> {
    const resolve = this.opts.resolve ?? ((i: string, a: RegistryAuth | undefined) => resolveTag(i, a?.forRegistry(parseImageRef(i).registry), 3_000));
    const registry = parseImageRef(image).registry;
    const downAt = this.down.get(registry);
    const inPlant = registry === DOCKER_HUB && !image.startsWith(`${DOCKER_HUB}/`) && this.opts.onNodes?.(image) === true;
    const skip = inPlant || (downAt !== undefined && this.opts.now() - downAt < DOWN_MS);
    const r: Resolved = inPlant
      ? { ok: false, why: `${image} names no registry and a node has it: not looked up on ${DOCKER_HUB}` }
      : skip
        ? { ok: false, unreachable: true, why: `registry ${registry} did not answer a moment ago` }
        : await resolve(image, this.opts.auth);
    if (!skip) {
      if (!r.ok && r.unreachable === true) this.down.set(registry, this.opts.now());
      else this.down.delete(registry);
    }
    if (r.ok) {
      this.opts.logger.info({ image, digest: r.resolution.digest, platforms: r.resolution.platforms }, 'image tag resolved');
      return r.resolution;
    }
    const digest = await this.opts.nodeDigest?.(image).catch(() => undefined);
    if (digest !== undefined) {
      this.opts.logger.info({ image, digest, registry: r.why }, 'image tag pinned from a node that has it (the registry cannot be asked)');
      return { digest };
    }
    const level = this.warned.has(image) ? 'debug' : 'warn';
    this.warned.add(image);
    this.opts.logger[level]({ image, registry: r.why }, 'image tag not resolved: replicas are created from the tag until a node has pulled it');
    return undefined;
  }
}
