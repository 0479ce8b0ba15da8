// Images before stops: a replica's container is created only on a node that
// already has its image, so a stop-first rollout never takes a replica down
// while its replacement's image is still on the wire. When the image is not
// there, the slot gets a `pull` (from its registry) or a `copy` (streamed from
// a peer node that has it: the air-gapped plant), and waits for it.
//
// Where it comes from (all pure, from the observed images, the Node specs, the
// controller's image source and the action history):
//
//   peer first    the node may not pull (`spec.images.pull: never`), the
//                 controller runs with `--image-source peers`, or its last pull
//                 of this spec failed: a reachable node that has the image is
//                 the source (the one with the fewest copies out this pass,
//                 then by name);
//   registry      otherwise, or when no peer has it. With `peers`, one node
//                 per image pulls at a time and the others wait to copy from
//                 it: the uplink carries the image once.
//   limits        at most one copy into a node and COPIES_PER_SOURCE out of a
//                 node per pass (the executor carries a pass out before the
//                 next, so a pass's transfers are all there is in flight);
//                 one transfer per node and image: other slots wait for it.
//
// A node whose images are not known (never listed) is left to the create,
// which pulls a missing image itself, as before.

import { normaliseRef } from '../api/image-ref.js';
import type { Note } from '../api/notes.js';
import { historyKey, type Action, type ActionHistory, type DesiredState, type ObservedImage, type ObservedState } from '../api/types.js';
import { actionGate } from './backoff.js';
import { cmp } from './pair.js';

/** Copies out of one node at once. */
export const COPIES_PER_SOURCE = 2;

export type Fetch = { kind: 'pull' } | { kind: 'copy'; from: string };

/** What a slot's new image needs on `node` before its container may be made. */
export type ImageNeed =
  /** `as`: create from this image id (a digest ref copied from a peer: `docker load` keeps tags and ids, not repo digests). */
  | { ready: true; as?: string }
  /** An action to carry out now (`fetch`), or nothing yet (wait for another slot's transfer, a copy slot, a peer). */
  | { ready: false; action?: Action; wait?: { slot: number; node: string; image: string; from?: string }; note?: Note; until?: number };

const READY: ImageNeed = Object.freeze({ ready: true });

/** The image `ref` names among `images`: by tag, by digest (`repo@sha256:…`) or by id; undefined when absent. */
export function findImage(images: readonly ObservedImage[], ref: string): ObservedImage | undefined {
  if (ref.startsWith('sha256:')) return images.find((i) => i.id === ref);
  const want = normaliseRef(ref);
  if (want.includes('@')) {
    const digest = want.slice(want.indexOf('@') + 1);
    const repo = want.slice(0, want.indexOf('@'));
    return images.find((i) => i.repoDigests.some((d) => normaliseRef(d) === want || (d.endsWith(`@${digest}`) && normaliseRef(d).startsWith(`${repo}@`))));
  }
  return images.find((i) => i.repoTags.some((t) => normaliseRef(t) === want));
}

interface NodeImagesView {
  readonly name: string;
  readonly reachable: boolean;
  readonly images?: readonly ObservedImage[];
  readonly mayPull: boolean;
}

/** The pass's image ledger: who has what, and the transfers planned so far (shared by every service, like the scheduler). */
export class ImagePlanner {
  private readonly nodes = new Map<string, NodeImagesView>();
  private readonly sorted: readonly NodeImagesView[];
  /** `node\0image` → the transfer planned this pass. */
  private readonly fetching = new Map<string, { from?: string }>();
  /** Nodes receiving a copy this pass. */
  private readonly receiving = new Set<string>();
  /** Copies out of each source this pass. */
  private readonly sending = new Map<string, number>();
  /** image → the node pulling it from the registry this pass. */
  private readonly pulling = new Map<string, string>();
  private readonly peersFirst: boolean;

  constructor(desired: DesiredState, observed: ObservedState) {
    const specs = new Map(desired.nodes.map((n) => [n.metadata.name, n]));
    for (const o of observed.nodes) {
      const spec = specs.get(o.name);
      if (spec === undefined) continue;
      this.nodes.set(o.name, { name: o.name, reachable: o.reachable, ...(o.images !== undefined ? { images: o.images } : {}), mayPull: spec.spec.images?.pull !== 'never' });
    }
    this.sorted = [...this.nodes.values()].sort((a, b) => cmp(a.name, b.name));
    this.peersFirst = desired.settings.imageSource === 'peers';
  }

