// Failures as inputs: failed actions back off inside the pure reconcile, and
// the world still converges through failing actions, crashes, flapping
// healthchecks, capacity overrides and nodes never seen.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionKey, DEFAULT_SETTINGS, historyKey, type Action, type ActionFailureCode, type ActionResult } from '../../src/api/types.js';
import { actionBackoff, reconcile, recordOutcomes, specHash } from '../../src/reconcile/index.js';
import { containerSpec } from '../support/actions.js';
import { checkFixedPoint, convergenceBound, step } from './check.js';
import { buildWorld, genFleet, genServices, numRuns, SETTINGS } from './model.js';

const hashNoDeps = (s: Parameters<typeof specHash>[0]) => specHash(s);
const HOUR = 3_600_000;
const RETRYABLE: ActionFailureCode[] = ['image-pull-failed', 'timeout', 'unreachable', 'engine-error'];
const TERMINAL: ActionFailureCode[] = ['bad-parameter', 'name-conflict', 'device-not-found'];

/** Which attempts are "the same": one action of one slot, on one node, for one spec. */
const identity = (a: Action) =>
  a.type === 'create' ? `${actionKey(a)}/create/${a.container.name}` : `${actionKey(a)}/${a.type}/${a.node}/${a.specHash ?? ''}/${'containerId' in a ? a.containerId : ''}`;

/** Most attempts that back-off allows in `span` ms: the first at once, then waits of base·2^(k-1), capped. */
function attemptBound(span: number, settings = DEFAULT_SETTINGS): number {
  let t = 0;
  let n = 1;
  while (t + actionBackoff(n, settings) <= span) t += actionBackoff(n++, settings);
  return n;
}

