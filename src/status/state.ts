// The one-word states of a service and a node, as `fogctl get` prints them
// and the dashboard shows them: made at the edge from the status document.

import type { NodeView, ServiceView } from './doc.js';

export function serviceState(s: ServiceView): string {
  const on = (type: string) => s.conditions.find((c) => c.type === type && c.status);
  const bad = on('CrashLoop') ?? on('Unschedulable') ?? on('DependencyCycle') ?? on('DependencyWait') ?? on('Refused') ?? on('ActionBackOff');
  if (bad) return bad.reason;
  // A rollout's own state outranks "Running": a line back on the old revision is not simply running.
  const ro = s.rollout;
  if (ro?.phase === 'RolledBack') return 'RolledBack';
  if (ro?.phase === 'Failed') return 'RolloutFailed';
  if (ro?.pinned !== undefined) return 'Undone';
  if (ro?.phase === 'Paused' || ro?.paused === true) return 'RolloutPaused';
  if (ro?.phase === 'Pending') return 'WaitingForWindow';
  if (s.desired === 0) return 'ScaledToZero';
  if (s.ready >= s.desired && s.upToDate >= s.desired) return 'Running';
  // What is in motion, as the Progressing condition says: a rollout, a re-placement after node loss, or placement.
  const p = on('Progressing')?.reason;
  if (p === 'RollingUpdate' || p === 'RolloutWaiting' || p === 'RolloutDelay' || p === 'RolloutMonitoring' || p === 'PullingImage') return 'RollingOut';
  if (p === 'WaitingForWindow' || p === 'RolloutPaused') return p;
  if (p === 'NodeLost') return 'NodeLost';
  return 'Progressing';
}

export function nodeState(n: NodeView): string {
  const parts = [n.reachable ? 'Ready' : 'NotReady'];
  if (n.unschedulable) parts.push('SchedulingDisabled');
  if (n.disk?.pressure === true) parts.push('DiskPressure');
  return parts.join(',');
}
