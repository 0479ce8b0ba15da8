// Invariants checked on every pass of the property tests.

import { expect } from 'vitest';
import { evaluateConstraint } from '../../src/api/constraint.js';
import type { Action, ActionResult, ObservedState, Service } from '../../src/api/types.js';
import { LABEL } from '../../src/api/types.js';
import { isReady, placementRequest, reconcile, repelledBy } from '../../src/reconcile/index.js';
import type { ReconcileResult as ReconcileOutput } from '../../src/api/types.js';
import { buildNodeInfos, DEFAULT_FILTERS, runFilters, Scheduler } from '../../src/schedule/index.js';
import type { World } from './model.js';

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

export interface StepStats {
  maxPasses: number;
}

/** One reconcile + apply + tick, with every per-pass invariant checked. */
export function step(w: World): ReconcileOutput {
  const obs = deepFreeze(w.observed());
  const out = reconcile(deepFreeze(w.desired), obs, w.history, w.now);
  checkPlan(w, obs, out);
  const before = w.observed();
  const results = w.apply(out.actions);
  checkAfter(w, before, out.actions, results);
  w.tick();
  return out;
}

/** Reconcile until no actions and no time-based decision pending (requeueAt); returns the passes used (throws past `bound`). */
export function converge(w: World, bound: number): { passes: number; last: ReconcileOutput } {
  for (let i = 1; i <= bound; i++) {
    const out = step(w);
    if (out.actions.length === 0 && out.requeueAt === undefined) return { passes: i, last: out };
  }
  throw new Error(`no fixed point within ${bound} passes`);
}

const svcOf = (w: World, name: string | undefined): Service | undefined => w.desired.services.find((s) => s.metadata.name === name);

/** Safety (static filters at decision time), foreign containers, minimal disruption. */
export function checkPlan(w: World, obs: ObservedState, out: ReconcileOutput): void {
  const { desired } = w;
  const infos = buildNodeInfos(desired.nodes, obs.nodes, desired.settings, w.now);
  const sched = new Scheduler(infos);
  const byName = new Map(infos.map((n) => [n.name, n]));
  const removed = new Set(out.actions.flatMap((a) => (a.type === 'remove' ? [a.containerId] : [])));
  for (const a of out.actions) {
    if ((a.type === 'start' || a.type === 'remove') && w.foreignIds.has(a.containerId)) throw new Error(`foreign container in ${a.type}`);
    const node = byName.get(a.node)!;
    expect(node.reachable).toBe(true);
    if (a.type === 'create') {
      const svc = svcOf(w, a.service)!;
      const rej = sched.prepare(placementRequest(svc, repelledBy(w.desired.services).get(svc.metadata.name))).check(node, 'static');
      // The one exception, documented: a global replica replacing its own node's copy ignores the cordon and (anti-)affinity.
      const replacing = svc.spec.mode === 'global' && (a.reason === 'RollingUpdate' || a.reason === 'Recreate');
      if (rej !== undefined && !(replacing && rej.filter === 'NodeSchedulable')) throw new Error(`create of ${a.service} on ${a.node} fails ${rej.filter}`);
      expect(a.container.labels[LABEL.cluster]).toBe(desired.settings.cluster);
    }
    if (a.type === 'remove') {
      const on = obs.nodes.find((n) => n.name === a.node)!;
      const c = on.containers.find((x) => x.id === a.containerId)!;
      const svc = svcOf(w, c.labels[LABEL.service]);
      if (svc === undefined || c.state !== 'running') continue;
      const st = out.status.services.find((s) => s.name === svc.metadata.name)!;
      const slot = Number(c.labels[LABEL.slot]);
      const inRange = svc.spec.mode === 'global' || slot < svc.spec.replicas;
      const fits = sched.prepare(placementRequest(svc, repelledBy(w.desired.services).get(svc.metadata.name))).check(node, 'enforced') === undefined;
      if (c.labels[LABEL.hash] !== st.specHash || !inRange || !fits) continue;
      // A running, up-to-date replica on a node that still passes: only a surplus copy may go.
      expect(['Duplicate', 'NodeReturned']).toContain(a.reason);
      const twin = obs.nodes.some(
        (n) =>
          n.reachable &&
          n.containers.some(
            (x) =>
              x.id !== c.id &&
              !removed.has(x.id) &&
              x.labels[LABEL.cluster] === desired.settings.cluster &&
              x.labels[LABEL.service] === svc.metadata.name &&
              x.labels[LABEL.hash] === st.specHash &&
              (svc.spec.mode === 'global' ? n.name === a.node : x.labels[LABEL.slot] === c.labels[LABEL.slot]),
          ),
      );
      expect(twin).toBe(true);
    }
  }
}

