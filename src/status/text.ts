// The edge where notes become words. Everything before this works on Note
// and Rejection values; the status document (made at each read) and fogctl
// show the sentences made here, with ages relative to the moment of reading
// ("last seen 4s ago", "next try in 8s"), never raw monotonic times.
//
//   0/4 nodes eligible: 2 missing device /dev/ttyUSB0, 1 insufficient memory (needs 1Gi, 512Mi free), 1 unreachable
//   press-2: node.labels.zone == line1 (zone is line2)

import type { NodeVerdict, Note, PolicyRejection, Rejection, RolloutFailure, SecurityNeed, Unschedulable } from '../api/notes.js';
import { formatCpu, formatDuration, formatMemory } from '../api/quantity.js';

/** How long ago `t` was, seen at `now`: `4s ago`, `never`. */
export function ago(t: number | undefined, now: number): string {
  if (t === undefined || !Number.isFinite(t)) return 'never';
  return `${roughDuration(Math.max(0, now - t))} ago`;
}

/** How long until `t`, seen at `now`: `in 8s`, `now`. */
export function within(t: number, now: number): string {
  return t <= now ? 'now' : `in ${roughDuration(t - now)}`;
}

/** 1.2s below 10 s, whole seconds below 2 min, then minutes and hours. */
function roughDuration(ms: number): string {
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  return `${Math.floor(m / 60)}h`;
}

