// Why the pure core decided what it decided, as data: a reason code plus the
// detail a person needs. The core never writes prose; src/status/text.ts turns
// a Note into a sentence at the moment it is shown, with ages instead of the
// controller's monotonic times (which mean nothing to a reader).
//
// Times (`since`, `until`, `lastSeen`, …) are controller-monotonic ms.

// (Kept free of imports, so types.ts can build on it without an import circle.)
type OnNodeReturn = 'keep-replacement' | 'keep-original';
type RestartPolicy = { policy: 'always' | 'on-failure' | 'never'; maxRetries: number };
type UpdatePolicy = { parallelism: number; order: 'start-first' | 'stop-first'; delay: number };

// ---------------------------------------------------------------------------
// Rejections: why a node cannot take a replica (one per placement filter).

export type SecurityNeed = 'privileged' | 'hostPID' | 'hostIPC';

/** A node that does not allow what the service needs; `allowed` is the node's effective list. */
export type PolicyRejection =
  | { filter: 'SecurityPolicy'; node: string; need: SecurityNeed }
  | { filter: 'SecurityPolicy'; node: string; need: 'capability'; capability: string; allowed: readonly string[] }
  | { filter: 'SecurityPolicy'; node: string; need: 'hostPath'; path: string; allowed: readonly string[] };

/** Why a node was rejected: the filter and the figures a person needs. */
export type Rejection =
  | { filter: 'NodeReachable'; since: number; lastSeen?: number; error?: string }
  | { filter: 'NodeSchedulable' }
  | { filter: 'NodeConstraint' | 'NodeNameConstraint'; constraint: string; detail: string }
  | { filter: 'NodeDevices'; device: string }
  | { filter: 'NodeResources'; resource: 'cpu' | 'memory' | 'disk'; requested: number; free: number }
  /** The engine's data root has less free space than the controller's --disk-pressure threshold (kubelet's DiskPressure). */
  | { filter: 'NodeDiskPressure'; free: number; total: number }
  /** The image's index has no variant for the node's `os/arch`. */
  | { filter: 'ImagePlatform'; platform: string }
  | { filter: 'MaxPerNode'; max: number; running: number }
  | { filter: 'ServiceAffinity'; service: string }
  | { filter: 'ServiceAntiAffinity'; service: string }
  | { filter: 'HostPorts'; port: string }
  | PolicyRejection;

export type FilterName = Rejection['filter'];

export interface NodeVerdict {
  node: string;
  rejection: Rejection;
}

/** A replica that fits nowhere: the first filter that rejected each node (text and counts are made at the edge). */
export interface Unschedulable {
  slot?: number;
  totalNodes: number;
  verdicts: readonly NodeVerdict[];
}

// ---------------------------------------------------------------------------
// Action failures: the executor's outcome of one Docker call, by class.

export type ActionFailureCode =
  | 'unknown-node'
  | 'unreachable'
  | 'timeout'
  | 'image-pull-failed'
  /** Streaming an image from a peer node failed (either engine, or the stream between them). */
  | 'image-copy-failed'
  /** The registry refused the credentials (or asked for some and none were configured): terminal until the spec changes or `fogctl rollout restart`. */
  | 'registry-auth-failed'
  | 'bad-parameter'
  | 'device-not-found'
  | 'port-in-use'
  | 'out-of-memory'
  | 'start-failed'
  | 'name-conflict'
  | 'not-managed'
  | 'not-found'
  | 'engine-error'
  /** The engine cannot start this container: state it holds for it is left over (a task or network endpoint from before it restarted). A new container clears it. */
  | 'container-stale'
  /** Not carried out: this controller may not act now (standby, lease not renewed, or a conflict with another controller). */
  | 'fenced';

// ---------------------------------------------------------------------------
// Notes, one shape per reason code.

interface Slotted {
  slot: number;
  /** The container acted on or made. */
  container: string;
  node: string;
}

interface Unreach {
  node: string;
  since: number;
  lastSeen?: number;
  error?: string;
}

