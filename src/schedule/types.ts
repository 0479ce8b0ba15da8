// The scheduler's vocabulary: a node as the filters see it, what a service
// asks of a node, and every "no" as a structured value (the Rejection types
// live in src/api/notes.ts; text is made in src/status/text.ts).

import type { Constraint, NodeAllow } from '../api/types.js';
import type { NodeFacts } from '../api/constraint.js';
import type { FilterName, Rejection } from '../api/notes.js';

export type { FilterName, NodeVerdict, Rejection } from '../api/notes.js';

/** What one replica asks beyond the secure defaults (security.ts). */
export interface SecurityRequest {
  privileged: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  capabilities: readonly string[];
  /** Bind-mount sources, sorted, unique. */
  hostPaths: readonly string[];
}

export interface Resources {
  cpu: number; // millicores
  memory: number; // bytes
}

/** A node during one reconcile pass. `reserved`, `hostPorts` and `services` change as the pass plans. */
export interface NodeInfo {
  name: string;
  address: string;
  reachable: boolean;
  /** Unreachable for longer than the grace period (or never observed): its replicas are re-placed. */
  lost: boolean;
  since: number;
  lastSeen?: number;
  error?: string;
  cordoned: boolean;
  facts: NodeFacts;
  devices: ReadonlySet<string>;
  capacity: Resources;
  reserved: Resources;
  /** `proto/port` → containers binding it. */
  hostPorts: Map<string, number>;
  /** service → replicas of it on this node (observed and kept, plus planned). */
  services: Map<string, number>;
  /** Nodes with the same class answer every class-scoped filter the same way. */
  classId: number;
  /** Position in name order (set by buildNodeInfos and by the Scheduler). */
  index: number;
  /** The node's allowance or-ed with the controller policy (security.ts). Absent: nothing allowed. */
  allow?: NodeAllow;
}

/** What a service asks of a node; derived once per service per pass. */
export interface PlacementRequest {
  service: string;
  constraints: readonly Constraint[];
  devices: readonly string[];
  resources: Resources;
  maxPerNode?: number;
  affinity: readonly string[];
  antiAffinity: readonly string[];
  /** `proto/port` bound on the host by one replica. */
  hostPorts: readonly string[];
  spread?: string;
  /** What one replica needs beyond the secure defaults (security.ts); absent: nothing. */
  security?: SecurityRequest;
  /** The platforms (`os/arch[/variant]`) the image's index has; absent: unknown, any node. */
  platforms?: readonly string[];
}

export interface Filter {
  name: FilterName;
  /** `class`: the answer depends only on the node's equivalence class, so it is computed once per class per service. */
  scope: 'class' | 'node';
  /** The answer cannot change during a pass (everything but capacity, counts and ports). */
  static: boolean;
  /** Also enforced on replicas already running: a replica on a node failing it is moved. */
  enforcedOnRunning: boolean;
  check(req: PlacementRequest, node: NodeInfo): Rejection | undefined;
  /** False when the filter cannot reject anything for this request (lets per-class memos and fast paths apply). Default: true. */
  relevant?(req: PlacementRequest): boolean;
}
