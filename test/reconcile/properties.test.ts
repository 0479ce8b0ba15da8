// Property tests of reconcile against the model world (see model.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ObservedState, RolloutInputs } from '../../src/api/types.js';
import { LABEL, NO_ROLLOUTS } from '../../src/api/types.js';
import { reconcile, specHash } from '../../src/reconcile/index.js';
import { checkFixedPoint, converge, convergenceBound, step } from './check.js';
import { buildWorld, genFleet, genServices, numRuns, permute, TICK } from './model.js';

const hashNoDeps = (s: Parameters<typeof specHash>[0]) => specHash(s);
let worst = 0;

describe('reconcile properties', () => {
  it('converges to a fixed point within the bound, safely, touching no foreign container (1, 2, 4, 7)', () => {
    fc.assert(
      fc.property(genFleet(), genServices(), (gn, gs) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        const bound = convergenceBound(w.desired.services, gn.length);
        const { passes, last } = converge(w, bound);
        worst = Math.max(worst, passes);
        checkFixedPoint(w, last);
        // Idempotence: once converged, nothing more to do, however often asked.
        const again = reconcile(w.desired, w.observed(), w.history, w.now);
        expect(again.actions).toEqual([]);
      }),
      { numRuns },
    );
    console.log(`convergence: worst case ${worst} passes`);
  }, 120_000);

  it('gives the same plan for any order of nodes, containers and services (3)', () => {
    fc.assert(
      fc.property(genFleet(), genServices(), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (gn, gs, keys) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        const obs = w.observed();
        const a = reconcile(w.desired, obs, w.history, w.now);
        const shuffled: ObservedState = { nodes: permute(obs.nodes, keys).map((n) => ({ ...n, containers: permute(n.containers, [...keys].reverse()) })) };
        const desired = { ...w.desired, nodes: permute(w.desired.nodes, keys), services: permute(w.desired.services, [...keys].reverse()) };
        const b = reconcile(desired, shuffled, w.history, w.now);
        expect(b.actions).toEqual(a.actions);
        expect(b.status.services).toEqual(a.status.services);
        expect(b.status.nodes).toEqual(a.status.nodes);
        expect(b.status.events).toEqual(a.status.events);
        const { memo: _a, ...planA } = a;
        const { memo: _b, ...planB } = b;
        expect(planB).toEqual(planA);
      }),
      { numRuns },
    );
  }, 120_000);

  it('keeps rollouts within parallelism: ready >= min(ready before, replicas) - parallelism (stop-first), total <= replicas + parallelism (start-first) (5)', () => {
    fc.assert(
      fc.property(genFleet({ allReachable: true }), genServices(3), fc.nat(2), (gn, gs, pick) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        converge(w, convergenceBound(w.desired.services, gn.length));
        const target = w.desired.services[pick % w.desired.services.length]!;
        if (target.spec.mode !== 'replicated') return;
        const name = target.metadata.name;
        const changed = { ...target, spec: { ...target.spec, image: `${target.spec.image}-v2` } };
        w.desired = { ...w.desired, services: w.desired.services.map((s) => (s === target ? changed : s)) };
        const { replicas: n, update } = changed.spec;
        const mine = () => [...w.nodes.values()].flatMap((node) => node.containers.filter((c) => c.labels[LABEL.cluster] === 'fab' && c.labels[LABEL.service] === name));
        const readySlots = () =>
          new Set(
            mine()
              .filter((c) => c.state === 'running' && (!changed.spec.healthcheck || c.health === 'healthy'))
              .map((c) => c.labels[LABEL.slot]),
          ).size;
        const floor = Math.min(readySlots(), n) - update.parallelism;
        for (let i = 0; i < convergenceBound(w.desired.services, gn.length); i++) {
          const out = step(w);
          // step() ticked; look at the world as the plan left it (new replicas may not be healthy yet).
          if (update.order === 'stop-first') expect(readySlots()).toBeGreaterThanOrEqual(floor);
          else expect(mine().length).toBeLessThanOrEqual(n + update.parallelism);
          if (out.actions.length === 0) break;
        }
      }),
      { numRuns },
    );
  }, 120_000);

  it('finishes every rollout, replicated and global: at the fixed point each replica runs the new spec, and global stop-first keeps all but parallelism nodes ready (5b)', () => {
    fc.assert(
      fc.property(genFleet({ allReachable: true }), genServices(3), fc.nat(2), (gn, gs, pick) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        const bound = convergenceBound(w.desired.services, gn.length);
        converge(w, bound);
        const target = w.desired.services[pick % w.desired.services.length]!;
        const name = target.metadata.name;
        const changed = { ...target, spec: { ...target.spec, image: `${target.spec.image}-v2` } };
        w.desired = { ...w.desired, services: w.desired.services.map((s) => (s === target ? changed : s)) };
        const mine = () => w.containers().filter(({ c }) => c.labels[LABEL.cluster] === 'fab' && c.labels[LABEL.service] === name);
        const readyNodes = () =>
          new Set(
            mine()
              .filter(({ c }) => c.state === 'running' && (!changed.spec.healthcheck || c.health === 'healthy'))
              .map(({ node }) => node.name),
          ).size;
        const floor = readyNodes() - changed.spec.update.parallelism;
        let last = step(w);
        for (let i = 0; i < bound && (last.actions.length > 0 || last.requeueAt !== undefined); i++) {
          if (changed.spec.mode === 'global' && changed.spec.update.order === 'stop-first') expect(readyNodes()).toBeGreaterThanOrEqual(floor);
          last = step(w);
        }
        expect(last.actions, 'rollout finished within the bound').toEqual([]);
        const st = last.status.services.find((s) => s.name === name)!;
        if (st.conditions.some((c) => c.type === 'DependencyWait') || st.unschedulable !== undefined) return;
        for (const { c } of mine()) expect(c.labels[LABEL.hash], `${c.name} still on the old spec`).toBe(st.specHash);
        checkFixedPoint(w, last);
      }),
      { numRuns },
    );
  }, 120_000);

  it('reuses steady services from the previous pass only when that changes nothing: the same plan and status as a pass from scratch (8)', () => {
    fc.assert(
      fc.property(genFleet({ allReachable: true }), genServices(), fc.nat(), fc.constantFrom('die', 'remove', 'unhealthy', 'scale'), fc.boolean(), (gn, gs, k, change, withRollouts) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        converge(w, convergenceBound(w.desired.services, gn.length));
        // With the rollout book (as the controller runs it): first let every revision complete (past its monitor period).
        let ro: RolloutInputs | undefined;
        if (withRollouts) {
          ro = { book: NO_ROLLOUTS, wall: 1_796_040_000_000 };
          for (let i = 0; i < 3; i++, w.now += 11_000) ro = { ...ro, book: reconcile(w.desired, w.observed(), w.history, w.now, undefined, ro).rollouts! };
        }
        const observed = w.observed();
        const prev = reconcile(w.desired, observed, w.history, w.now, undefined, ro);
        if (ro !== undefined) ro = { ...ro, book: prev.rollouts! };
        // One change: a container dies or goes, a healthcheck fails, or a service is scaled; everything else keeps its identity.
        const all = observed.nodes.flatMap((n, i) => n.containers.map((c, j) => ({ i, j, c })));
        let next = observed;
        let desired = w.desired;
        if (change === 'scale') {
          const s = desired.services[k % desired.services.length]!;
          desired = { ...desired, services: desired.services.map((x) => (x === s ? { ...s, spec: { ...s.spec, replicas: s.spec.replicas + 1 } } : x)) };
        } else if (all.length > 0) {
          const { i, j, c } = all[k % all.length]!;
          const changed = change === 'die' ? { ...c, state: 'exited' as const, exitCode: 1, finishedAt: w.now } : { ...c, health: 'unhealthy' as const };
          const containers = change === 'remove' ? observed.nodes[i]!.containers.filter((_, x) => x !== j) : observed.nodes[i]!.containers.map((x, y) => (y === j ? changed : x));
          next = { nodes: observed.nodes.map((n, x) => (x === i ? { ...n, containers } : n)) };
        }
        const fresh = reconcile(desired, next, w.history, w.now + 1, undefined, ro);
        const reused = reconcile(desired, next, w.history, w.now + 1, prev.memo, ro);
        expect(reused.actions).toEqual(fresh.actions);
        expect(reused.status).toEqual(fresh.status);
        expect(reused.requeueAt).toEqual(fresh.requeueAt);
        expect(reused.rollouts).toEqual(fresh.rollouts);
      }),
      { numRuns },
    );
  }, 120_000);

  it('node loss: nothing moves within the grace period, replicas re-placed after it, exact count after return (6)', () => {
    fc.assert(
      fc.property(genFleet({ min: 2, allReachable: true }), genServices(4), fc.nat(7), (gn, gs, which) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        const bound = convergenceBound(w.desired.services, gn.length);
        converge(w, bound);
        const lostNode = gn[which % gn.length]!.name;
        w.setReachable(lostNode, false);
        // Within the grace period: no actions at all (the world was converged).
        const grace = w.desired.settings.nodeGracePeriod;
        for (const dt of [0, grace / 2, grace]) {
          const out = reconcile(w.desired, w.observed(), w.history, w.nodes.get(lostNode)!.since + dt);
          expect(out.actions).toEqual([]);
        }
        // After it: re-placed elsewhere, never touching the lost node.
        w.now = w.nodes.get(lostNode)!.since + grace + 1;
        const after = converge(w, bound);
        checkFixedPoint(w, after.last);
        const snapshot = new Map(
          [...w.nodes.values()].flatMap((n) => n.containers.map((c) => [c.id, { node: n.name, slot: c.labels[LABEL.slot], svc: c.labels[LABEL.service], hash: c.labels[LABEL.hash] }] as const)),
        );
        // Return: the count is exact again, and the copy kept follows onNodeReturn.
        w.setReachable(lostNode, true);
        const back = converge(w, bound);
        checkFixedPoint(w, back.last);
        for (const svc of w.desired.services) {
          if (svc.spec.mode !== 'replicated') continue;
          const st = back.last.status.services.find((s) => s.name === svc.metadata.name)!;
          const alive = new Set(w.containers().map(({ c }) => c.id));
          for (let slot = 0; slot < svc.spec.replicas; slot++) {
            const copies = [...snapshot].filter(([, v]) => v.svc === svc.metadata.name && v.slot === String(slot) && v.hash === st.specHash);
            const original = copies.find(([, v]) => v.node === lostNode);
            const replacement = copies.find(([, v]) => v.node !== lostNode);
            if (original === undefined || replacement === undefined) continue;
            const keepOriginal = svc.spec.placement.onNodeReturn === 'keep-original';
            expect(alive.has(keepOriginal ? original[0] : replacement[0])).toBe(true);
            expect(alive.has(keepOriginal ? replacement[0] : original[0])).toBe(false);
          }
        }
      }),
      { numRuns },
    );
  }, 120_000);
});

export { TICK };
