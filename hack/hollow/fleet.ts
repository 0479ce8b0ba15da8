// Many hollow nodes from one process, each on its own unix socket, in the
// manner of Kubernetes' kubemark: the controller drives them through exactly
// the dockerode code path it uses for real engines.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HollowEngine, type DieRule, type HollowContainer, type HollowNodeConfig } from './engine.js';
import { HollowServer, type Fault } from './server.js';

export type { DieRule, Fault, HollowNodeConfig };

export const DEFAULT_IMAGE = 'fog/busybox:latest';

export interface HollowFleetOptions {
  count: number;
  /** Sockets go to DIR/NAME.sock: keep DIR short (unix socket paths are at most 108 bytes). */
  dir: string;
  latencyMs?: number;
  /** Node name of index i. Default `h0000`, `h0001`, ... */
  name?: (i: number) => string;
  labels?: (i: number) => Record<string, string>;
  devices?: (i: number) => string[];
  /** Default 4 CPUs. */
  ncpu?: (i: number) => number;
  /** Default 8 GiB. */
  memTotal?: (i: number) => number;
  /** Default [fog/busybox:latest]. */
  images?: (i: number) => string[];
  pullable?: (ref: string) => boolean;
  healthyAfterMs?: number;
  /** Containers that die by themselves (applies to containers started afterwards too). */
  dies?: DieRule[];
}

export interface HollowNodeHandle {
  name: string;
  socket: string;
  /** `unix:///...`, for a Node manifest. */
  endpoint: string;
  labels: Record<string, string>;
  devices: string[];
}

export interface HollowContainerView {
  id: string;
  name: string;
  status: string;
  exitCode: number;
  restartCount: number;
  labels: Record<string, string>;
}

export interface HollowFleet {
  nodes: HollowNodeHandle[];
  setFault(node: string, fault: Fault): Promise<void>;
  /** The container's process dies (a crash, not an API call): die event, restart policy applies. */
  killContainer(node: string, id: string, exitCode?: number): void;
  /** The node's containers, straight from the model (no latency, no faults). */
  containers(node: string): HollowContainerView[];
  /** Every node's containers. */
  allContainers(): Array<HollowContainerView & { node: string }>;
  setDies(rules: DieRule[]): void;
  /** API calls answered per node and route. */
  calls(): Map<string, number>;
  engine(node: string): HollowEngine;
  stop(): Promise<void>;
}

const SOCKET_MAX = 107;

export async function startHollowFleet(opts: HollowFleetOptions): Promise<HollowFleet> {
  mkdirSync(opts.dir, { recursive: true });
  const servers = new Map<string, HollowServer>();
  const handles: HollowNodeHandle[] = [];
  for (let i = 0; i < opts.count; i++) {
    const name = opts.name?.(i) ?? `h${String(i).padStart(4, '0')}`;
    const socket = join(opts.dir, `${name}.sock`);
    if (Buffer.byteLength(socket) > SOCKET_MAX) throw new Error(`hollow: socket path ${socket} is longer than ${SOCKET_MAX} bytes; use a shorter --dir`);
    const labels = { 'fog.node': name, ...(opts.labels?.(i) ?? {}) };
    const devices = opts.devices?.(i) ?? [];
    const config: HollowNodeConfig = {
      name,
      labels,
      ncpu: opts.ncpu?.(i) ?? 4,
      memTotal: opts.memTotal?.(i) ?? 8 * 1024 ** 3,
      devices,
      images: opts.images?.(i) ?? [DEFAULT_IMAGE],
      ...(opts.pullable ? { pullable: opts.pullable } : {}),
      ...(opts.healthyAfterMs !== undefined ? { healthyAfterMs: opts.healthyAfterMs } : {}),
    };
    const engine = new HollowEngine(config);
    engine.dieRules = opts.dies ?? [];
    servers.set(name, new HollowServer(engine, socket, { latencyMs: opts.latencyMs ?? 0 }));
    handles.push({ name, socket, endpoint: `unix://${socket}`, labels, devices });
  }
  const stop = async () => {
    await Promise.all([...servers.values()].map((s) => s.close()));
    for (const s of servers.values()) s.engine.shutdown();
  };
  try {
    // In batches: thousands of listen() at once only queue in libuv anyway.
    const all = [...servers.values()];
    for (let i = 0; i < all.length; i += 200) await Promise.all(all.slice(i, i + 200).map((s) => s.listen()));
  } catch (err) {
    await stop();
    throw err;
  }
  const server = (node: string) => {
    const s = servers.get(node);
    if (!s) throw new Error(`hollow: no node ${node}`);
    return s;
  };
  const view = (c: HollowContainer): HollowContainerView => ({ id: c.id, name: c.name, status: c.status, exitCode: c.exitCode, restartCount: c.restartCount, labels: c.config.Labels });
  return {
    nodes: handles,
    setFault: (node, fault) => server(node).setFault(fault),
    killContainer: (node, id, exitCode = 137) => server(node).engine.die(id, exitCode),
    containers: (node) => [...server(node).engine.containers.values()].map(view),
    allContainers: () => [...servers].flatMap(([node, s]) => [...s.engine.containers.values()].map((c) => ({ node, ...view(c) }))),
    setDies: (rules) => {
      for (const s of servers.values()) s.engine.dieRules = rules;
    },
    calls: () => {
      const total = new Map<string, number>();
      for (const s of servers.values()) for (const [k, n] of s.calls) total.set(k, (total.get(k) ?? 0) + n);
      return total;
    },
    engine: (node) => server(node).engine,
    stop: async () => {
      await stop();
      rmSync(opts.dir, { recursive: true, force: true });
    },
  };
}
