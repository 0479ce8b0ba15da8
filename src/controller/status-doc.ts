// The document the status API serves and fogctl reads: plain JSON.

import type { Action, LoadError, Status, StatusEvent } from '../api/types.js';

export interface ActionFailure {
  time: number;
  type: Action['type'];
  node: string;
  service: string;
  slot: number;
  code: string;
  message: string;
  retryable: boolean;
}

/** An event with how often it repeated, as Kubernetes aggregates them. */
export type CountedEvent = StatusEvent & { count?: number; firstTime?: number };

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
  status: Status;
  /** The actions of the latest pass (secrets redacted). */
  lastActions: Action[];
  /** Latest failure per replica, until that replica's next action succeeds. */
  failures: ActionFailure[];
  events: CountedEvent[];
  specs?: Record<string, ServiceSummary>;
  nodeSpecs?: Record<string, NodeSummary>;
  sync?: unknown;
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
  resources: { cpu?: string; memory?: string };
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
