// What every stage of one service's plan reads (ServiceCtx, immutable), and
// the small value types the stages hand each other.

import type { ActionHistory, Note, ObservedContainer, ReasonCode, ReconcileSettings, Service } from '../api/types.js';
import type { ActionTarget } from './backoff.js';
import type { ContainerShape } from './hash.js';
import type { ImagePlanner } from './images.js';
import type { Replica } from './pair.js';

export interface ServiceCtx {
  readonly svc: Service;
  readonly name: string;
  /** The current spec hash (dependency endpoints included). */
  readonly hash: string;
  readonly shape: ContainerShape;
  readonly cluster: string;
  readonly settings: ReconcileSettings;
  readonly now: number;
  readonly history: ActionHistory;
  readonly totalNodes: number;
  /** Why no new container of this service may be made now (a dependency, a cycle, an unobserved node). */
  readonly frozen?: Note;
  /** Safe-rollout gates (absent when the reconcile runs without rollout inputs: the plain rolling update). */
  readonly rollout?: RolloutGates;
  /** The pass's image ledger: a create waits until its image is on its node (images.ts). Absent: creates pull for themselves. */
  readonly images?: ImagePlanner;
}

/** A slot that waits for its image on its node (a PullingImage entry). */
export interface ImageWait {
  readonly slot: number;
  readonly node: string;
  readonly image: string;
  readonly from?: string;
}

export interface RolloutGates {
  /** A new replica counts for the rollout once ready this long (0: once ready). */
  readonly monitor: number;
  /** Why no new batch may start now (paused, failed with pause, a closed window, a canary waiting). */
  readonly hold?: Note;
  /** When the hold ends by itself (a window opening), controller-monotonic ms. */
  readonly holdUntil?: number;
  /** A canary not yet promoted: at most this many replicas on the new spec, started beside the old ones. */
  readonly canary?: number;
}

/** Ready, and past the rollout's monitor period: what a rollout may count on before touching the next old replica. */
export function replicaSettled(ctx: ServiceCtx, r: Replica | undefined): boolean {
  if (!replicaReady(ctx, r)) return false;
  const monitor = ctx.rollout?.monitor ?? 0;
  return monitor === 0 || r!.c.startedAt === undefined || r!.c.startedAt + monitor <= ctx.now;
}

/** Running, and healthy when the service declares a healthcheck. */
export function isReady(c: ObservedContainer, s: Service): boolean {
  return c.state === 'running' && (s.spec.healthcheck === undefined || c.health === 'healthy');
}

/** Ready where it can be acted on or counted: on a reachable node, or within the grace period. */
export function replicaReady(ctx: ServiceCtx, r: Replica | undefined): boolean {
  return r !== undefined && r.where === 'live' && isReady(r.c, ctx.svc);
}

/** What a start or remove of this replica is for (the action history's identity of it). */
export function target(r: Replica): ActionTarget {
  const t: ActionTarget = { node: r.nodeName, specHash: r.hash, containerId: r.c.id };
  if (r.node !== undefined) t.nodeSince = r.node.since;
  return t;
}

/** A container to remove, and why. */
export interface Removal {
  readonly replica: Replica;
  readonly reason: ReasonCode;
  readonly note: Note;
  /** Its capacity was already given back to the scheduler by the stage that planned it (rollout). */
  readonly released?: true;
}

/** Whether an action can be sent for this container (reachable node, not already going away). */
export function removable(r: Replica): boolean {
  return r.where === 'live' && r.node !== undefined && r.c.state !== 'removing';
}

/** The earliest of two requeue times (undefined = none). */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
