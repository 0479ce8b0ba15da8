// Secure by default, as the scheduler sees it. A service may run privileged,
// share the host's PID or IPC namespace, add capabilities or bind-mount host
// paths only on a node that allows it (its `spec.allow`, or-ed with the
// controller's `--allow-*` policy): the SecurityPolicy filter. Some mounts are
// never allowed anywhere (an engine socket, `/`, /proc, /sys, /dev): the
// service is refused outright, before any placement (`refusal`).
//
// Pure, like the rest of src/schedule. docs/security.md is the reference.

import type { PolicyRejection } from '../api/notes.js';
import type { FogNode, NodeAllow, Policy, Service } from '../api/types.js';
import type { Filter, NodeInfo, PlacementRequest, SecurityRequest } from './types.js';

export const NOTHING_ALLOWED: NodeAllow = { privileged: false, hostPID: false, hostIPC: false, capabilities: [], hostPaths: [] };

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])].sort();

/** The node's own allowance or-ed with the controller's. */
export function effectiveAllow(node: NodeAllow | undefined, policy: Policy | undefined): NodeAllow {
  const a = node ?? NOTHING_ALLOWED;
  const b = policy?.allow ?? NOTHING_ALLOWED;
  return {
    privileged: a.privileged || b.privileged,
    hostPID: a.hostPID || b.hostPID,
    hostIPC: a.hostIPC || b.hostIPC,
    capabilities: union(a.capabilities, b.capabilities),
    hostPaths: union(a.hostPaths, b.hostPaths),
  };
}

/** undefined when the service asks for nothing beyond the defaults (the common, fast case). */
export function securityRequest(s: Service): SecurityRequest | undefined {
  const sec = s.spec.security;
  const hostPaths = [...new Set(s.spec.volumes.filter((v) => v.type === 'bind').map((v) => v.source))].sort();
  const req: SecurityRequest = {
    privileged: sec?.privileged === true,
    hostPID: sec?.hostPID === true,
    hostIPC: sec?.hostIPC === true,
    capabilities: sec?.capAdd ?? [],
    hostPaths,
  };
  const any = req.privileged || req.hostPID || req.hostIPC || req.capabilities.length > 0 || hostPaths.length > 0;
  return any ? req : undefined;
}

/** `/data` covers `/data` and `/data/x`, never `/database`; `/` covers every path. */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/** The first thing `req` needs that `allow` does not grant, in a fixed order. */
export function policyRejection(req: SecurityRequest, allow: NodeAllow, node: string): PolicyRejection | undefined {
  for (const need of ['privileged', 'hostPID', 'hostIPC'] as const) {
    if (req[need] && !allow[need]) return { filter: 'SecurityPolicy', node, need };
  }
  if (!allow.capabilities.includes('ALL')) {
    for (const capability of req.capabilities) {
      if (!allow.capabilities.includes(capability)) return { filter: 'SecurityPolicy', node, need: 'capability', capability, allowed: allow.capabilities };
    }
  }
  for (const path of req.hostPaths) {
    if (!allow.hostPaths.some((p) => underPrefix(path, p))) return { filter: 'SecurityPolicy', node, need: 'hostPath', path, allowed: allow.hostPaths };
  }
  return undefined;
}

/**
 * Node-scoped (an allowance is not part of the node class) and static. Enforced
 * on running replicas: revoke an allowance and the replicas that need it leave the node.
 */
export const securityPolicy: Filter = {
  name: 'SecurityPolicy',
  scope: 'node',
  static: true,
  enforcedOnRunning: true,
  check(req: PlacementRequest, node: NodeInfo) {
    return req.security === undefined ? undefined : policyRejection(req.security, node.allow ?? NOTHING_ALLOWED, node.name);
  },
};

// ---------------------------------------------------------------------------
// Never allowed, whatever a node or the controller allows.

/** Engine sockets and state: a container holding one is root on the node. */
const ENGINE_PATHS = ['/var/run/docker.sock', '/run/docker.sock', '/var/run/containerd', '/run/containerd', '/var/lib/docker', '/var/lib/containerd'];
/** Host kernel, process and device trees: the ways out are hostPID, devices and privileged. */
const HOST_TREES = ['/proc', '/sys', '/dev'];
const SOCKET_NAME = /(docker|containerd)\.sock$/;
const UNNORMALISED = /(^|\/)\.\.?(\/|$)|\/\//;

/** Why a bind source may never be mounted, or undefined. `engineSockets`: the unix sockets of the fleet's own Nodes. */
export function neverAllowedReason(source: string, engineSockets: readonly string[] = []): string | undefined {
  if (!source.startsWith('/') || UNNORMALISED.test(source)) return `${source} is not a normalised absolute path`;
  const path = source.length > 1 ? source.replace(/\/+$/, '') : source;
  if (path === '/') return 'the host root filesystem / is never mounted';
  if (SOCKET_NAME.test(path)) return `${path} is a container engine socket: it gives root on the node and is never mounted`;
  for (const p of [...ENGINE_PATHS, ...engineSockets]) {
    if (underPrefix(path, p)) return `${path} is a container engine socket or its state (${p}): it gives root on the node and is never mounted`;
    if (underPrefix(p, path)) return `${path} contains ${p}, a container engine socket or its state: it gives root on the node and is never mounted`;
  }
  for (const t of HOST_TREES) {
    if (underPrefix(path, t)) return `${path} is under ${t}, which is never mounted (use spec.devices, or security.hostPID / privileged on a node that allows them)`;
  }
  return undefined;
}

/**
 * The service's never-allowed settings, one line each; empty when it may be
 * placed. The unix sockets of the desired Nodes count as engine sockets too.
 */
export function refusal(s: Service, nodes: readonly FogNode[] = []): string[] {
  const sockets = nodes.flatMap((n) => (n.spec.endpoint.startsWith('unix://') ? [n.spec.endpoint.slice('unix://'.length)] : []));
  const out: string[] = [];
  s.spec.volumes.forEach((v, i) => {
    if (v.type !== 'bind') return;
    const why = neverAllowedReason(v.source, sockets);
    if (why !== undefined) out.push(`spec.volumes[${i}]: ${why}`);
  });
  return out;
}
