// Liveness on real engines (hack/lan.sh: two dockerd in network namespaces,
// TCP with mutual TLS): the fleet port, with its default heartbeat, reports a
// silently partitioned node and a hung (SIGSTOPped) engine unreachable within
// a bound that does not depend on the resync or the call timeout, tells
// onChange, leaves the other node alone, and reports each reachable again
// after heal / thaw. The bounds are liveness properties with room for a busy
// machine, not speed figures (those are `npm run bench`: real.*_to_notready_ms).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObservedNode } from '../../src/api/types.js';
import { createEngineFleet } from '../../src/controller/engine-fleet.js';
import type { FleetPort } from '../../src/controller/fleet.js';
import { DEFAULT_HEARTBEAT } from '../../src/observe/heartbeat.js';
import { systemClock } from '../../src/runtime/clock.js';
import { rootLogger } from '../../src/runtime/logger.js';
import { startLan, type Lan } from '../support/lan.js';

/** Partition or hang → NotReady: with the default heartbeat (2 s turn + 2 × 500 ms) ≤ 3.1 s; the resync (10 s) plus the call timeout (20 s here) would be 30 s. */
const LOST_WITHIN_MS = 8_000;
const BACK_WITHIN_MS = 10_000;
/** Long on purpose: only the heartbeat can make the bound. */
const CALL_TIMEOUT_MS = 20_000;

let lan: Lan | undefined;
let port: FleetPort | undefined;
const changes: { node: string; at: number }[] = [];

beforeAll(async () => {
  lan = await startLan([{ name: 'live-a' }, { name: 'live-b' }]);
  port = createEngineFleet({ clock: systemClock, logger: rootLogger({ level: 'silent', pretty: false }), callTimeoutMs: CALL_TIMEOUT_MS, cluster: 'liveness', watchEvents: true });
  port.onChange((node) => changes.push({ node, at: performance.now() }));
  port.sync(lan.nodes.map((n) => n.manifest()));
});

afterAll(async () => {
  await port?.close();
  await lan?.stop();
});

const node = async (name: string): Promise<ObservedNode> => (await port!.observe([name])).nodes.find((n) => n.name === name)!;

/** Observes `name` until `ok`; the time it took, or a failure naming what was seen last. */
async function until(name: string, ok: (n: ObservedNode) => boolean, ms: number): Promise<{ after: number; seen: ObservedNode }> {
  const t0 = performance.now();
  for (;;) {
    const seen = await node(name);
    const after = performance.now() - t0;
    if (ok(seen)) return { after, seen };
    if (after > ms) throw new Error(`${name}: not as wanted within ${ms} ms; last seen ${JSON.stringify({ reachable: seen.reachable, error: seen.error })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.sequential('liveness on a LAN of real engines', () => {
  it('both nodes answer over TCP with mutual TLS', async () => {
    const { nodes } = await port!.observe();
    expect(nodes.map((n) => [n.name, n.reachable])).toEqual([
      ['live-a', true],
      ['live-b', true],
    ]);
  });

  for (const fault of ['partition', 'freeze'] as const) {
    const victim = fault === 'partition' ? 'live-a' : 'live-b';
    const other = fault === 'partition' ? 'live-b' : 'live-a';
    it(`${fault}: NotReady within ${LOST_WITHIN_MS} ms, onChange told, the other node untouched; ${fault === 'partition' ? 'heal' : 'thaw'} brings it back`, async () => {
      const n = lan!.node(victim);
      await until(victim, (s) => s.reachable, BACK_WITHIN_MS);
      // A quiet moment: the last answer is fresh, so the bound is counted from the fault.
      await new Promise((r) => setTimeout(r, 1_500));
      changes.length = 0;
      const t0 = performance.now();
      await (fault === 'partition' ? n.partition() : n.freeze());
      try {
        const lost = await until(victim, (s) => !s.reachable, LOST_WITHIN_MS);
        process.stderr.write(`liveness: ${fault} → NotReady after ${Math.round(performance.now() - t0)} ms (${lost.seen.error})\n`);
        expect(lost.seen.error).toMatch(/^no answer to ping for \d+\.\ds \(2 missed in a row/);
        // Unreachable since it went silent (its last answer: at most one heartbeat interval before the fault), not since we noticed:
        // the grace period counts from there.
        expect(lost.seen.since).toBeGreaterThanOrEqual(t0 - DEFAULT_HEARTBEAT.intervalMs - 100);
        expect(lost.seen.since).toBeLessThan(t0 + 1_000);
        expect(changes.some((c) => c.node === victim && c.at >= t0)).toBe(true);
        expect((await node(other)).reachable).toBe(true);
        // While it is lost, a look costs nothing: no call waits for the silent engine.
        const t1 = performance.now();
        expect((await node(victim)).reachable).toBe(false);
        expect(performance.now() - t1).toBeLessThan(100);
      } finally {
        await (fault === 'partition' ? n.heal() : n.thaw());
      }
      const t2 = performance.now();
      const back = await until(victim, (s) => s.reachable, BACK_WITHIN_MS);
      process.stderr.write(`liveness: ${fault === 'partition' ? 'heal' : 'thaw'} → Ready after ${Math.round(performance.now() - t2)} ms\n`);
      expect(back.seen.error).toBeUndefined();
      expect(back.seen.facts?.labels['fog.node']).toBe(victim);
    });
  }
});
