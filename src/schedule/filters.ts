// The filter pipeline: each filter answers "may a replica of this service go
// on this node?" with undefined or a Rejection. Order matters twice: the
// first rejecting filter is the one reported for a node, and the cheap,
// static, class-scoped filters run first so most nodes are settled once per
// equivalence class (as in Nomad's stack: "filter on drivers first as they are faster").

import { evaluateConstraint } from '../api/constraint.js';
import { platformFits } from '../api/image-ref.js';
import { securityPolicy } from './security.js';
import type { Filter, NodeInfo, PlacementRequest, Rejection } from './types.js';

export const nodeReachable: Filter = {
  name: 'NodeReachable',
  scope: 'class',
  static: true,
  enforcedOnRunning: false,
  check: (_req, node) => (node.reachable ? undefined : { filter: 'NodeReachable', since: node.since, lastSeen: node.lastSeen, error: node.error }),
};

/** A cordoned node keeps what runs there; it only takes nothing new. */
export const nodeSchedulable: Filter = {
  name: 'NodeSchedulable',
  scope: 'class',
  static: true,
  enforcedOnRunning: false,
  check: (_req, node) => (node.cordoned ? { filter: 'NodeSchedulable' } : undefined),
};

function constraintFilter(name: 'NodeConstraint' | 'NodeNameConstraint'): Filter {
  const byName = name === 'NodeNameConstraint';
  return {
    name,
    // The node name is the one constraint subject outside the class key.
    scope: byName ? 'node' : 'class',
    static: true,
    enforcedOnRunning: true,
    relevant: (req) => req.constraints.some((c) => (c.subject.kind === 'name') === byName),
    check(req, node) {
      for (const c of req.constraints) {
        if ((c.subject.kind === 'name') !== byName) continue;
        const v = evaluateConstraint(c, node.facts);
        if (!v.ok) return { filter: name, constraint: c.text, detail: v.detail };
      }
      return undefined;
    },
  };
}

export const nodeConstraint = constraintFilter('NodeConstraint');
export const nodeNameConstraint = constraintFilter('NodeNameConstraint');

export const nodeDevices: Filter = {
  name: 'NodeDevices',
  scope: 'class',
  static: true,
  enforcedOnRunning: true,
  check(req, node) {
    for (const d of req.devices) if (!node.devices.has(d)) return { filter: 'NodeDevices', device: d };
    return undefined;
  },
};

/** The image has a variant for the node's os and arch (known once its tag was resolved from the registry's index). */
export const imagePlatform: Filter = {
  name: 'ImagePlatform',
  scope: 'class',
  static: true,
  enforcedOnRunning: false,
  relevant: (req) => req.platforms !== undefined,
  check: (req, node) =>
    req.platforms === undefined || platformFits(req.platforms, node.facts.os, node.facts.arch) ? undefined : { filter: 'ImagePlatform', platform: `${node.facts.os}/${node.facts.arch}` },
};

/** The security policy filter (policy.ts), skipped for services that ask for nothing beyond the defaults. */
export const nodeSecurity: Filter = { ...securityPolicy, relevant: (req) => req.security !== undefined };

export const nodeResources: Filter = {
  name: 'NodeResources',
  scope: 'node',
  static: false,
  enforcedOnRunning: false,
  check(req, node) {
    const { cpu, memory } = req.resources;
    if (cpu > 0 && node.reserved.cpu + cpu > node.capacity.cpu) return { filter: 'NodeResources', resource: 'cpu', requested: cpu, free: Math.max(0, node.capacity.cpu - node.reserved.cpu) };
    if (memory > 0 && node.reserved.memory + memory > node.capacity.memory)
      return { filter: 'NodeResources', resource: 'memory', requested: memory, free: Math.max(0, node.capacity.memory - node.reserved.memory) };
    return undefined;
  },
};

export const maxPerNode: Filter = {
  name: 'MaxPerNode',
  scope: 'node',
  static: false,
  enforcedOnRunning: false,
  check(req, node) {
    if (req.maxPerNode === undefined) return undefined;
    const running = node.services.get(req.service) ?? 0;
    return running >= req.maxPerNode ? { filter: 'MaxPerNode', max: req.maxPerNode, running } : undefined;
  },
};

/** Affinity: each listed service must have a replica on the node; anti-affinity: none may. */
function serviceFilter(name: 'ServiceAffinity' | 'ServiceAntiAffinity'): Filter {
  const wanted = name === 'ServiceAffinity';
  return {
    name,
    scope: 'node',
    static: false,
    enforcedOnRunning: false,
    relevant: (req) => (wanted ? req.affinity : req.antiAffinity).length > 0,
    check(req, node) {
      for (const service of wanted ? req.affinity : req.antiAffinity) if (node.services.get(service)! > 0 !== wanted) return { filter: name, service };
      return undefined;
    },
  };
}

export const serviceAffinity = serviceFilter('ServiceAffinity');
export const serviceAntiAffinity = serviceFilter('ServiceAntiAffinity');

export const hostPorts: Filter = {
  name: 'HostPorts',
  scope: 'node',
  static: false,
  enforcedOnRunning: false,
  check(req, node) {
    for (const p of req.hostPorts) if (node.hostPorts.get(p)! > 0) return { filter: 'HostPorts', port: p };
    return undefined;
  },
};

/** The default pipeline, in the order rejections are reported. Static filters come first (see Scheduler). */
export const DEFAULT_FILTERS: readonly Filter[] = [
  nodeReachable,
  nodeSchedulable,
  nodeConstraint,
  nodeNameConstraint,
  nodeDevices,
  imagePlatform,
  nodeSecurity,
  nodeResources,
  maxPerNode,
  serviceAffinity,
  serviceAntiAffinity,
  hostPorts,
];

export function isRelevant(f: Filter, req: PlacementRequest): boolean {
  return f.relevant === undefined || f.relevant(req);
}

/** First rejection from `filters` in order, or undefined when the node passes them all. */
export function runFilters(filters: readonly Filter[], req: PlacementRequest, node: NodeInfo): Rejection | undefined {
  for (const f of filters) {
    const r = f.check(req, node);
    if (r !== undefined) return r;
  }
  return undefined;
}