/** The detail of each reason code. */
export interface NoteDetail {
  // actions: create
  Scheduled: Slotted;
  /** A create replacing a replica on a node lost beyond the grace period (`from`); or, on a node, the loss itself. */
  NodeLost: (Slotted & { from: string; lastSeen?: number }) | Unreach;
  Rescheduled: Slotted;
  Recreate: Slotted;
  /** An action of a rollout; or, as a condition, a rollout in progress. */
  RollingUpdate: (Slotted & { step: 'start-first' | 'stop-first' | 'retire'; old: string; oldNode: string }) | { upToDate: number; desired: number };
  // actions: start
  Start: { container: string };
  Restart: { container: string; exitCode?: number; restart: number; backoff: number };
  // actions: remove
  ScaleDown: Slotted & { replicas: number };
  Orphaned: { service: string; container: string; node: string };
  InvalidSlot: { container: string; node: string };
  Duplicate: Slotted & { kept: string };
  NodeReturned: Slotted & { kept: string; keptNode: string; onNodeReturn: OnNodeReturn; since: number };
  Misplaced: { slot?: number; container: string; node: string; rejection: Rejection };
  Dead: { container: string; node: string };
  /** The engine refused to start it again for state left over from before it restarted (`container-stale`): a new container takes the slot. */
  Unstartable: Slotted & { message: string };
  // actions: pull, copy (images, reconcile/images.ts)
  /** The slot's new image is brought onto its node (pulled, or copied `from` a peer) before its old replica is stopped. */
  PullImage: { slot: number; node: string; image: string; from?: string };
  // conditions, replica lines, events
  /** A rollout waits for images: on these slots' nodes the new image is not there yet (being fetched, or waiting for a peer). */
  PullingImage: { slots: readonly { slot: number; node: string; image: string; from?: string }[] };
  /** No node has the image and the nodes that need it may not pull (`spec.images.pull: never`). */
  ImageUnavailable: { image: string; nodes: readonly string[] };
  Unschedulable: Unschedulable;
  BackOff: { container: string; backoff: number; until: number };
  /** Failed actions for a slot: retried at `until`, or (undefined) only after the spec changes. */
  ActionBackOff: { slot: number; node: string; action: 'create' | 'start' | 'remove' | 'pull' | 'copy'; attempts: number; failure: ActionFailureCode; message: string; until?: number };
  CrashLoopBackOff: { replicas: readonly { slot: number; container: string; node: string; restarts: number }[] };
  Completed: { count: number; exitCode?: number };
  Failed: { count: number; exitCode?: number; restart: RestartPolicy; restarts?: number };
  DependencyWait: { waiting: readonly { service: string; defined: boolean }[] };
  DependencyCycle: { cycle: readonly string[] };
  RolloutWaiting: { waiting: number; update: UpdatePolicy } | { blockedBy: Note };
  RolloutDelay: { until: number };
  NodeUnreachable:
    (Unreach & { until: number }) | { nodes: readonly string[]; until: number; unobserved: true } | { replicas: readonly { slot: number; node: string; since: number; until: number }[] };
  ReplicasReady: { ready: number; desired: number };
  ReplicasNotReady: { ready: number; desired: number };
  RolloutComplete: { upToDate: number; desired: number };
  /** Replicas being placed or started (not a rollout: nothing old is replaced). */
  ReplicasPending: { upToDate: number; desired: number };
  PolicyRefused: { reasons: readonly string[] };
  /** A replica kept while its node is unreachable (within grace) or lost (beyond it). */
  ReplicaUnreachable: Unreach & { until: number; lost: boolean; global: boolean };
  /** A container on a node that is not in the desired state. */
  UnknownNode: { node: string };
  // safe rollouts (reconcile/revisions.ts)
  /** A new revision started rolling out (event). */
  RolloutStarted: { revision: number; hash: string };
  /** New replicas in their monitor period: the next batch waits until `until`. */
  RolloutMonitoring: { monitoring: number; until: number; monitor: number };
  /** A changed spec waits for a maintenance window; `opensAt` is wall-clock ms (Unix). */
  WaitingForWindow: { revision: number; windows: readonly string[]; opensAt?: number };
  /** No new batch: paused by `fogctl rollout pause`, by failureAction pause, or a canary waiting for promotion. */
  RolloutPaused: { revision: number; by: 'user' | 'failure' | 'canary' };
  /** A revision failed its rollout (event, and the condition while it stays failed). */
  RolloutFailed: { revision: number; hash: string; cause: RolloutFailure };
  /** The service runs (or is going back to) an earlier revision because `from` failed. */
  RolledBack: { from: number; fromHash: string; to: number; toHash: string; cause: RolloutFailure };
  /** `fogctl rollout resume` (also promotes a waiting canary). */
  RolloutResumed: { revision: number };
  /** `fogctl rollout undo`: pinned to revision `to` until the manifest changes. */
  RolloutUndo: { to: number; hash: string };
  /** `fogctl rollout restart`: the service rolls out again, its image tag resolved afresh (event). */
  RolloutRestart: { revision: number };
  /** A revision completed: every replica on it passed its monitor period (event). */
  RevisionComplete: { revision: number; hash: string };
  /** Another controller of the same cluster created containers on these engines (`at`: when seen); this one does not act until `until`. */
  Conflict: { others: readonly { identity: string; node: string; container: string; at: number }[]; until: number };
  /** This controller won the etcd lease (revision `rev`) and acts. */
  Leading: { identity: string; rev: number };
  /** This controller stopped acting: it lost (or never had) the etcd lease. */
  NotLeading: { reason: string };
  // image garbage collection (reconcile/images-gc.ts decides, controller/image-gc.ts removes)
  /** An image no replica needs was removed from a node: by `fogctl images prune`, or because the data root ran low. */
  ImageRemoved: { node: string; image: string; id: string; size: number; trigger: ImageGcTrigger };
  /** Removing an image failed (e.g. a container started using it meanwhile); it is tried again at the next collection. */
  ImageRemoveFailed: { node: string; image: string; id: string; error: string; trigger: ImageGcTrigger };
}