/** After applying: capacity, ports, maxPerNode, (anti-)affinity on the nodes that got replicas. */
export function checkAfter(w: World, before: ObservedState, actions: readonly Action[], results: readonly ActionResult[] = []): void {
  // A create that failed leaves its node without the replica that this pass's affinity counted on.
  const failedOn = new Set(results.flatMap((r) => (!r.ok && r.action.type === 'create' ? [`${r.action.service}@${r.action.node}`] : [])));
  // The plan reuses what its removals free; a removal that failed leaves that room taken (reservations are the scheduler's, not the engine's).
  const removalFailed = new Set(results.flatMap((r) => (!r.ok && r.action.type === 'remove' ? [r.action.node] : [])));
  const removed = new Set(actions.flatMap((a) => (a.type === 'remove' ? [a.containerId] : [])));
  for (const n of w.nodes.values()) {
    if (!n.reachable || removalFailed.size > 0 || w.removalFailed) continue;
    const cpu = n.containers.reduce((s, c) => s + (c.resources.cpu ?? 0), 0);
    const mem = n.containers.reduce((s, c) => s + (c.resources.memory ?? 0), 0);
    if (cpu > (n.capacity?.cpu ?? n.facts.cpu) || mem > (n.capacity?.memory ?? n.facts.memory)) throw new Error(`node ${n.name} over capacity: ${cpu}m ${mem}B`);
    const ports = n.containers.flatMap((c) => c.hostPorts);
    expect(new Set(ports).size).toBe(ports.length);
  }
  for (const a of actions) {
    if (a.type !== 'create') continue;
    const svc = svcOf(w, a.service)!;
    const n = w.nodes.get(a.node)!;
    const count = (s: string) => n.containers.filter((c) => c.labels[LABEL.cluster] === w.desired.settings.cluster && c.labels[LABEL.service] === s).length;
    const kept = (s: string) =>
      before.nodes.find((x) => x.name === a.node)!.containers.filter((c) => !removed.has(c.id) && c.labels[LABEL.cluster] === w.desired.settings.cluster && c.labels[LABEL.service] === s).length;
    const p = svc.spec.placement;
    if (p.maxPerNode !== undefined && svc.spec.mode === 'replicated' && !removalFailed.has(a.node) && !w.removalFailed)
      expect(count(a.service), `maxPerNode on ${a.node}`).toBeLessThanOrEqual(p.maxPerNode);
    if (svc.spec.mode === 'global' && (a.reason === 'RollingUpdate' || a.reason === 'Recreate')) continue;
    for (const t of p.antiAffinity) expect(kept(t)).toBe(0);
    for (const t of p.affinity) if (!failedOn.has(`${t}@${a.node}`)) expect(count(t)).toBeGreaterThan(0);
  }
}

/**
 * Where the surviving replicas sit, by an oracle that shares no code with the
 * scheduler: constraints through the constraint language alone, devices from
 * the Node manifest, maxPerNode by counting, anti-affinity both ways.
 */
export function checkSurvivors(w: World): void {
  const cluster = w.desired.settings.cluster;
  const manifests = new Map(w.desired.nodes.map((n) => [n.metadata.name, n]));
  for (const n of w.nodes.values()) {
    if (!n.reachable) continue;
    const m = manifests.get(n.name)!;
    const nodeFacts = {
      name: n.name,
      arch: n.facts.arch,
      os: n.facts.os,
      cpu: m.spec.capacity.cpu ?? n.facts.cpu,
      memory: m.spec.capacity.memory ?? n.facts.memory,
      labels: { ...n.facts.labels, ...m.metadata.labels },
    };
    const ours = n.containers.filter((c) => c.labels[LABEL.cluster] === cluster && c.labels[LABEL.service] !== undefined);
    const count = (s: string) => ours.filter((c) => c.labels[LABEL.service] === s).length;
    for (const c of ours) {
      const svc = svcOf(w, c.labels[LABEL.service]);
      expect(svc, `${c.name} on ${n.name} belongs to no desired service`).toBeDefined();
      const p = svc!.spec.placement;
      for (const k of p.constraints) expect(evaluateConstraint(k, nodeFacts).ok, `${c.name} on ${n.name} breaks ${k.text}`).toBe(true);
      for (const d of svc!.spec.devices) expect(m.spec.devices, `${c.name} on ${n.name} needs ${d}`).toContain(d);
      if (p.maxPerNode !== undefined && svc!.spec.mode === 'replicated') expect(count(svc!.metadata.name), `maxPerNode on ${n.name}`).toBeLessThanOrEqual(p.maxPerNode);
      for (const t of p.antiAffinity) expect(count(t), `${svc!.metadata.name} anti-affine to ${t} on ${n.name}`).toBe(t === svc!.metadata.name ? 1 : 0);
    }
  }
}

