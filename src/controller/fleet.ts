// The controller's view of the engines: one client per Node manifest, a
// cache of the last observation of each, and the executor. The loop only
// talks to this port, so the whole controller can run against real engines
// or hollow ones through the very same code.

import type { Action, ActionResult, FogNode, ObservedImage, ObservedState } from '../api/types.js';
import type { Engine } from '../docker/engine.js';
import type { Transfer } from '../apply/images.js';

export interface FleetPort {
  /** Open clients for new Node manifests, close those of removed ones. */
  sync(nodes: readonly FogNode[]): void;
  /** Re-observe the named nodes (all when undefined) and return the whole cached state. */
  observe(nodes?: readonly string[]): Promise<ObservedState>;
  execute(actions: readonly Action[]): Promise<ActionResult[]>;
  /** Called with a node's name when its engine reports a container change, and when its heartbeat loses it or hears it again (observe it then). */
  onChange(cb: (node: string) => void): void;
  /** The image `image` names on the first reachable node that has it (its last observed images), if any. */
  nodeImage?(image: string): ObservedImage | undefined;
  close(): Promise<void>;
  /** The engine client of a node (image GC lists and removes images through it); absent for fleets without one. */
  engine?(node: string): Engine | undefined;
  /** When the node's engine last answered its heartbeat (controller clock), if it has one: a Ready node's LAST-SEEN, between two resyncs. */
  lastAnswer?(node: string): number | undefined;
  /** Image pulls and copies in flight (the status shows their progress). */
  transfers?(): Transfer[];
  /** The heartbeat's interval in use (longer than configured above its rate cap), when there is a heartbeat. */
  heartbeatIntervalMs?(): number | undefined;
}