/** What started an image collection: the user (`fogctl images prune`) or a data root below the GC threshold. */
export type ImageGcTrigger = 'prune' | 'disk';

/** Why a rollout failed. */
export type RolloutFailure =
  | { kind: 'replicas'; allowed: number; failed: readonly { slot: number; node: string; container: string; why: 'exited' | 'restarted' | 'unhealthy' | 'create-failed'; exitCode?: number }[] }
  | { kind: 'deadline'; deadline: number };

export type ReasonCode = keyof NoteDetail;

export type Note = { [K in ReasonCode]: { code: K } & NoteDetail[K] }[ReasonCode];

/** The Note of code K. */
export type NoteOf<K extends ReasonCode> = Extract<Note, { code: K }>;

/** Every reason code, for the docs check and for exhaustive switches. */
export const REASON_CODES: readonly ReasonCode[] = [
  'Scheduled',
  'NodeLost',
  'Rescheduled',
  'Recreate',
  'RollingUpdate',
  'Start',
  'Restart',
  'ScaleDown',
  'Orphaned',
  'InvalidSlot',
  'Duplicate',
  'NodeReturned',
  'Misplaced',
  'Dead',
  'Unstartable',
  'PullImage',
  'PullingImage',
  'ImageUnavailable',
  'Unschedulable',
  'BackOff',
  'ActionBackOff',
  'CrashLoopBackOff',
  'Completed',
  'Failed',
  'DependencyWait',
  'DependencyCycle',
  'RolloutWaiting',
  'RolloutDelay',
  'NodeUnreachable',
  'ReplicasReady',
  'ReplicasNotReady',
  'RolloutComplete',
  'ReplicasPending',
  'Conflict',
  'Leading',
  'NotLeading',
  'PolicyRefused',
  'ReplicaUnreachable',
  'UnknownNode',
  'RolloutStarted',
  'RolloutMonitoring',
  'WaitingForWindow',
  'RolloutPaused',
  'RolloutFailed',
  'RolledBack',
  'RolloutUndo',
  'RolloutResumed',
  'RolloutRestart',
  'RevisionComplete',
  'ImageRemoved',
  'ImageRemoveFailed',
];
