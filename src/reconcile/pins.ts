// Pinned digests: a revision whose image is a tag is pinned once to the digest
// the shell resolved for it (from the registry, or from the first node that
// pulled it), and every replica of that revision is created from
// `name@digest`. The pin lives in the revision (the rollout book), not in the
// spec hash: resolving a digest never starts a rollout, and a tag that moves
// later changes nothing until the manifest changes or `fogctl rollout
// restart` (a new revision, resolved afresh) asks for it.

import { isDigestRef } from '../api/image-ref.js';

export { revisionImage } from '../api/image-ref.js';
import type { ImageResolution, Revision, Service, ServiceRollout } from '../api/types.js';
import { findHash } from './revisions.js';

const restartedMemo = new WeakMap<Service, { at: number; svc: Service }>();

/** The manifest's service as it rolls out after `fogctl rollout restart` (the same object per input, so per-object memos hold). */
export function restarted(svc: Service, at: number | undefined): Service {
  if (at === undefined) return svc;
  const m = restartedMemo.get(svc);
  if (m !== undefined && m.at === at) return m.svc;
  const out: Service = { ...svc, spec: { ...svc.spec, restartedAt: at } };
  restartedMemo.set(svc, { at, svc: out });
  return out;
}

/** The entry with its target and manifest revisions pinned where the shell knows a digest for their image and they have none yet. */
export function pinRevisions(entry: ServiceRollout, images: ReadonlyMap<string, ImageResolution> | undefined): ServiceRollout {
  if (images === undefined || images.size === 0) return entry;
  let changed = false;
  const revisions = entry.revisions.map((r): Revision => {
    if (r.digest !== undefined || (r.hash !== entry.target && r.hash !== entry.manifest) || isDigestRef(r.shape.image)) return r;
    const found = images.get(r.shape.image);
    if (found === undefined) return r;
    changed = true;
    return { ...r, digest: found.digest, ...(found.platforms !== undefined ? { platforms: found.platforms } : {}) };
  });
  return changed ? { ...entry, revisions } : entry;
}

/** The revision replicas are driven to, when the book has it. */
export function targetRevision(entry: ServiceRollout | undefined): Revision | undefined {
  return entry === undefined ? undefined : findHash(entry, entry.target);
}
