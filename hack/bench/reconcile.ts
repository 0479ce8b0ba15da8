// Benchmark of the pure reconcile core: fresh placement on a large fleet, a
// reconcile with nothing to do, and one with one change (a container died)
// given the previous pass's memo, as the controller runs it. Medians over
// several runs.

import { NO_HISTORY, NO_ROLLOUTS, type Action, type ObservedContainer, type ObservedState, type RolloutInputs } from '../../src/api/types.js';
import { reconcile } from '../../src/reconcile/index.js';
import { containerPortKeys } from '../../src/schedule/index.js';
import { generateWorld } from './world.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall-clock ms and process CPU ms of one call (CPU time stays meaningful on a busy machine). */
function measure(fn: () => unknown): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** Medians of wall and CPU time over `runs` calls, under `key`_ms and `key`_cpu_ms. */
function bench(out: Record<string, number>, key: string, runs: number, fn: () => unknown): void {
  const m = Array.from({ length: runs }, () => measure(fn));
  out[`${key}_ms`] = median(m.map((x) => x.wall));
  out[`${key}_cpu_ms`] = median(m.map((x) => x.cpu));
}

/** The observed state after an executor carried out `actions`: every create running. */
export function applyAll(observed: ObservedState, actions: readonly Action[]): ObservedState {
  const byNode = new Map<string, ObservedContainer[]>();
  for (const n of observed.nodes) byNode.set(n.name, [...n.containers]);
  let seq = 0;
  for (const a of actions) {
    const list = byNode.get(a.node)!;
    if (a.type === 'create') {
      const s = a.container;
      list.push({
        id: `c${++seq}`,
        name: s.name,
        labels: s.labels,
        image: s.image,
        state: 'running',
        health: 'none',
        restartCount: 0,
        startedAt: 0,
        resources: s.resources,
        hostPorts: containerPortKeys(s.network, s.ports),
      });
    } else if (a.type === 'remove')
      list.splice(
        list.findIndex((c) => c.id === a.containerId),
        1,
      );
  }
  return { nodes: observed.nodes.map((n) => ({ ...n, containers: byNode.get(n.name)! })) };
}

/** The first managed running container of the middle node exits; nothing else changes identity. */
function killOne(observed: ObservedState): ObservedState {
  const i = observed.nodes.length >> 1;
  const nodes = [...observed.nodes];
  const n = nodes[i]!;
  const j = n.containers.findIndex((c) => c.labels['fog.service'] !== undefined && c.state === 'running');
  nodes[i] = { ...n, containers: n.containers.map((c, k) => (k === j ? { ...c, state: 'exited' as const, exitCode: 137, finishedAt: 0 } : c)) };
  return { nodes };
}

export async function benchReconcile(opts: { quick: boolean }): Promise<Record<string, number>> {
  const runs = opts.quick ? 3 : 7;
  const out: Record<string, number> = {};
  const NOW = 1_000;

  const small = generateWorld(1_000, 1);
  reconcile(small.desired, small.observed, NO_HISTORY, NOW); // warm up the JIT
  bench(out, 'reconcile.fresh_1k_nodes_10k_replicas', runs, () => reconcile(small.desired, small.observed, NO_HISTORY, NOW));

  const big = generateWorld(5_000, 2);
  const plan = reconcile(big.desired, big.observed, NO_HISTORY, NOW);
  const converged = applyAll(big.observed, plan.actions);
  const noopPlan = reconcile(big.desired, converged, NO_HISTORY, NOW); // also the warm-up
  // The steady state first: a controller spends most passes finding nothing to do.
  bench(out, 'reconcile.noop_5k_nodes_50k_replicas', runs * 2, () => reconcile(big.desired, converged, NO_HISTORY, NOW));
  bench(out, 'reconcile.fresh_5k_nodes_50k_replicas', runs, () => reconcile(big.desired, big.observed, NO_HISTORY, NOW));
  // One container died; every other node and container keeps its identity (as the observer keeps it), and the
  // controller hands in the memo of its previous pass. The same change without the memo, for comparison.
  const memo = reconcile(big.desired, converged, NO_HISTORY, NOW).memo;
  const changed = killOne(converged);
  const onePlan = reconcile(big.desired, changed, NO_HISTORY, NOW + 1, memo);
  bench(out, 'reconcile.one_change_5k_nodes_50k_replicas', runs * 2, () => reconcile(big.desired, changed, NO_HISTORY, NOW + 1, memo));
  bench(out, 'reconcile.one_change_no_memo_5k_nodes_50k_replicas', runs, () => reconcile(big.desired, changed, NO_HISTORY, NOW + 1));
  // As the controller runs it: with the rollout book (every revision complete), which the memo must not defeat.
  let ro: RolloutInputs = { book: NO_ROLLOUTS, wall: 1_796_040_000_000 };
  const LATER = NOW + 20_000; // past every replica's monitor period
  for (let i = 0; i < 2; i++) ro = { ...ro, book: reconcile(big.desired, converged, NO_HISTORY, LATER, undefined, ro).rollouts! };
  const bookMemo = reconcile(big.desired, converged, NO_HISTORY, LATER, undefined, ro).memo;
  bench(out, 'reconcile.one_change_with_rollouts_5k_nodes_50k_replicas', runs * 2, () => reconcile(big.desired, changed, NO_HISTORY, LATER + 1, bookMemo, ro));
  out['reconcile.one_change_actions'] = onePlan.actions.length;
  out['reconcile.one_change_reused_services'] = onePlan.memo.services.size;
  out['reconcile.one_change_pct_of_fresh'] = Math.round((1000 * out['reconcile.one_change_5k_nodes_50k_replicas_ms']!) / out['reconcile.fresh_5k_nodes_50k_replicas_ms']!) / 10;
  out['reconcile.noop_actions'] = noopPlan.actions.length;
  out['reconcile.fresh_5k_creates'] = plan.actions.filter((a) => a.type === 'create').length;
  out['reconcile.peak_rss_mb'] = Math.round(process.resourceUsage().maxRSS / 1024);
  return out;
}