/** A small deterministic generator for the gaps between passes (the controller's triggers are not ours to choose). */
function lcg(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('failed actions back off in the reconcile', () => {
  const settings = { ...DEFAULT_SETTINGS, cluster: SETTINGS.cluster, nodeGracePeriod: SETTINGS.nodeGracePeriod };

  it('keeps the attempts per slot within the back-off bound over a simulated hour of permanently failing actions', () => {
    const runs = Math.max(20, Math.floor(numRuns / 20));
    fc.assert(
      fc.property(genFleet({ max: 4, allReachable: true }), genServices(3), fc.nat(), fc.constantFrom(...RETRYABLE), (gn, gs, seed, code) => {
        const w = buildWorld(gn, gs, hashNoDeps, settings);
        // Every create, start and remove fails, for the whole hour.
        w.failWith = (a) => ({ action: a, ok: false, code, message: 'injected', retryable: true });
        const rnd = lcg(seed);
        const attempts = new Map<string, number[]>();
        const end = w.now + HOUR;
        while (w.now < end) {
          const out = reconcile(w.desired, w.observed(), w.history, w.now);
          for (const a of out.actions) {
            const list = attempts.get(identity(a)) ?? [];
            list.push(w.now);
            attempts.set(identity(a), list);
          }
          w.apply(out.actions);
          // The next pass: at the reconcile's requeueAt when it asks, else within 1 s (the busy requeue), sometimes sooner (events).
          const next = out.requeueAt ?? w.now + 1_000;
          w.now = Math.max(w.now + 1, Math.min(next, w.now + 1 + Math.floor(rnd() * 1_500)));
        }
        const bound = attemptBound(HOUR, settings);
        for (const [id, times] of attempts) {
          expect(times.length, `${id}: ${times.length} attempts in an hour`).toBeLessThanOrEqual(bound);
          for (let k = 1; k < times.length; k++) expect(times[k]! - times[k - 1]!, `${id}: wait after failure ${k}`).toBeGreaterThanOrEqual(actionBackoff(k, settings));
        }
      }),
      { numRuns: runs },
    );
    // At once, then after 1 s, 2 s, … 256 s (511 s in all), then every 5 min: 20 attempts in an hour (against 3,600 at one per second).
    expect(attemptBound(HOUR, settings)).toBe(20);
  }, 300_000);

  it('tries a terminal failure once, and again only when the spec changes', () => {
    fc.assert(
      fc.property(genFleet({ max: 4, allReachable: true }), genServices(3), fc.constantFrom(...TERMINAL), (gn, gs, code) => {
        const w = buildWorld(gn, gs, hashNoDeps, settings);
        w.failWith = (a) => (a.type === 'create' ? { action: a, ok: false, code, message: 'injected', retryable: false } : undefined);
        const creates = new Map<string, number>();
        const run = (passes: number) => {
          for (let i = 0; i < passes; i++) {
            const out = reconcile(w.desired, w.observed(), w.history, w.now);
            for (const a of out.actions) if (a.type === 'create') creates.set(identity(a), (creates.get(identity(a)) ?? 0) + 1);
            w.apply(out.actions);
            w.tick();
          }
        };
        run(30);
        for (const [id, n] of creates) expect(n, id).toBe(1);
        // A new spec is a new attempt for every slot that failed.
        const failed = [...w.history.values()].filter((h) => h.failures?.some((f) => !f.retryable)).map((h) => h.service);
        if (failed.length === 0) return;
        w.desired = { ...w.desired, services: w.desired.services.map((s) => ({ ...s, spec: { ...s.spec, image: `${s.spec.image}-fixed` } })) };
        w.failWith = undefined;
        const out = reconcile(w.desired, w.observed(), w.history, w.now);
        for (const service of new Set(failed)) {
          const st = out.status.services.find((s) => s.name === service)!;
          // Nothing to place: waiting on a dependency, nowhere to go, or no slot at all (a global service whose only node is cordoned).
          if (st.conditions.some((c) => c.type === 'DependencyWait') || st.unschedulable !== undefined || st.desired === 0) continue;
          expect(
            out.actions.some((a) => a.service === service && a.type === 'create'),
            service,
          ).toBe(true);
        }
      }),
      { numRuns: Math.max(50, Math.floor(numRuns / 4)) },
    );
  }, 300_000);

  it('records outcomes per slot: attempts grow for the same failure on any node, reset with a new spec, success forgets', () => {
    const create = (node: string, hash: string): Action => ({
      type: 'create',
      node,
      service: 'web',
      slot: 0,
      reason: 'Scheduled',
      note: { code: 'Scheduled', slot: 0, container: 'c', node },
      start: true,
      container: containerSpec('web', 0, { name: 'c', labels: { 'fog.spec-hash': hash } }),
    });
    const fail = (a: Action): ActionResult => ({ action: a, ok: false, code: 'image-pull-failed', message: 'no registry', retryable: true });
    let h = recordOutcomes(new Map(), [fail(create('n1', 'h1'))], 10);
    h = recordOutcomes(h, [fail(create('n1', 'h1'))], 20);
    expect(h.get(historyKey('web', 0))?.failures?.[0]).toMatchObject({ attempts: 2, time: 20, node: 'n1', specHash: 'h1', retryable: true });
    // Another node is the same attempt for a create (the slot backs off wherever it would go).
    expect(
      recordOutcomes(h, [fail(create('n2', 'h1'))], 30)
        .get('web/0')
        ?.failures?.map((f) => f.attempts),
    ).toEqual([3]);
    // A new spec is a new attempt (the old spec's record stays until it succeeds or the slot goes).
    expect(
      recordOutcomes(h, [fail(create('n1', 'h2'))], 30)
        .get('web/0')
        ?.failures?.map((f) => [f.specHash, f.attempts]),
    ).toEqual([
      ['h1', 2],
      ['h2', 1],
    ]);
    expect(recordOutcomes(h, [{ action: create('n1', 'h1'), ok: true }], 30).has('web/0')).toBe(false);
    // The manifest was fixed: the new spec's create works, and the old spec's failures are forgotten with it.
    const both = recordOutcomes(h, [fail(create('n1', 'h2'))], 30);
    expect(recordOutcomes(both, [{ action: create('n1', 'h3'), ok: true }], 40).has('web/0')).toBe(false);
  });
});

describe('convergence through failures', () => {
  it('reaches a fixed point through transient action failures, crashes, flapping healthchecks, capacity overrides and never-seen nodes', () => {
    fc.assert(
      fc.property(genFleet(), genServices(), fc.integer({ min: 0, max: 2 }), fc.array(fc.nat(), { maxLength: 3 }), fc.boolean(), (gn, gs, failFirst, crashes, flaky) => {
        const w = buildWorld(gn, gs, hashNoDeps);
        w.flakyHealth = flaky;
        // Each action fails its first `failFirst` attempts (retryable), then succeeds.
        const seen = new Map<string, number>();
        w.failWith = (a) => {
          const n = (seen.get(identity(a)) ?? 0) + 1;
          seen.set(identity(a), n);
          return n <= failFirst ? { action: a, ok: false, code: 'timeout', message: 'injected', retryable: true } : undefined;
        };
        // Every failure, crash and flap can cost a pass or two more than the failure-free bound.
        const bound = (convergenceBound(w.desired.services, gn.length) + crashes.length + 2) * (failFirst + 1) * (flaky ? 2 : 1);
        let last = step(w);
        let i = 0;
        for (; i < bound; i++) {
          if (i < crashes.length) w.crash(crashes[i]!);
          // Settled: this pass saw no healthcheck still to report (its report is an engine event, which triggers a pass)…
          const calm = w.containers().every(({ c }) => c.health !== 'starting' && c.health !== 'unhealthy');
          last = step(w);
          // … and found nothing to do and nothing timed.
          if (i >= crashes.length && calm && last.actions.length === 0 && last.requeueAt === undefined) break;
        }
        expect(i, 'no fixed point within the bound').toBeLessThan(bound);
        checkFixedPoint(w, last);
      }),
      { numRuns },
    );
  }, 300_000);
});