/** At a fixed point: every service has min(wanted, feasible) ready replicas on the current hash, and no extras. */
export function checkFixedPoint(w: World, out: ReconcileOutput): void {
  checkSurvivors(w);
  const obs = w.observed();
  const infos = buildNodeInfos(w.desired.nodes, obs.nodes, w.desired.settings, w.now);
  const cluster = w.desired.settings.cluster;
  for (const svc of w.desired.services) {
    const name = svc.metadata.name;
    const st = out.status.services.find((s) => s.name === name)!;
    if (st.conditions.some((c) => c.type === 'DependencyWait' || c.type === 'DependencyCycle')) continue;
    const mine = obs.nodes.flatMap((n) => (n.reachable ? n.containers.filter((c) => c.labels[LABEL.cluster] === cluster && c.labels[LABEL.service] === name).map((c) => ({ n, c })) : []));
    for (const { c } of mine) {
      // An old replica stays only while its replacement cannot be placed anywhere.
      if (c.labels[LABEL.hash] !== st.specHash) expect(st.unschedulable).toBeDefined();
      expect(isReady(c, svc)).toBe(true);
    }
    const req = placementRequest(svc, repelledBy(w.desired.services).get(svc.metadata.name));
    const noRoom = () => infos.every((n) => runFilters(DEFAULT_FILTERS, req, n) !== undefined);
    if (svc.spec.mode === 'replicated') {
      const lostSlots = new Set(
        obs.nodes.flatMap((n) => {
          const info = infos.find((i) => i.name === n.name)!;
          return !n.reachable && !info.lost ? n.containers.filter((c) => c.labels[LABEL.cluster] === cluster && c.labels[LABEL.service] === name).map((c) => c.labels[LABEL.slot]) : [];
        }),
      );
      const slots = new Set(mine.map(({ c }) => c.labels[LABEL.slot]));
      expect(slots.size, `one container per slot of ${name}`).toBe(mine.length);
      for (const s of slots) expect(Number(s)).toBeLessThan(svc.spec.replicas);
      const covered = new Set([...slots, ...lostSlots]).size;
      if (covered < svc.spec.replicas) {
        expect(st.unschedulable).toBeDefined();
        expect(noRoom()).toBe(true);
      }
    } else {
      for (const n of infos) {
        if (!n.reachable) continue;
        const here = mine.filter((m) => m.n.name === n.name);
        expect(here.length, `${name} on ${n.name}`).toBeLessThanOrEqual(1);
        if (here.length === 0) expect(runFilters(DEFAULT_FILTERS, req, n)).toBeDefined();
      }
    }
  }
}

/** Longest dependsOn chain. */
export function depDepth(services: readonly Service[]): number {
  const by = new Map(services.map((s) => [s.metadata.name, s]));
  const memo = new Map<string, number>();
  const depth = (n: string, seen: Set<string>): number => {
    if (memo.has(n)) return memo.get(n)!;
    if (seen.has(n)) return 0;
    seen.add(n);
    const s = by.get(n);
    const d = s === undefined ? 0 : Math.max(0, ...s.spec.dependsOn.map((x) => 1 + depth(x, seen)));
    memo.set(n, d);
    return d;
  };
  return Math.max(0, ...services.map((s) => depth(s.metadata.name, new Set())));
}

/**
 * The convergence bound. Per dependency level: 1 pass to prune and place, a
 * rollout of R slots in ceil(R/parallelism) ≤ R batches each taking one pass
 * to start and the next to see it ready, and 2 passes of slack for capacity
 * or anti-affinity freed later in the same pass by a service planned after
 * this one. A level waits for the one before it: (D+1) · (R + 3), plus 1 to
 * observe the fixed point.
 */
export function convergenceBound(services: readonly Service[], nodes: number): number {
  const r = Math.max(1, nodes, ...services.map((s) => s.spec.replicas));
  return (depDepth(services) + 1) * (r + 3) + 1;
}
