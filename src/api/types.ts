// The fog/v1 API as typed, normalised values: what the loader produces and
// what the pure core (schedule, reconcile) consumes. Every default is already
// applied here, so nothing downstream has to guess.
//
// Units: cpu in millicores (1 CPU = 1000), memory in bytes, durations in
// milliseconds, times in milliseconds on the controller's monotonic clock.

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

export type ConstraintSubject =
  | { kind: 'name' }
  | { kind: 'arch' }
  | { kind: 'os' }
  | { kind: 'cpu' }
  | { kind: 'memory' }
  | { kind: 'label'; key: string };

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
  /** Overrides for what the engine reports. */
  capacity: { cpu?: number; memory?: number };
  /** Cordon: no new replicas are placed here. Default false. */
  unschedulable: boolean;
  /** What services on this node may do beyond the secure defaults (docs/security.md). Absent: nothing. */
  allow?: NodeAllow;
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
}

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
  /** Reserved for placement, applied as limits. */
  resources: { cpu?: number; memory?: number };
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
  /** Controller-level security policy (`fogctl run --allow-*`, `--secret-pattern`). Absent: DEFAULT_POLICY, nothing allowed. */
  policy?: Policy;
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
  /** Reserved cpu (millicores) / memory (bytes), so any controller can count them. */
  cpu: 'fog.cpu',
  memory: 'fog.memory',
  /** Host ports a container binds, `tcp/1883,udp/5683` (needed for network host, where the engine records none). */
  ports: 'fog.ports',
} as const;

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
  resources: { cpu?: number; memory?: number };
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
  /** Images present on the engine (repo:tag), when known. */
  images?: readonly string[];
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
  resources: { cpu?: number; memory?: number };
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
  /** Reason code (see README) and a one-line message. */
  reason: string;
  message: string;
}

export type Action =
  | (ActionBase & { type: 'create'; container: ContainerSpec; start: boolean })
  | (ActionBase & { type: 'start'; containerId: string; containerName: string })
  | (ActionBase & { type: 'stop'; containerId: string; containerName: string; timeout: number })
  | (ActionBase & { type: 'remove'; containerId: string; containerName: string; stopTimeout: number });

// ---------------------------------------------------------------------------
// Status: what `fogctl get/describe` shows.

export interface Condition {
  type: string; // Available, Progressing, Unschedulable, CrashLoop, DependencyWait, ...
  status: boolean;
  reason: string;
  message: string;
}

export interface NodeRejection {
  node: string;
  filter: string;
  message: string;
}

export interface Unschedulable {
  slot?: number;
  /** `0/4 nodes eligible: 2 missing device /dev/ttyUSB0, 1 unreachable` */
  message: string;
  counts: Readonly<Record<string, number>>;
  /** The first filter that rejected each node, with its detail. */
  perNode: readonly NodeRejection[];
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
  message?: string;
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
}

export interface NodeStatus {
  name: string;
  reachable: boolean;
  since: number;
  lastSeen?: number;
  unschedulable: boolean;
  capacity: { cpu: number; memory: number };
  reserved: { cpu: number; memory: number };
  labels: Readonly<Record<string, string>>;
  devices: readonly string[];
  replicas: number;
  message?: string;
}

export interface StatusEvent {
  time: number;
  type: 'Normal' | 'Warning';
  reason: string;
  object: string; // service/NAME or node/NAME
  message: string;
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

export interface ReconcileResult {
  actions: readonly Action[];
  status: Status;
}
