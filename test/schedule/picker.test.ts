// The indexed picker (equivalence classes, lazy heaps) against a naive scan of
// every node with every filter: same choice, every time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placementRequest } from '../../src/reconcile/index.js';
import { buildNodeInfos, DEFAULT_FILTERS, ownReplicas, reservedScore, runFilters, Scheduler, spreadValue, type NodeInfo, type PlacementRequest } from '../../src/schedule/index.js';
import { buildWorld, genFleet, genServices, numRuns } from '../reconcile/model.js';
import { specHash } from '../../src/reconcile/index.js';

/** The rule as written: fewest in the spread value, fewest on the node, least reserved, name. */
function naivePick(nodes: readonly NodeInfo[], req: PlacementRequest): NodeInfo | undefined {
  const feasible = nodes.filter((n) => runFilters(DEFAULT_FILTERS, req, n) === undefined);
  const inValue = (v: string) => nodes.filter((n) => spreadValue(req, n) === v).reduce((s, n) => s + ownReplicas(req, n), 0);
  const key = (n: NodeInfo) => [req.spread === undefined ? 0 : inValue(spreadValue(req, n)), ownReplicas(req, n), reservedScore(req, n)] as const;
  let best: NodeInfo | undefined;
  for (const n of feasible) {
    if (best === undefined) {
      best = n;
      continue;
    }
    const a = key(n);
    const b = key(best);
    if (a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && (a[2] < b[2] || (a[2] === b[2] && n.name < best.name)))))) best = n;
  }
  return best;
}

describe('picker', () => {
  it('picks what a naive scan of all nodes picks, replica after replica', () => {
    fc.assert(
      fc.property(genFleet(), genServices(), fc.nat(4), fc.integer({ min: 1, max: 12 }), (gn, gs, which, count) => {
        const w = buildWorld(gn, gs, (s) => specHash(s));
        const obs = w.observed();
        const svc = w.desired.services[which % w.desired.services.length]!;
        const req = placementRequest(svc);
        const fast = buildNodeInfos(w.desired.nodes, obs.nodes, w.desired.settings, w.now);
        const slow = buildNodeInfos(w.desired.nodes, obs.nodes, w.desired.settings, w.now);
        const p = new Scheduler(fast).prepare(req);
        const naive = new Scheduler(slow).prepare(req);
        for (let i = 0; i < count; i++) {
          const a = p.pick();
          const b = naivePick(slow, req);
          expect(a?.name).toBe(b?.name);
          if (a === undefined || b === undefined) break;
          p.assign(a);
          naive.assign(b);
        }
      }),
      { numRuns },
    );
  }, 120_000);
});
