// The shell side of pinned digests (the pure side is reconcile/pins.ts):
// before a pass, the tag of every revision about to roll out is resolved
// afresh, and a revision still without a pin is tried again (at most every
// RETRY_MS). From the registry first (digest and the index's platforms);
// when the registry cannot be asked, from the first node that has the image
// (its RepoDigests: the node pulled it by tag). With neither, the revision
// rolls out from the tag and is pinned as soon as a node has pulled it.
//
// Only new revisions and unpinned ones cost a look, so a steady fleet asks
// no registry at all.

import { isDigestRef, parseImageRef } from '../api/image-ref.js';
import type { ImageResolution, RolloutBook, Service } from '../api/types.js';
import { resolveTag, type Resolved } from '../docker/registry.js';
import type { RegistryAuth } from '../docker/registry-auth.js';
import { findHash, restarted, revisionHash } from '../reconcile/index.js';
import type { Logger } from '../runtime/logger.js';

const RETRY_MS = 10_000;

export interface ImagePinsOptions {
  auth?: RegistryAuth;
  /** The digest of an image on the first node that has it (FleetPort.imageDigest). */
  nodeDigest?: (image: string) => Promise<string | undefined>;
  now: () => number;
  logger: Logger;
  /** The registry lookup (a test may count calls); default resolveTag. */
  resolve?: (image: string, auth: RegistryAuth | undefined) => Promise<Resolved>;
}

export class ImagePins {
  private readonly known = new Map<string, ImageResolution>();
  /** service → the revision hash its image was last looked up for, and when. */
  private readonly looked = new Map<string, { hash: string; at: number }>();
  private view: ReadonlyMap<string, ImageResolution> = new Map();

  constructor(private readonly opts: ImagePinsOptions) {}

  /** What the next pass may pin from. */
  async prepare(services: readonly Service[], book: RolloutBook): Promise<ReadonlyMap<string, ImageResolution>> {
    const now = this.opts.now();
    const todo: { svc: Service; hash: string }[] = [];
    for (const svc of services) {
      if (isDigestRef(svc.spec.image)) continue;
      const entry = book.get(svc.metadata.name);
      const hash = revisionHash(restarted(svc, entry?.restartedAt));
      const rev = entry && findHash(entry, hash);
      if (rev?.digest !== undefined) continue;
      const last = this.looked.get(svc.metadata.name);
      // A revision not in the book yet is looked up once; one that stayed unpinned again after RETRY_MS.
      if (last?.hash === hash && (rev === undefined || now - last.at < RETRY_MS)) continue;
      todo.push({ svc, hash });
    }
    if (todo.length === 0) return this.view;
    const images = [...new Set(todo.map((t) => t.svc.spec.image))];
    const found = await Promise.all(images.map((image) => this.lookUp(image)));
    images.forEach((image, i) => {
      const r = found[i];
      if (r !== undefined) this.known.set(image, r);
      else this.known.delete(image);
    });
    for (const t of todo) this.looked.set(t.svc.metadata.name, { hash: t.hash, at: now });
    return (this.view = new Map(this.known));
  }

  private async lookUp(image: string): Promise<ImageResolution | undefined> {
    const resolve = this.opts.resolve ?? ((i: string, a: RegistryAuth | undefined) => resolveTag(i, a?.forRegistry(parseImageRef(i).registry), 3_000));
    const r = await resolve(image, this.opts.auth);
    if (r.ok) {
      this.opts.logger.info({ image, digest: r.resolution.digest, platforms: r.resolution.platforms }, 'image tag resolved');
      return r.resolution;
    }
    const digest = await this.opts.nodeDigest?.(image).catch(() => undefined);
    if (digest !== undefined) {
      this.opts.logger.info({ image, digest, registry: r.why }, 'image tag pinned from a node that has it (the registry cannot be asked)');
      return { digest };
    }
    this.opts.logger.warn({ image, registry: r.why }, 'image tag not resolved: replicas are created from the tag until a node has pulled it');
    return undefined;
  }
}