function amount(resource: 'cpu' | 'memory' | 'disk', n: number): string {
  return resource === 'cpu' ? formatCpu(n) : formatMemory(n);
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
    case 'ImagePlatform':
      return `image has no ${r.platform} variant`;
    case 'NodeResources':
      return `insufficient ${r.resource}`;
    case 'NodeDiskPressure':
      return 'disk pressure';
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
export function formatRejection(r: Rejection, now: number): string {
  switch (r.filter) {
    case 'NodeReachable':
      return `unreachable (last seen ${ago(r.lastSeen, now)}${r.error ? `: ${r.error}` : ''})`;
    case 'NodeSchedulable':
      return 'node is cordoned (unschedulable)';
    case 'NodeConstraint':
    case 'NodeNameConstraint':
      return r.detail.startsWith('(') ? `${r.constraint} ${r.detail}` : `${r.constraint} (${r.detail})`;
    case 'NodeDevices':
      return `missing device ${r.device}`;
    case 'ImagePlatform':
      return `image has no ${r.platform} variant`;
    case 'NodeResources':
      return `insufficient ${r.resource} (needs ${amount(r.resource, r.requested)}, ${amount(r.resource, r.free)} free)`;
    case 'NodeDiskPressure':
      return `disk pressure (${formatMemory(r.free)} of ${formatMemory(r.total)} free on the engine's data root; free space, or let image GC run: fogctl images prune --node NODE)`;
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

const FLAG: Record<SecurityNeed, string> = { privileged: '--allow-privileged', hostPID: '--allow-host-pid', hostIPC: '--allow-host-ipc' };

/** Grouping key for `0/3 nodes eligible: 3 privileged not allowed`. */
export function policyReasonKey(r: PolicyRejection): string {
  if (r.need === 'capability') return `capability ${r.capability} not allowed`;
  if (r.need === 'hostPath') return `host path ${r.path} not allowed`;
  return `${r.need} not allowed`;
}

/** The per-node text, with the way out. */
export function formatPolicyRejection(r: PolicyRejection): string {
  const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : 'none');
  if (r.need === 'capability') {
    return `capability ${r.capability} not allowed on ${r.node} (allowed: ${list(r.allowed)}; add it to spec.allow.capabilities on the Node or run the controller with --allow-capabilities ${r.capability})`;
  }
  if (r.need === 'hostPath') {
    return `host path ${r.path} not allowed on ${r.node} (allowed: ${list(r.allowed)}; add a prefix to spec.allow.hostPaths on the Node or run the controller with --allow-host-paths)`;
  }
  return `${r.need} not allowed on ${r.node} (set spec.allow.${r.need} on the Node or run the controller with ${FLAG[r.need]})`;
}

export interface NodeRejectionText {
  node: string;
  filter: string;
  message: string;
}

export interface UnschedulableText {
  slot?: number;
  /** `0/4 nodes eligible: 2 missing device /dev/ttyUSB0, 1 unreachable` */
  message: string;
  counts: Record<string, number>;
  /** The first filter that rejected each node, with its detail. */
  perNode: NodeRejectionText[];
}

/**
 * Count rejections per reason, like kube-scheduler's FitError: groups by
 * descending count, then by key. A resource group shows the request and the
 * free amount (the largest free amount when several nodes share it).
 */
export function explainUnschedulable(u: Unschedulable, now: number): UnschedulableText {
  const verdicts: readonly NodeVerdict[] = u.verdicts;
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
  const perNode = verdicts.map((v) => ({ node: v.node, filter: v.rejection.filter, message: formatRejection(v.rejection, now) })).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const eligible = Math.max(0, u.totalNodes - verdicts.length);
  const message = `${eligible}/${u.totalNodes} nodes eligible${parts.length ? `: ${parts.join(', ')}` : ''}`;
  return u.slot === undefined ? { message, counts, perNode } : { slot: u.slot, message, counts, perNode };
}

/** One line for a note, seen at `now`. */
export function noteText(n: Note, now: number): string {
  switch (n.code) {
    case 'Scheduled':
      return `slot ${n.slot}: ${n.container} on ${n.node}`;
    case 'NodeLost':
      if ('from' in n) return `slot ${n.slot}: node ${n.from} unreachable beyond the grace period (last seen ${ago(n.lastSeen, now)}), re-placing: ${n.container} on ${n.node}`;
      return `unreachable since ${ago(n.since, now)} (last seen ${ago(n.lastSeen, now)}${n.error ? `: ${n.error}` : ''}): grace period over, replicated replicas re-placed`;
    case 'Rescheduled':
      return `slot ${n.slot}: moved off a node that no longer fits: ${n.container} on ${n.node}`;
    case 'Recreate':
      return `slot ${n.slot}: replacing a dead container: ${n.container} on ${n.node}`;
    case 'RollingUpdate':
      if (!('step' in n)) return `rolling update: ${n.upToDate}/${n.desired} replicas up to date`;
      if (n.step === 'retire') return `slot ${n.slot}: ${n.container} is ready, removing ${n.old} from ${n.oldNode}`;
      if (n.step === 'start-first') return `slot ${n.slot}: starting the new spec before stopping ${n.old} (start-first): ${n.container} on ${n.node}`;
      return n.container === n.old ? `slot ${n.slot}: replacing ${n.old} on ${n.oldNode} (stop-first)` : `slot ${n.slot}: new spec after stopping ${n.old}: ${n.container} on ${n.node}`;
    case 'Start':
      return `starting ${n.container} (created, never started)`;
    case 'Restart':
      return `restarting ${n.container} (exit code ${n.exitCode ?? 'unknown'}, restart ${n.restart}${n.backoff > 0 ? `, back-off ${formatDuration(n.backoff)}` : ', at once'})`;
    case 'ScaleDown':
      return `scaling to ${n.replicas}: removing slot ${n.slot} (${n.container} on ${n.node})`;
    case 'Orphaned':
      return `service ${n.service} is no longer desired: removing ${n.container} from ${n.node}`;
    case 'InvalidSlot':
      return `${n.container} on ${n.node} has no usable fog.slot label`;
    case 'Duplicate':
      return `slot ${n.slot} has two containers on ${n.node}: keeping ${n.kept}, removing ${n.container}`;
    case 'NodeReturned':
      return `slot ${n.slot} runs on ${n.keptNode} and ${n.node} (node came back, onNodeReturn ${n.onNodeReturn}): keeping ${n.kept} on ${n.keptNode}, removing ${n.container} from ${n.node} (reachable since ${ago(n.since, now)})`;
    case 'Misplaced':
      return `${n.container} on ${n.node}: node no longer eligible (${formatRejection(n.rejection, now)})${n.slot !== undefined ? `; re-placing slot ${n.slot}` : ''}`;
    case 'Dead':
      return `${n.container} on ${n.node} is dead: removing and recreating`;
    case 'Unstartable':
      return `${n.container} on ${n.node} cannot be started again (${n.message}): removing it, slot ${n.slot} gets a new container`;
    case 'PullImage':
      return n.from !== undefined ? `slot ${n.slot}: copying image ${n.image} from node ${n.from} to node ${n.node}` : `slot ${n.slot}: pulling image ${n.image} onto node ${n.node}`;
    case 'PullingImage':
      return `waiting for images before anything is stopped: ${n.slots.map((w) => `slot ${w.slot}: ${w.image} on ${w.node}${w.from !== undefined ? ` (from node ${w.from})` : ''}`).join('; ')}`;
    case 'ImageUnavailable':
      return `no reachable node has image ${n.image}, and ${n.nodes.join(', ')} may not pull (spec.images.pull: never): load it with fogctl images load FILE.tar --node NODE`;
    case 'Unschedulable':
      return explainUnschedulable(n, now).message;
    case 'BackOff':
      return `back-off ${formatDuration(n.backoff)} restarting failed container ${n.container} (next try ${within(n.until, now)})`;
    case 'ActionBackOff': {
      const next = n.until === undefined ? 'not retried until the spec changes' : `next try ${within(n.until, now)}`;
      return `slot ${n.slot}: ${n.action} on ${n.node} failed ${n.attempts} time(s) (${n.failure}: ${n.message}); ${next}`;
    }
    case 'CrashLoopBackOff':
      return n.replicas.map((r) => `slot ${r.slot} (${r.container} on ${r.node}) restarted ${r.restarts} times`).join('; ');
    case 'Completed':
      return n.count === 1 && n.exitCode === 0 ? 'exited with code 0' : `${n.count} replica(s) completed`;
    case 'Failed':
      if (n.exitCode !== undefined || n.restarts !== undefined) {
        const why = n.restart.policy === 'on-failure' ? `gave up after ${n.restarts ?? 0} restarts (maxRetries ${n.restart.maxRetries})` : `restart: ${n.restart.policy}`;
        return `exited with code ${n.exitCode ?? 'unknown'}, ${why}`;
      }
      return `${n.count} replica(s) failed and will not be restarted (restart: ${n.restart.policy})`;
    case 'DependencyWait':
      return `waiting for a ready replica of ${n.waiting.map((w) => (w.defined ? w.service : `${w.service} (not defined)`)).join(', ')}`;
    case 'DependencyCycle':
      return `dependency cycle: ${n.cycle.join(' → ')}`;
    case 'RolloutWaiting':
      if ('blockedBy' in n) return `rollout waiting: ${noteText(n.blockedBy, now)}`;
      return `rollout: ${n.waiting} replica(s) waiting for new replicas to become ready (parallelism ${n.update.parallelism}, ${n.update.order})`;
    case 'RolloutDelay':
      return `rollout paused: next batch ${within(n.until, now)} (update.delay)`;
    case 'NodeUnreachable':
      if ('unobserved' in n) {
        const many = n.nodes.length > 1;
        return `node${many ? 's' : ''} ${n.nodes.join(', ')} not observed since the controller started; what ${many ? 'they run' : 'it runs'} is unknown until the grace period ends ${within(n.until, now)}`;
      }
      if ('replicas' in n) return n.replicas.map((r) => `slot ${r.slot} on ${r.node}: unreachable since ${ago(r.since, now)}`).join('; ');
      return `unreachable since ${ago(n.since, now)} (last seen ${ago(n.lastSeen, now)}${n.error ? `: ${n.error}` : ''}): replicas kept, re-placed ${within(n.until, now)}`;
    case 'ReplicasReady':
    case 'ReplicasNotReady':
      return `${n.ready}/${n.desired} replicas ready`;
    case 'RolloutComplete':
      return `${n.upToDate}/${n.desired} replicas up to date`;
    case 'ReplicasPending':
      return `${n.upToDate}/${n.desired} replicas placed and up to date`;
    case 'PolicyRefused':
      return `refused by the security policy: ${n.reasons.join('; ')}`;
    case 'ReplicaUnreachable':
      if (n.lost)
        return `node ${n.node} unreachable since ${ago(n.since, now)} (last seen ${ago(n.lastSeen, now)}), beyond the grace period: ${n.global ? 'global replica left in place' : 'slot re-placed'}`;
      return `node ${n.node} unreachable since ${ago(n.since, now)} (last seen ${ago(n.lastSeen, now)}): counted, not ready; re-placed ${within(n.until, now)}`;
    case 'UnknownNode':
      return `node ${n.node} is not in the desired state: replica ignored`;
    case 'RolloutStarted':
      return `rolling out revision ${n.revision} (${n.hash})`;
    case 'RolloutMonitoring':
      return `${n.monitoring} new replica(s) monitored for ${formatDuration(n.monitor)}: next batch ${within(n.until, now)}`;
    case 'WaitingForWindow':
      return `revision ${n.revision} waits for a maintenance window (${n.windows.join('; ')})${n.opensAt !== undefined ? `: opens ${wallTime(n.opensAt)}` : ''}`;
    case 'RolloutPaused':
      if (n.by === 'user') return `rollout of revision ${n.revision} paused (fogctl rollout resume to go on)`;
      if (n.by === 'canary') return `canary of revision ${n.revision} passed its monitor period; waiting for fogctl rollout resume (autoPromote: false)`;
      return `rollout of revision ${n.revision} failed and is paused (failureAction: pause); fix the manifest or fogctl rollout undo`;
    case 'RolloutFailed':
      return `revision ${n.revision} (${n.hash}) failed: ${failureText(n.cause)}`;
    case 'RolledBack':
      return `revision ${n.from} (${n.fromHash}) failed (${failureText(n.cause)}): rolled back to revision ${n.to} (${n.toHash}); not retried until the manifest changes`;
    case 'RolloutUndo':
      return `pinned to revision ${n.to} (${n.hash}) by fogctl rollout undo, until the manifest changes`;
    case 'RolloutResumed':
      return `rollout of revision ${n.revision} resumed (fogctl rollout resume)`;
    case 'RolloutRestart':
      return `restart asked (fogctl rollout restart): a new revision after ${n.revision}, its image tag resolved afresh`;
    case 'RevisionComplete':
      return `revision ${n.revision} (${n.hash}) complete: every replica passed its monitor period`;
    case 'Conflict':
      return `another controller of this cluster acts on the same engines (${n.others.map((o) => `${o.identity} created ${o.container} on ${o.node} ${ago(o.at, now)}`).join('; ')}): not acting until it has been silent, ${within(n.until, now)}`;
    case 'Leading':
      return `${n.identity} leads (etcd lease revision ${n.rev}) and acts`;
    case 'NotLeading':
      return `not acting: ${n.reason}`;
    case 'ImageRemoved':
      return `removed image ${n.image} (${shortId(n.id)}, ${formatMemory(n.size)}) from ${n.node}: ${n.trigger === 'prune' ? 'fogctl images prune' : 'data root below the image GC threshold'}`;
    case 'ImageRemoveFailed':
      return `could not remove image ${n.image} (${shortId(n.id)}) from ${n.node}: ${n.error}`;
  }
}

/** `sha256:0123456789ab` (12 hex digits, as docker images shows them). */
export function shortId(id: string): string {
  return id.replace(/^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/, '$2');
}

/** Why a rollout failed, in words. */
export function failureText(c: RolloutFailure): string {
  if (c.kind === 'deadline') return `not complete within progressDeadline ${formatDuration(c.deadline)} (ProgressDeadlineExceeded)`;
  const list = c.failed.map((f) => {
    const why =
      f.why === 'exited' ? `exited${f.exitCode !== undefined ? ` with code ${f.exitCode}` : ''}` : f.why === 'restarted' ? 'restarted' : f.why === 'unhealthy' ? 'unhealthy' : 'create refused';
    return `slot ${f.slot}${f.node !== '' ? ` on ${f.node}` : ''} ${why}`;
  });
  return `${c.failed.length} new replica(s) failed (${list.join(', ')}; maxFailureRatio allows ${c.allowed})`;
}

/** A wall-clock instant (Unix ms), in UTC to the minute. */
export function wallTime(ms: number): string {
  return `${isoUtc(ms).slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Unix ms as ISO 8601 in UTC (`2026-11-30T12:48:19.000Z`, as toISOString
 * writes it), by calendar arithmetic: src/status holds no Date (its only
 * time is the one it is given).
 */
export function isoUtc(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  // Days since 1970-01-01 → civil date (proleptic Gregorian), eras of 400 years.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hh = Math.floor(rest / 3_600_000);
  rest -= hh * 3_600_000;
  const mm = Math.floor(rest / 60_000);
  rest -= mm * 60_000;
  const ss = Math.floor(rest / 1_000);
  const milli = Math.floor(rest - ss * 1_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(year, 4)}-${p(month)}-${p(day)}T${p(hh)}:${p(mm)}:${p(ss)}.${p(milli, 3)}Z`;
}

/** `Pulling 45% (3/5 layers, 9.1 MB of 20.2 MB)`, `Copying from press-1: 12.3 MB`: one image transfer in flight. */
export function transferText(t: { from?: string; layers: number; layersDone: number; bytes: number; total?: number }): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  if (t.from !== undefined) return `Copying from ${t.from}: ${mb(t.bytes)}`;
  const pct = t.total !== undefined && t.total > 0 ? Math.min(100, Math.floor((100 * t.bytes) / t.total)) : t.layers > 0 ? Math.floor((100 * t.layersDone) / t.layers) : undefined;
  const detail = [t.layers > 0 ? `${t.layersDone}/${t.layers} layers` : '', t.total !== undefined ? `${mb(t.bytes)} of ${mb(t.total)}` : t.bytes > 0 ? mb(t.bytes) : ''].filter(Boolean).join(', ');
  return `Pulling${pct !== undefined ? ` ${pct}%` : ''}${detail ? ` (${detail})` : ''}`;
}
