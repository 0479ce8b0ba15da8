// Image garbage collection, the decision: which images on one node may go.
// Pure: the node's images and containers (listed by the shell,
// src/controller/image-gc.ts) and the rollout book come in, a plan with a
// reason for every image comes out.
//
// Ours: an image is ours when every tag it carries was named by a revision in
// the rollout book (any service, any of the last REVISIONS_KEPT revisions),
// or, untagged, when one of its digests was (a revision's pinned digest
// counts: its replicas run `repo@digest`). An image with any other tag, or
// none we know, is someone else's (a person's own, another tool's, the
// fleet's base images) and is never touched.
//
// Kept: any image a container uses (running or stopped, ours or not); the
// images of each service's current revision (the one replicas are driven to),
// of its manifest's revision, of the revision `fogctl rollout undo` would go
// back to (the newest complete one before the current), and of every
// service's manifest. Everything else of ours goes.

import { imageRefForms, shortRef } from '../api/image-ref.js';
import type { Revision, RolloutBook, Service } from '../api/types.js';
import { findHash, lastGood } from './revisions.js';

/** One image on a node, as GET /images/json lists it. */
export interface NodeImage {
  id: string;
  repoTags: readonly string[];
  repoDigests: readonly string[];
  size: number;
}

/** A container on the node (any state, ours or not): the image it was created from. */
export interface ImageUser {
  /** The reference as given at create (or an image id). */
  image: string;
  imageId?: string;
}

export type KeptWhy = 'in-use' | 'current' | 'previous' | 'manifest' | 'not-ours';

export interface ImageDecision {
  id: string;
  /** The name to show: the first tag, else the first digest, else the id. */
  image: string;
  /** Every tag of the image (removed one by one when there are several). */
  tags: readonly string[];
  size: number;
}

export interface ImageGcPlan {
  /** Sorted by image name. */
  remove: readonly ImageDecision[];
  keep: readonly (ImageDecision & { why: KeptWhy; service?: string })[];
}

const NONE = new Set(['<none>:<none>', '<none>@<none>']);

/** What a revision's replicas run: its image as written and, once pinned, `repo@digest`. */
function revisionRefs(r: Revision): string[] {
  const forms = imageRefForms(r.shape.image);
  return r.digest === undefined ? forms : [...forms, `${shortRef(r.shape.image).repo}@${r.digest}`];
}

export function planImageGc(input: { images: readonly NodeImage[]; containers: readonly ImageUser[]; book: RolloutBook; services: readonly Service[] }): ImageGcPlan {
  const ours = new Set<string>();
  const held = new Map<string, { why: KeptWhy; service: string }>();
  const hold = (refs: readonly string[], why: KeptWhy, service: string) => {
    for (const f of refs) if (!held.has(f)) held.set(f, { why, service });
  };
  for (const entry of input.book.values()) {
    for (const r of entry.revisions) for (const f of revisionRefs(r)) ours.add(f);
    const current = findHash(entry, entry.target);
    if (current !== undefined) hold(revisionRefs(current), 'current', entry.service);
    const manifest = findHash(entry, entry.manifest);
    if (manifest !== undefined) hold(revisionRefs(manifest), 'manifest', entry.service);
    const previous = lastGood(entry, entry.target);
    if (previous !== undefined) hold(revisionRefs(previous), 'previous', entry.service);
  }
  for (const s of input.services) hold(imageRefForms(s.spec.image), 'manifest', s.metadata.name);
  const usedIds = new Set<string>();
  const usedRefs = new Set<string>();
  for (const c of input.containers) {
    if (c.imageId !== undefined) usedIds.add(c.imageId);
    usedIds.add(c.image);
    for (const f of imageRefForms(c.image)) usedRefs.add(f);
  }

  const remove: ImageDecision[] = [];
  const keep: (ImageDecision & { why: KeptWhy; service?: string })[] = [];
  for (const img of input.images) {
    const tags = img.repoTags.filter((t) => !NONE.has(t)).flatMap(imageRefForms);
    const digests = img.repoDigests.filter((d) => !NONE.has(d)).flatMap(imageRefForms);
    const refs = [...tags, ...digests];
    const d: ImageDecision = { id: img.id, image: refs[0] ?? img.id, tags, size: img.size };
    if (usedIds.has(img.id) || usedIds.has(img.id.replace(/^sha256:/, '')) || refs.some((r) => usedRefs.has(r))) {
      keep.push({ ...d, why: 'in-use' });
      continue;
    }
    const h = refs.map((r) => held.get(r)).find((x) => x !== undefined);
    if (h !== undefined) {
      keep.push({ ...d, why: h.why, service: h.service });
      continue;
    }
    const mine = tags.length > 0 ? tags.every((t) => ours.has(t)) : digests.some((x) => ours.has(x));
    if (!mine) keep.push({ ...d, why: 'not-ours' });
    else remove.push(d);
  }
  const byName = (a: ImageDecision, b: ImageDecision) => (a.image < b.image ? -1 : a.image > b.image ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { remove: remove.sort(byName), keep: keep.sort(byName) };
}
