// The fog/v1 API as typed, normalised values: what the loader produces and
// what the pure core (schedule, reconcile) consumes. Every default is already
// applied here, so nothing downstream has to guess.
//
// Units: cpu in millicores (1 CPU = 1000), memory in bytes, durations in
// milliseconds, times in milliseconds on the controller's monotonic clock.

import type { ActionFailureCode, Note, ReasonCode, RolloutFailure, Unschedulable } from './notes.js';
import type { MaintenanceWindow } from './window.js';

export const API_VERSION = 'fog/v1';

/** Where an object (or a field) came from: used in every located error. */
export interface SourcePos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export interface ObjectMeta {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------
// Constraints: Swarm-style expressions, parsed once at load time.

export type ConstraintSubject = { kind: 'name' } | { kind: 'arch' } | { kind: 'os' } | { kind: 'cpu' } | { kind: 'memory' } | { kind: 'label'; key: string };

export type ConstraintOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | 'exists' | 'not exists';

export interface Constraint {
  /** The expression exactly as written, for reasons and errors. */
  text: string;
  subject: ConstraintSubject;
  op: ConstraintOp;
  /** One value for comparisons, a list for `in`/`not in`, empty for `exists`. */
  values: readonly string[];
}

// ---------------------------------------------------------------------------
// Node

export interface NodeTls {
  ca: string;
  cert: string;
  key: string;
}

export interface NodeSpec {
  /** `unix:///path/docker.sock` or `tcp://host:port`. */
  endpoint: string;
  tls?: NodeTls;
  /** Plain `tcp://` allowed only when written explicitly. Default false. */
  insecure: boolean;
  /** Where other services reach containers on this node. Default: the endpoint's host, or 127.0.0.1 for unix sockets. */
  address: string;
  /** Host device paths present on the node. Default []. */
  devices: readonly string[];
  /** Overrides for what the engine reports; `disk` (bytes) is what `resources.disk` reservations count against (default: the data root's size, when known). */
  capacity: { cpu?: number; memory?: number; disk?: number };
  /** Cordon: no new replicas are placed here. Default false. */
  unschedulable: boolean;
  /** What services on this node may do beyond the secure defaults (docs/security.md). Absent: nothing. */
  allow?: NodeAllow;
  /** How images reach the node. Absent: pulled from their registry (copied from a peer when that fails). */
  images?: NodeImages;
}

/** `never`: the node has no route to a registry; images come only from peers (or `fogctl images load`). */
export interface NodeImages {
  pull: 'if-not-present' | 'never';
}

/**
 * Relaxations of the secure defaults, granted by a Node (`spec.allow`) or by
 * the controller for every node (`Policy.allow`). The two are merged (or'ed).
 */
export interface NodeAllow {
  privileged: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  /** Capability names without `CAP_`, upper case, sorted; `ALL` allows any. */
  capabilities: readonly string[];
  /** Host path prefixes that bind mounts may use (`/data` allows `/data` and `/data/x`, not `/database`). */
  hostPaths: readonly string[];
}

export interface FogNode {
  kind: 'Node';
  metadata: ObjectMeta;
  spec: NodeSpec;
  source: SourcePos;
}

// ---------------------------------------------------------------------------
// Service

export interface EnvVar {
  name: string;
  value: string;
  /** Declared secret, or a name matching the secret pattern: never shown. */
  secret: boolean;
}

export interface PortMapping {
  container: number;
  /** Host port; with network host the container port is the host port. */
  host?: number;
  protocol: 'tcp' | 'udp';
}

export interface VolumeMount {
  /** A host path when it starts with `/`, otherwise a named volume. */
  source: string;
  target: string;
  readOnly: boolean;
  type: 'bind' | 'volume';
}

export interface Placement {
  constraints: readonly Constraint[];
  /** A node label key whose values replicas are spread across. */
  spread?: string;
  /** At most this many replicas of the service on one node. */
  maxPerNode?: number;
  /** Services that must already have a replica on the node. */
  affinity: readonly string[];
  /** Services that must not have a replica on the node. */
  antiAffinity: readonly string[];
  /** Which replica goes when a lost node returns. Default keep-replacement. */
  onNodeReturn: 'keep-replacement' | 'keep-original';
}

export interface RestartPolicy {
  policy: 'always' | 'on-failure' | 'never';
  /** For on-failure: give up after this many restarts. Default 5. */
  maxRetries: number;
}

export interface UpdatePolicy {
  /** Replicas replaced at once. Default 1. */
  parallelism: number;
  /** Default stop-first, as in Swarm. */
  order: 'start-first' | 'stop-first';
  /** Pause between batches, ms. Default 0. */
  delay: number;
  /** How long each new replica must stay running (and healthy, with a healthcheck) to count as a success, ms. Default 10000. */
  monitor: number;
  /** Share of the new replicas (of `replicas`) allowed to fail before the rollout fails. Default 0. */
  maxFailureRatio: number;
  /** What a failed rollout does. Default rollback (to the last revision that completed). */
  failureAction: 'rollback' | 'pause' | 'continue';
  /** A rollout not complete this long after it started fails (ProgressDeadlineExceeded), ms. Default 600000. */
  progressDeadline: number;
  /** A changed spec starts rolling out only inside one of these (wall clock of each window's zone). Empty: any time. */
  windows: readonly MaintenanceWindow[];
  /** The first N replicas of a new spec run (start-first) and are monitored before the rest follow. Default 0 (no canary). */
  canary: number;
  /** With a canary: go on by itself once the canaries passed their monitor (true, default), or wait for `fogctl rollout resume`. */
  autoPromote: boolean;
}

export const DEFAULT_UPDATE: UpdatePolicy = {
  parallelism: 1,
  order: 'stop-first',
  delay: 0,
  monitor: 10_000,
  maxFailureRatio: 0,
  failureAction: 'rollback',
  progressDeadline: 600_000,
  windows: [],
  canary: 0,
  autoPromote: true,
};

export interface Healthcheck {
  /** Docker's form: ["CMD", ...] or ["CMD-SHELL", "..."]. */
  test: readonly string[];
  interval: number; // ms, default 10000
  timeout: number; // ms, default 5000
  retries: number; // default 3
  startPeriod: number; // ms, default 0
}

export interface ServiceSpec {
  image: string;
  /** Overrides the image's command. A string is run with `/bin/sh -c`. */
  command?: readonly string[];
  env: readonly EnvVar[];
  ports: readonly PortMapping[];
  /** Default bridge, as in Docker. */
  network: 'host' | 'none' | 'bridge';
  volumes: readonly VolumeMount[];
  mode: 'replicated' | 'global';
  /** Wanted replicas (replicated mode). Default 1; ignored for global. */
  replicas: number;
  /** Reserved for placement; cpu and memory are applied as limits, disk (bytes) is reserved only. */
  resources: { cpu?: number; memory?: number; disk?: number };
  devices: readonly string[];
  placement: Placement;
  dependsOn: readonly string[];
  restart: RestartPolicy;
  update: UpdatePolicy;
  healthcheck?: Healthcheck;
  /** Seconds to wait between stop (SIGTERM) and kill. Default 10. */
  stopGracePeriod: number;
  /** Absent: every field at its secure default (false / []). */
  security?: ServiceSecurity;
  /** Not from the manifest: when `fogctl rollout restart` last asked (wall ms, from the rollout book). Shapes the container, so a restart is a new revision (kubectl's restartedAt annotation). */
  restartedAt?: number;
}

/** What a service asks beyond the secure defaults; each needs a Node or controller allowance. */
export interface ServiceSecurity {
  privileged: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  /** Capability names without `CAP_`, upper case, sorted, unique. */
  capAdd: readonly string[];
}

export interface Service {
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  source: SourcePos;
}

export type FogObject = FogNode | Service;

// ---------------------------------------------------------------------------
// Loader output

export interface LoadError {
  file: string;
  line: number;
  col: number;
  /** Stable machine-readable code, e.g. `schema`, `yaml-syntax`, `duplicate-object`. */
  code: string;
  message: string;
  /** kind/name when the error belongs to one object. */
  object?: string;
}

export interface LoadResult {
  nodes: FogNode[];
  services: Service[];
  errors: LoadError[];
  /** Files that were read (relative to the root given). */
  files: string[];
}

// ---------------------------------------------------------------------------
// Controller settings that the pure core needs (passed in, never read).

export interface ReconcileSettings {
  /** Set on the controller; part of every ownership label and container name. */
  cluster: string;
  /** A node unreachable for longer than this has its replicas re-placed. Default 10000 ms. */
  nodeGracePeriod: number;
  /** Restart back-off bounds, ms. Defaults 1000 and 60000 (doubling). */
  restartBackoffBase: number;
  restartBackoffMax: number;
  /** A replica restarted this many times within the window is in crash loop. */
  crashLoopRestarts: number;
  /** Back-off after failed actions of one slot, ms: base · 2^(attempts-1), capped. Defaults 1000 and 300000. */
  actionBackoffBase: number;
  actionBackoffMax: number;
  /** A container that ran at least this long before it stopped starts a new restart streak (no back-off). Default 10000. */
  stableRunMs: number;
  /** Controller-level security policy (`fogctl run --allow-*`, `--secret-pattern`). Absent: DEFAULT_POLICY, nothing allowed. */
  policy?: Policy;
  /** `fogctl run --image-source`: `peers` copies an image from a node that has it before any node pulls it. Default `registry`. */
  imageSource?: 'registry' | 'peers';
  /** A node whose engine data root has less free space than this takes no new replicas (`fogctl run --disk-pressure`). Absent: never. */
  diskPressure?: DiskThreshold;
}

/** Free space below `percent` of the total and below `bytes` crosses the threshold (the smaller bound counts; an absent one is no bound). */
export interface DiskThreshold {
  percent?: number;
  bytes?: number;
}

/** Free space of a filesystem, bytes. */
export interface DiskSpace {
  free: number;
  total: number;
}

/** The controller's security policy: allowances for every node, and what counts as secret. */
export interface Policy {
  allow: NodeAllow;
  /**
   * Extra env-name pattern (a regular expression source, matched case-insensitively)
   * whose values are secret, in addition to PASSWORD|SECRET|TOKEN|KEY. Empty: none.
   */
  secretPattern: string;
}

export const DEFAULT_SETTINGS: ReconcileSettings = {
  cluster: 'default',
  nodeGracePeriod: 10_000,
  restartBackoffBase: 1_000,
  restartBackoffMax: 60_000,
  crashLoopRestarts: 3,
  actionBackoffBase: 1_000,
  actionBackoffMax: 300_000,
  stableRunMs: 10_000,
};

export interface DesiredState {
  nodes: readonly FogNode[];
  services: readonly Service[];
  settings: ReconcileSettings;
}

// ---------------------------------------------------------------------------
// Observed state: what the engines report, in the controller's time base.

/** Ownership labels carried by every managed container. */
export const LABEL = {
  cluster: 'fog.cluster',
  service: 'fog.service',
  slot: 'fog.slot',
  hash: 'fog.spec-hash',
  node: 'fog.node',
  /** Reserved cpu (millicores) / memory (bytes) / disk (bytes), so any controller can count them. */
  cpu: 'fog.cpu',
  memory: 'fog.memory',
  disk: 'fog.disk',
  /** Host ports a container binds, `tcp/1883,udp/5683` (needed for network host, where the engine records none). */
  ports: 'fog.ports',
  /** The controller that created the container: `host/pid/start` (one actor per cluster, see src/ha). */
  controller: 'fog.controller',
  /** With etcd leader election: the revision of the leader's lease key when it was created. */
  leaseRev: 'fog.lease-rev',
} as const;

/**
 * Ours: this cluster's label and a service label. Everything else (a person's
 * own containers, another cluster's) is foreign: counted for capacity, never touched.
 */
export function isOurs(labels: Readonly<Record<string, string>> | null | undefined, cluster: string): boolean {
  return labels != null && labels[LABEL.cluster] === cluster && labels[LABEL.service] !== undefined;
}

export type ContainerState = 'created' | 'running' | 'restarting' | 'exited' | 'dead' | 'paused' | 'removing';

export interface ObservedContainer {
  id: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  image: string;
  state: ContainerState;
  exitCode?: number;
  health: 'none' | 'starting' | 'healthy' | 'unhealthy';
  /** Restarts by the engine plus restarts by the controller (see README). */
  restartCount: number;
  /** Controller-monotonic ms when the observer saw it start / finish. */
  startedAt?: number;
  finishedAt?: number;
  /** Reservations read from labels or HostConfig; counted even for foreign containers. */
  resources: { cpu?: number; memory?: number; disk?: number };
  /** Host ports it binds (for port-conflict checks), `proto/port`. */
  hostPorts: readonly string[];
}

export interface EngineFacts {
  engineName: string;
  arch: string; // e.g. amd64, arm64 (Docker's Architecture normalised to GOARCH)
  os: string; // linux
  cpu: number; // millicores
  memory: number; // bytes
  labels: Readonly<Record<string, string>>;
  version?: string;
}

export interface ObservedNode {
  /** The Node manifest's name. */
  name: string;
  reachable: boolean;
  /** Controller-monotonic ms when `reachable` last changed (or the controller started). */
  since: number;
  /** Last successful contact, controller-monotonic ms. */
  lastSeen?: number;
  /** Why it is unreachable, when it is. */
  error?: string;
  /** The last known facts (kept while unreachable). */
  facts?: EngineFacts;
  /** All containers, managed and foreign; empty or last-known while unreachable. */
  containers: readonly ObservedContainer[];
  /** Free space of the engine's data root (DockerRootDir), when it can be known (an engine on a unix socket of this host). */
  disk?: DiskSpace;
  /** Images present on the engine, when known (read at resync and on image events; the same array while nothing changed). */
  images?: readonly ObservedImage[];
}

/** One image on an engine, as GET /images/json tells it. */
export interface ObservedImage {
  /** `sha256:…`, the engine's image id (the config digest: the same bits have the same id on every node). */
  id: string;
  /** `repo:tag` names, normalised as the engine shows them. */
  repoTags: readonly string[];
  /** `repo@sha256:…`: the manifest digests it was pulled by. */
  repoDigests: readonly string[];
  /** Bytes. */
  size: number;
}

export interface ObservedState {
  nodes: readonly ObservedNode[];
}

// ---------------------------------------------------------------------------
// Actions: the plan, as plain serialisable data.

export interface ContainerSpec {
  name: string;
  image: string;
  command?: readonly string[];
  env: readonly EnvVar[];
  labels: Readonly<Record<string, string>>;
  ports: readonly PortMapping[];
  network: 'host' | 'none' | 'bridge';
  volumes: readonly VolumeMount[];
  devices: readonly string[];
  resources: { cpu?: number; memory?: number; disk?: number };
  restart: RestartPolicy;
  healthcheck?: Healthcheck;
  stopGracePeriod: number;
  /** Absent: secure defaults. Applied to HostConfig only as written here. */
  security?: ServiceSecurity;
}

interface ActionBase {
  node: string;
  service: string;
  slot: number;
  /** Reason code (see README); `note.code` is the same code, with its detail. */
  reason: ReasonCode;
  note: Note;
  /** A global service's action: its slot is per node (every node's replica is slot 0). */
  global?: true;
}

export type Action =
  | (ActionBase & { type: 'create'; container: ContainerSpec; start: boolean })
  | (ActionBase & { type: 'start'; containerId: string; containerName: string; specHash?: string })
  | (ActionBase & { type: 'remove'; containerId: string; containerName: string; stopTimeout: number; specHash?: string })
  /** Bring `image` onto the node before anything is stopped for it: pulled from its registry. */
  | (ActionBase & { type: 'pull'; image: string; specHash: string })
  /** The same, streamed from a peer node that has it (`from`): the air-gapped plant. */
  | (ActionBase & {
      type: 'copy';
      image: string;
      specHash: string;
      from: string;
      /** The name the source exports it by: one of its tags (a tar saved by digest carries no name), else its id. */
      exportAs: string;
    });

/** What became of one action (the executor's answer): ok, or a failure code and whether trying again may help. */
export type ActionResult =
  | { action: Action; ok: true; /** The container made or acted on, when known. */ containerId?: string; code?: undefined; message?: undefined; retryable?: undefined }
  | { action: Action; ok: false; containerId?: undefined; code: ActionFailureCode; message: string; /** A transient failure: the same action may succeed later. */ retryable: boolean };

// ---------------------------------------------------------------------------
// Action history: what became of each slot's recent actions (kept by the
// controller, an input of the pure reconcile, which decides the back-off).

export interface ActionOutcome {
  type: Action['type'];
  node: string;
  /** The spec hash the action was for (create), or of the container acted on. */
  specHash?: string;
  containerId?: string;
  time: number;
  ok: boolean;
  code?: ActionFailureCode;
  message?: string;
  retryable?: boolean;
}

/** One action of a slot that keeps failing: how many times in a row, and the latest error. */
export interface FailureRecord {
  type: Action['type'];
  node: string;
  specHash?: string;
  /** A start or remove: the container it was for. */
  containerId?: string;
  attempts: number;
  time: number;
  code: ActionFailureCode;
  message: string;
  retryable: boolean;
}

/** Per slot (`service/slot`): the actions that keep failing, and restarts made by the controller. */
export interface SlotHistory {
  service: string;
  slot: number;
  /**
   * One record per failing action (type and spec hash; for a start or remove also the node):
   * a slot can have a create and a start failing at once (a rollout's new replica and its old one),
   * and each backs off on its own.
   */
  failures?: readonly FailureRecord[];
  /** Starts of an exited container made by the controller, in a row, for this container. */
  restarts?: { containerId: string; count: number; time: number };
}

export type ActionHistory = ReadonlyMap<string, SlotHistory>;

export const NO_HISTORY: ActionHistory = new Map();

/** `service/slot`; a global service's slots are per node: `service/0@node`. */
export function historyKey(service: string, slot: number, node?: string): string {
  return node === undefined ? `${service}/${slot}` : `${service}/${slot}@${node}`;
}

/** The history key of the slot an action is for. */
export function actionKey(a: Action): string {
  return historyKey(a.service, a.slot, a.global ? a.node : undefined);
}

// ---------------------------------------------------------------------------
// Status: what `fogctl get/describe` shows.

export interface Condition {
  type: string; // Available, Progressing, Unschedulable, CrashLoop, DependencyWait, ...
  status: boolean;
  reason: ReasonCode;
  note: Note;
}

export interface ReplicaStatus {
  slot: number;
  node: string;
  containerId?: string;
  containerName?: string;
  state: string;
  health: string;
  restarts: number;
  upToDate: boolean;
  ready: boolean;
  note?: Note;
  startedAt?: number;
}

export interface ServiceStatus {
  name: string;
  mode: 'replicated' | 'global';
  desired: number;
  ready: number;
  upToDate: number;
  available: number;
  specHash: string;
  conditions: readonly Condition[];
  replicas: readonly ReplicaStatus[];
  unschedulable?: Unschedulable;
  /** Slots whose actions failed and wait (ActionBackOff notes): attempts, last error, next try. */
  backoffs?: readonly Note[];
  /** Where the service's rollout stands (with rollout inputs). */
  rollout?: RolloutStatus;
}

export interface RolloutStatus {
  phase: RolloutPhase;
  /** The revision the replicas are driven to, and its hash. */
  revision: number;
  hash: string;
  /** The revision the manifest names (differs after a rollback, an undo, or while waiting for a window). */
  manifestRevision: number;
  /** update.monitor while rolling forward, else 0 (ms). */
  monitor: number;
  paused?: boolean;
  pinned?: number;
  /** The image the target revision's replicas are created from: `repo@sha256:…` once pinned, else the tag. */
  image?: string;
}

export interface NodeStatus {
  name: string;
  reachable: boolean;
  since: number;
  lastSeen?: number;
  unschedulable: boolean;
  capacity: { cpu: number; memory: number; disk?: number };
  reserved: { cpu: number; memory: number; disk?: number };
  /** Free space of the engine's data root, when known; `pressure` when below the controller's --disk-pressure. */
  disk?: DiskSpace & { pressure: boolean };
  labels: Readonly<Record<string, string>>;
  devices: readonly string[];
  replicas: number;
  error?: string;
  note?: Note;
}

export interface StatusEvent {
  time: number;
  type: 'Normal' | 'Warning';
  reason: ReasonCode;
  object: string; // service/NAME or node/NAME
  note: Note;
  /** Further actions of the same service and reason in this pass (one event stands for all). */
  more?: number;
}

export interface Status {
  services: readonly ServiceStatus[];
  nodes: readonly NodeStatus[];
  events: readonly StatusEvent[];
  /** Containers on the nodes that this cluster does not own (`fogctl get replicas --all`). Never acted on. */
  unmanaged?: readonly UnmanagedContainer[];
}

/** A container seen on a node that is not ours: someone's own, or another cluster's (`owner`). */
export interface UnmanagedContainer {
  node: string;
  id: string;
  name: string;
  image: string;
  state: ContainerState;
  /** The `fog.cluster` label when another fog controller owns it. */
  owner?: string;
}

// ---------------------------------------------------------------------------
// Safe rollouts: revisions and the state of each service's rollout, kept by
// the controller (persisted in its state directory), decided by the reconcile.

/** The spec fields that shape a container (what a revision pins; see reconcile/hash.ts containerShape). */
export type RevisionShape = Pick<
  ServiceSpec,
  'image' | 'env' | 'ports' | 'network' | 'volumes' | 'devices' | 'resources' | 'restart' | 'stopGracePeriod' | 'command' | 'healthcheck' | 'security' | 'restartedAt'
>;

export type RevisionOutcome = 'pending' | 'progressing' | 'complete' | 'failed' | 'superseded';

export interface Revision {
  readonly number: number;
  /** specHash of the shape, without dependency endpoints. */
  readonly hash: string;
  readonly shape: RevisionShape;
  /** Wall-clock ms (Unix) when the manifest first named it. */
  readonly created: number;
  readonly source?: { readonly file: string; readonly line: number };
  /** The GitOps commit it came from. */
  readonly commit?: string;
  readonly outcome: RevisionOutcome;
  readonly failure?: RolloutFailure;
  /** Wall-clock ms when it completed or failed. */
  readonly ended?: number;
  /** The digest (sha256:…) its image tag resolved to when it rolled out: every replica of it runs `repo@digest` (reconcile/pins.ts). */
  readonly digest?: string;
  /** The platforms (`os/arch[/variant]`) of the image's index when it was resolved; absent: unknown (every node may take it). */
  readonly platforms?: readonly string[];
}

export type RolloutPhase = 'Pending' | 'Progressing' | 'Paused' | 'Complete' | 'Failed' | 'RolledBack';

export interface ServiceRollout {
  readonly service: string;
  /** Oldest first, at most REVISIONS_KEPT. */
  readonly revisions: readonly Revision[];
  /** The manifest's revision hash when last seen: a pin or a pause holds while it stays the same. */
  readonly manifest: string;
  /** The revision hash the replicas are driven to. */
  readonly target: string;
  readonly phase: RolloutPhase;
  /** Controller-monotonic ms when the rollout to `target` started (progressDeadline); not persisted: a restarted controller gives a rollout in progress a fresh deadline. */
  readonly startedAt?: number;
  /** `fogctl rollout pause` (until resume or a new manifest hash). */
  readonly paused?: boolean;
  /** `fogctl rollout undo`: the revision number pinned (until the manifest hash changes). */
  readonly pinned?: number;
  /** A canary of the target was promoted (by `resume` or autoPromote). */
  readonly promoted?: boolean;
  /** Rolling forward, held between batches by a closed window (progressDeadline starts again when one opens). */
  readonly windowHeld?: boolean;
  /** `fogctl rollout restart`: wall ms of the last one (part of every later revision's shape, see ServiceSpec.restartedAt). */
  readonly restartedAt?: number;
}

/** Every service's rollout, by service name. */
export type RolloutBook = ReadonlyMap<string, ServiceRollout>;
export const NO_ROLLOUTS: RolloutBook = new Map();
export const REVISIONS_KEPT = 10;

/** What the reconcile needs beyond the world to run rollouts: the book, the wall clock (windows, revision times), the GitOps commit. */
export interface RolloutInputs {
  readonly book: RolloutBook;
  /** Wall-clock ms (Unix): maintenance windows and revision times only. */
  readonly wall: number;
  readonly commit?: string;
  /** What the shell learnt about image tags (controller/image-pins.ts), by the image reference as written: a revision without a digest is pinned from it once. */
  readonly images?: ReadonlyMap<string, ImageResolution>;
}

/** A tag resolved to a digest, from the registry (with the index's platforms) or from a node that pulled it. */
export interface ImageResolution {
  readonly digest: string;
  readonly platforms?: readonly string[];
}

export interface ReconcileResult {
  actions: readonly Action[];
  status: Status;
  /**
   * The earliest time (controller-monotonic ms) at which reconciling the same
   * observed state would decide something new: a back-off ending, a rollout
   * delay ending, a grace period running out. The controller requeues then.
   */
  requeueAt?: number;
  /** The rollout book after this pass (the controller keeps it and hands it back). */
  rollouts?: RolloutBook;
}

export type { ActionFailureCode, Note, ReasonCode, RolloutFailure, Unschedulable } from './notes.js';