  /**
   * Whether slot `slot` of `service` (spec `specHash`) may create its container with `image` on `node` now;
   * if not, the pull or copy to plan, or why it waits.
   */
  need(history: ActionHistory, settings: DesiredState['settings'], now: number, req: { service: string; slot: number; global: boolean; node: string; image: string; specHash: string }): ImageNeed {
    const { service, slot, node, image, specHash } = req;
    const target = this.nodes.get(node);
    if (target?.images === undefined || findImage(target.images, image) !== undefined) return READY;
    // By id: a digest ref that a peer knows, whose image this node has under no digest (it was loaded).
    if (image.includes('@')) {
      const id = this.sorted.flatMap((n) => (n.images !== undefined ? (findImage(n.images, image)?.id ?? []) : []))[0];
      if (id !== undefined && target.images.some((i) => i.id === id)) return { ready: true, as: id };
    }
    const key = `${node}\u0000${image}`;
    const inFlight = this.fetching.get(key);
    if (inFlight !== undefined) return { ready: false, wait: { slot, node, image, ...inFlight } };
    const gate = (type: 'pull' | 'copy') => actionGate(history, service, slot, type, { node, specHash }, now, settings, req.global);
    const pullGate = gate('pull');
    // The registry failed this node for this spec (unreachable from it, a pull that broke off): a peer is tried first from now on.
    const pullFailed = history.get(historyKey(service, slot, req.global ? node : undefined))?.failures?.some((f) => f.type === 'pull' && f.node === node && f.specHash === specHash) === true;
    const sources = this.sorted.filter((n) => n.name !== node && n.reachable && n.images !== undefined && findImage(n.images, image) !== undefined);
    const base = { service, slot, node, reason: 'PullImage' as const, ...(req.global ? { global: true as const } : {}) };
    const copyGate = gate('copy');
    if (sources.length > 0 && (this.peersFirst || !target.mayPull || pullFailed) && copyGate.open) {
      const from = sources.reduce((best, n) => ((this.sending.get(n.name) ?? 0) < (this.sending.get(best.name) ?? 0) ? n : best)).name;
      if (this.receiving.has(node) || (this.sending.get(from) ?? 0) >= COPIES_PER_SOURCE) return { ready: false, wait: { slot, node, image, from } };
      this.receiving.add(node);
      this.sending.set(from, (this.sending.get(from) ?? 0) + 1);
      this.fetching.set(key, { from });
      const found = findImage(this.nodes.get(from)!.images!, image)!;
      const repo = normaliseRef(image).replace(/[:@][^/]*$/, '');
      const exportAs = found.repoTags.find((t) => normaliseRef(t).startsWith(`${repo}:`)) ?? found.repoTags[0] ?? found.id;
      return { ready: false, action: { ...base, type: 'copy', image, specHash, from, exportAs, note: { code: 'PullImage', slot, node, image, from } }, wait: { slot, node, image, from } };
    }
    if (!target.mayPull) {
      const puller = this.pulling.get(image);
      if (puller !== undefined) return { ready: false, wait: { slot, node, image, from: puller } };
      if (!copyGate.open) return { ready: false, note: copyGate.note, ...(copyGate.until !== undefined ? { until: copyGate.until } : {}) };
      return { ready: false, note: { code: 'ImageUnavailable', image, nodes: [node] } };
    }
    // With peers first, one registry pull per image at a time; the rest copy from it afterwards.
    const puller = this.peersFirst ? this.pulling.get(image) : undefined;
    if (puller !== undefined) return { ready: false, wait: { slot, node, image, from: puller } };
    if (!pullGate.open) return { ready: false, note: pullGate.note, ...(pullGate.until !== undefined ? { until: pullGate.until } : {}) };
    this.pulling.set(image, node);
    this.fetching.set(key, {});
    return { ready: false, action: { ...base, type: 'pull', image, specHash, note: { code: 'PullImage', slot, node, image } }, wait: { slot, node, image } };
  }
}
