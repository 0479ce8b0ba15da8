// The document the status API serves and fogctl reads: plain JSON, made at
// each read. Every note is shown with its words (status/text.ts) as seen at
// that moment, beside the structured note itself for machines.

import type { Transfer } from '../apply/images.js';
import type { ControlView } from '../ha/gate.js';
import { revisionImage } from '../api/image-ref.js';
import type { Note } from '../api/notes.js';
import type { Action, ActionFailureCode, Condition, LoadError, NodeStatus, ReplicaStatus, RolloutBook, RolloutPhase, ServiceStatus, Status, StatusEvent } from '../api/types.js';
import { explainUnschedulable, failureText, isoUtc, noteText, type UnschedulableText } from './text.js';

/** The latest failure of a slot's actions, from the controller's action history. */
export interface ActionFailure {
  time: number;
  type: Action['type'];
  node: string;
  service: string;
  slot: number;
  code: ActionFailureCode;
  message: string;
  retryable: boolean;
  /** Failures in a row of this action for this spec on this node. */
  attempts: number;
}

/** An event with how often it repeated, as Kubernetes aggregates them. */
export type CountedEvent = StatusEvent & { count?: number; firstTime?: number };

export type ConditionView = Condition & { message: string };
export type ReplicaView = ReplicaStatus & { message?: string };
export type NodeView = NodeStatus & { message?: string };
export type EventView = CountedEvent & { message: string };
export type ActionView = Action & { message: string };
export type ServiceView = Omit<ServiceStatus, 'conditions' | 'replicas' | 'unschedulable' | 'backoffs'> & {
  conditions: ConditionView[];
  replicas: ReplicaView[];
  unschedulable?: UnschedulableText;
  backoffs?: { note: Note; message: string }[];
};
export type StatusView = Omit<Status, 'services' | 'nodes' | 'events'> & { services: ServiceView[]; nodes: NodeView[]; events: EventView[] };

export function showStatus(s: Status, now: number): StatusView {
  return { ...s, services: s.services.map((x) => showService(x, now)), nodes: s.nodes.map((n) => showNode(n, now)), events: s.events.map((e) => showEvent(e, now)) };
}

export function showService(s: ServiceStatus, now: number): ServiceView {
  const { unschedulable, backoffs, ...rest } = s;
  const v: ServiceView = {
    ...rest,
    conditions: s.conditions.map((c) => ({ ...c, message: noteText(c.note, now) })),
    replicas: s.replicas.map((r) => (r.note === undefined ? { ...r } : { ...r, message: noteText(r.note, now) })),
  };
  if (unschedulable !== undefined) v.unschedulable = explainUnschedulable(unschedulable, now);
  if (backoffs !== undefined) v.backoffs = backoffs.map((note) => ({ note, message: noteText(note, now) }));
  return v;
}

export function showNode(n: NodeStatus, now: number): NodeView {
  return n.note === undefined ? { ...n } : { ...n, message: noteText(n.note, now) };
}

export function showEvent(e: CountedEvent, now: number): EventView {
  const message = noteText(e.note, now);
  return { ...e, message: e.more ? `${message} (and ${e.more} more)` : message };
}

export function showAction(a: Action, now: number): ActionView {
  return { ...a, message: noteText(a.note, now) };
}

export interface StatusDoc {
  apiVersion: 'fog/v1';
  kind: 'ControllerStatus';
  cluster: string;
  /** Monotonic and wall time at the moment the document was made: ages = clock.now - t. */
  clock: { now: number; wall: number };
  startedAt: number;
  passes: number;
  /** Passes that found nothing changed (same desired generation and observations) and skipped the reconcile. */
  unchangedPasses?: number;
  lastPassAt?: number;
  desired: { dir: string; generation: number; errors: LoadError[]; held: string[]; folderError?: string };
  status: StatusView;
  /** The actions of the latest pass (secrets redacted). */
  lastActions: ActionView[];
  /** Latest failure per replica, until that replica's next action succeeds. */
  failures: ActionFailure[];
  events: EventView[];
  specs?: Record<string, ServiceSummary>;
  nodeSpecs?: Record<string, NodeSummary>;
  /** Each service's revisions (`fogctl rollout history`): no env, only what identifies a revision. */
  rollouts?: Record<string, RolloutView>;
  sync?: unknown;
  /** Whether this controller acts: leader election, conflicts (src/ha). */
  control?: ControlView;
  /** The heartbeat's interval in use (`--heartbeat`, or longer above `--heartbeat-max-rate`); absent without a heartbeat. */
  heartbeat?: { intervalMs: number };
  /** Image pulls and copies in flight when the document was made. */
  images?: { transfers: ImageTransferView[] };
}

/** One pull (or copy, `from` a peer) in flight, and ms since it started. */
export type ImageTransferView = Transfer & { age: number };

export interface RevisionView {
  revision: number;
  hash: string;
  image: string;
  /** ISO 8601, when the manifest first named it. */
  created: string;
  source?: string;
  commit?: string;
  outcome: string;
  /** The digest its tag was pinned to, and the platforms of the image's index. */
  digest?: string;
  platforms?: readonly string[];
  /** Why it failed, in words. */
  failure?: string;
  ended?: string;
}

export interface RolloutView {
  phase: RolloutPhase;
  /** The revision the replicas are driven to, and the one the manifest names. */
  revision: number;
  manifestRevision: number;
  paused?: boolean;
  pinned?: number;
  /** What the target revision's replicas are created from: `name@sha256:…` once pinned, else the image as written. */
  image?: string;
  revisions: RevisionView[];
}

export function showRollouts(book: RolloutBook): Record<string, RolloutView> {
  const out: Record<string, RolloutView> = {};
  for (const [name, e] of [...book].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const number = (hash: string) => [...e.revisions].reverse().find((r) => r.hash === hash)?.number ?? 0;
    const view: RolloutView = {
      phase: e.phase,
      revision: number(e.target),
      manifestRevision: number(e.manifest),
      revisions: e.revisions.map((r) => {
        const v: RevisionView = { revision: r.number, hash: r.hash, image: r.shape.image, created: isoUtc(r.created), outcome: r.outcome };
        if (r.source !== undefined) v.source = `${r.source.file}:${r.source.line}`;
        if (r.commit !== undefined) v.commit = r.commit;
        if (r.digest !== undefined) v.digest = r.digest;
        if (r.platforms !== undefined) v.platforms = r.platforms;
        if (r.failure !== undefined) v.failure = failureText(r.failure);
        if (r.ended !== undefined) v.ended = isoUtc(r.ended);
        return v;
      }),
    };
    if (e.paused === true) view.paused = true;
    if (e.pinned !== undefined) view.pinned = e.pinned;
    const target = [...e.revisions].reverse().find((r) => r.hash === e.target);
    if (target !== undefined) view.image = revisionImage(target);
    out[name] = view;
  }
  return out;
}

/** What `describe` shows of a Service's spec (secret values redacted). */
export interface ServiceSummary {
  image: string;
  mode: 'replicated' | 'global';
  replicas: number;
  command?: readonly string[];
  network: string;
  ports: string[];
  env: string[];
  devices: readonly string[];
  resources: { cpu?: string; memory?: string; disk?: string };
  constraints: string[];
  spread?: string;
  dependsOn: readonly string[];
  restart: string;
  update: string;
  source: string;
  /** Kept at its last good version because its manifest is bad now. */
  held: boolean;
}

export interface NodeSummary {
  endpoint: string;
  address: string;
  devices: readonly string[];
  labels: Readonly<Record<string, string>>;
  source: string;
  held: boolean;
}
