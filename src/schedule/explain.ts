// The edge where rejections become text. Everything before this works on
// Rejection values; everything after (status, fogctl) only shows strings.
//
//   0/4 nodes eligible: 2 missing device /dev/ttyUSB0, 1 insufficient memory (needs 1Gi, 512Mi free), 1 unreachable
//   press-2: node.labels.zone == line1 (zone is line2)

import { formatCpu, formatMemory } from '../api/quantity.js';
import type { NodeRejection, Unschedulable } from '../api/types.js';
import { formatPolicyRejection, policyReasonKey } from './policy.js';
import type { NodeVerdict, Rejection } from './types.js';

function amount(resource: 'cpu' | 'memory', n: number): string {
  return resource === 'cpu' ? formatCpu(n) : formatMemory(n);
}

/** A controller-monotonic time as shown in reasons: `t=12345ms`, or `never`. */
export function at(t: number | undefined): string {
  return t === undefined || !Number.isFinite(t) ? 'never' : `t=${Math.round(t)}ms`;
}

/** The grouping key and summary phrase: the same for every node rejected for the same reason. */
export function reasonKey(r: Rejection): string {
  switch (r.filter) {
    case 'NodeReachable':
      return 'unreachable';
    case 'NodeSchedulable':
      return 'cordoned';
    case 'NodeConstraint':
    case 'NodeNameConstraint':
      return `not matching ${r.constraint}`;
    case 'NodeDevices':
      return `missing device ${r.device}`;
    case 'NodeResources':
      return `insufficient ${r.resource}`;
    case 'MaxPerNode':
      return `at maxPerNode ${r.max}`;
    case 'ServiceAffinity':
      return `no replica of ${r.service} (affinity)`;
    case 'ServiceAntiAffinity':
      return `running ${r.service} (anti-affinity)`;
    case 'HostPorts':
      return `host port ${r.port} in use`;
    case 'SecurityPolicy':
      return policyReasonKey(r);
  }
}

/** The per-node text, with the exact constraint or figure. */
export function formatRejection(r: Rejection): string {
  switch (r.filter) {
    case 'NodeReachable':
      return `unreachable (last seen ${at(r.lastSeen)}${r.error ? `: ${r.error}` : ''})`;
    case 'NodeSchedulable':
      return 'node is cordoned (unschedulable)';
    case 'NodeConstraint':
    case 'NodeNameConstraint':
      return r.detail.startsWith('(') ? `${r.constraint} ${r.detail}` : `${r.constraint} (${r.detail})`;
    case 'NodeDevices':
      return `missing device ${r.device}`;
    case 'NodeResources':
      return `insufficient ${r.resource} (needs ${amount(r.resource, r.requested)}, ${amount(r.resource, r.free)} free)`;
    case 'MaxPerNode':
      return `already runs ${r.running} replica(s) (maxPerNode ${r.max})`;
    case 'ServiceAffinity':
      return `no replica of ${r.service} on the node (affinity)`;
    case 'ServiceAntiAffinity':
      return `runs a replica of ${r.service} (anti-affinity)`;
    case 'HostPorts':
      return `host port ${r.port} already in use`;
    case 'SecurityPolicy':
      return formatPolicyRejection(r);
  }
}

/**
 * Count rejections per reason, like kube-scheduler's FitError: groups by
 * descending count, then by key. A resource group shows the request and the
 * free amount (the largest free amount when several nodes share it).
 */
export function explainUnschedulable(verdicts: readonly NodeVerdict[], totalNodes: number, slot?: number): Unschedulable {
  const groups = new Map<string, { n: number; first: Rejection; maxFree: number }>();
  for (const v of verdicts) {
    const key = reasonKey(v.rejection);
    const g = groups.get(key);
    const free = v.rejection.filter === 'NodeResources' ? v.rejection.free : 0;
    if (g === undefined) groups.set(key, { n: 1, first: v.rejection, maxFree: free });
    else {
      g.n++;
      g.maxFree = Math.max(g.maxFree, free);
    }
  }
  const sorted = [...groups].sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts = sorted.map(([key, g]) => {
    const r = g.first;
    if (r.filter !== 'NodeResources') return `${g.n} ${key}`;
    const free = amount(r.resource, g.maxFree);
    return `${g.n} ${key} (needs ${amount(r.resource, r.requested)}, ${g.n === 1 ? '' : 'at most '}${free} free)`;
  });
  const counts: Record<string, number> = {};
  for (const [key, g] of sorted) counts[key] = g.n;
  const perNode: NodeRejection[] = verdicts
    .map((v) => ({ node: v.node, filter: v.rejection.filter, message: formatRejection(v.rejection) }))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const eligible = Math.max(0, totalNodes - verdicts.length);
  const message = `${eligible}/${totalNodes} nodes eligible${parts.length ? `: ${parts.join(', ')}` : ''}`;
  return slot === undefined ? { message, counts, perNode } : { slot, message, counts, perNode };
}

/** `press-2: node.labels.zone == line1 (zone is line2)` lines, for describe. */
export function formatPerNode(u: Unschedulable): string[] {
  return u.perNode.map((p) => `${p.node}: ${p.message}`);
}
