// The heartbeat: its decisions as plain functions (tables), its schedule with
// a fake clock and fake pings (spread over the interval, k misses in a row,
// one answer brings a node back, a ping that never ends holds nothing up),
// and the whole path through the engine fleet against hollow engines with
// the black-hole fault: the FleetPort reports the node unreachable within the
// bound, tells onChange, does not wait for calls the engine holds, and after
// the fault is lifted reports it reachable only after a full read.

import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHollowFleet, type HollowFleet } from '../../hack/hollow/fleet.js';
import { writeNodeManifests } from '../../hack/hollow/manifests.js';
import { DEFAULT_SETTINGS } from '../../src/api/types.js';
import { Controller } from '../../src/controller/controller.js';
import type { FogNode } from '../../src/api/types.js';
import { createEngineFleet } from '../../src/controller/engine-fleet.js';
import { Engine } from '../../src/docker/engine.js';
import { ALIVE, answered, DEFAULT_HEARTBEAT, Heartbeat, heartbeatInterval, missed, roundSlice, type HeartbeatMember } from '../../src/observe/heartbeat.js';
import { rootLogger } from '../../src/runtime/logger.js';
import { systemClock } from '../../src/runtime/clock.js';

describe('decisions', () => {
  it.each([
    { misses: 0, k: 2, lost: false },
    { misses: 1, k: 2, lost: true },
    { misses: 0, k: 1, lost: true },
    { misses: 2, k: 3, lost: true },
  ])('a miss after $misses in a row with k=$k: lost $lost', ({ misses, k, lost }) => {
    const got = missed({ misses, lost: false, lastAnswer: 1_000, ...(misses > 0 ? { missingSince: 2_000 } : {}) }, 2_000, 3_500, k, 'no answer to ping within 1000 ms');
    expect(got.next.misses).toBe(misses + 1);
    expect(got.lost !== undefined).toBe(lost);
    if (lost) expect(got.lost).toBe(`no answer to ping for 2.5s (${misses + 1} missed in a row; last: no answer to ping within 1000 ms)`);
  });

  it('a lost node is not lost twice; an answer brings it back once', () => {
    const first = missed({ ...ALIVE }, 0, 1_000, 1, 'x');
    expect(first.lost).toMatch(/^no answer to ping for 1\.0s/);
    expect(missed(first.next, 1_000, 2_000, 1, 'x').lost).toBeUndefined();
    const back = answered(first.next, 3_000);
    expect(back).toEqual({ next: { misses: 0, lost: false, lastAnswer: 3_000 }, back: true });
    expect(answered(back.next, 4_000).back).toBe(false);
  });

  it.each([
    { count: 1000, slices: 20 },
    { count: 3, slices: 3 },
    { count: 7, slices: 3 },
    { count: 5, slices: 1 },
  ])('$count nodes in $slices slices: each node in exactly one, the slices even (sizes differ by at most one)', ({ count, slices }) => {
    const parts = Array.from({ length: slices }, (_, j) => roundSlice(count, slices, j));
    expect(parts[0]!.from).toBe(0);
    expect(parts.at(-1)!.to).toBe(count);
    for (let j = 1; j < slices; j++) expect(parts[j]!.from).toBe(parts[j - 1]!.to);
    const sizes = parts.map((p) => p.to - p.from);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});

describe('the rate cap (as Nomad max_heartbeats_per_second)', () => {
  it.each([
    { nodes: 3, interval: 2_000 },
    { nodes: 500, interval: 2_000 },
    { nodes: 501, interval: 2_500 },
    { nodes: 1_000, interval: 4_000 },
    { nodes: 1_001, interval: 4_500 },
    { nodes: 10_000, interval: 40_000 },
  ])('the default 2 s at 250 turns a second: $nodes nodes get $interval ms', ({ nodes, interval }) => {
    expect(heartbeatInterval(DEFAULT_HEARTBEAT.intervalMs, nodes, DEFAULT_HEARTBEAT.maxRate)).toBe(interval);
    // Never more turns a second than the cap, above the configured interval.
    expect(nodes / (interval / 1000)).toBeLessThanOrEqual(Math.max(250, nodes / 2));
  });

  it('no cap (0), or a configured interval already under it, leaves the interval as set', () => {
    expect(heartbeatInterval(2_000, 10_000, 0)).toBe(2_000);
    expect(heartbeatInterval(10_000, 1_000, 250)).toBe(10_000);
  });
});

describe('schedule (fake clock)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const now = () => Date.now();

  /** Members whose pings answer at once, never, or fail; every ping's time is kept. */
  function members(n: number) {
    const mode = new Map<string, 'ok' | 'silent' | 'refused'>();
    const pings: { name: string; at: number }[] = [];
    const events: string[] = [];
    const list: HeartbeatMember[] = Array.from({ length: n }, (_, i) => {
      const name = `n${i}`;
      mode.set(name, 'ok');
      return {
        name,
        ping: (timeoutMs: number, done: (err?: Error) => void) => {
          pings.push({ name, at: now() });
          const m = mode.get(name);
          // Answers come back asynchronously, as from a socket.
          if (m === 'ok') queueMicrotask(() => done());
          else if (m === 'refused') queueMicrotask(() => done(new Error('connect ECONNREFUSED')));
          else setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), timeoutMs);
        },
        lost: (error: string) => events.push(`${now()} lost ${name}: ${error}`),
        answered: (back: boolean) => void (back && events.push(`${now()} back ${name}`)),
      };
    });
    return { list, mode, pings, events };
  }

  it('pings each node once per interval, spread evenly over it', async () => {
    const m = members(100);
    const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 1_000, misses: 2, now });
    const t0 = now();
    hb.set(m.list);
    await vi.advanceTimersByTimeAsync(2_950);
    hb.stop();
    // Three rounds: every node three times (its turn rounded up to a 100 ms tick), 1 s apart.
    for (const member of m.list) {
      const at = m.pings.filter((p) => p.name === member.name).map((p) => p.at - t0);
      expect(at).toHaveLength(3);
      expect(at[0]).toBeLessThan(1_000);
      expect([at[1]! - at[0]!, at[2]! - at[1]!]).toEqual([1_000, 1_000]);
    }
    // Spread: ticks of 100 ms, about a tenth of the nodes each, never the whole fleet at once.
    const perTick = new Map<number, number>();
    for (const p of m.pings) perTick.set(p.at, (perTick.get(p.at) ?? 0) + 1);
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(11);
    expect(perTick.size).toBeGreaterThanOrEqual(28);
  });

  it('a fleet above the rate cap is turned at most maxRate times a second, each node still once per (longer) interval; back under it, the configured interval again', async () => {
    const m = members(60);
    const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 200, misses: 2, now, maxRate: 20 });
    const t0 = now();
    hb.set(m.list);
    expect(hb.intervalMs).toBe(3_000);
    await vi.advanceTimersByTimeAsync(5_950);
    for (const member of m.list) {
      const at = m.pings.filter((p) => p.name === member.name).map((p) => p.at);
      expect(at).toHaveLength(2);
      expect(at[1]! - at[0]!).toBe(3_000);
    }
    // Any 1 s window: at most 20 turns (+1 for a tick on its edge).
    for (let w = t0; w < t0 + 5_000; w += 100) expect(m.pings.filter((p) => p.at >= w && p.at < w + 1_000).length).toBeLessThanOrEqual(21);
    // Down to 10 nodes: 1 s again.
    hb.set(m.list.slice(0, 10));
    expect(hb.intervalMs).toBe(1_000);
    const from = now();
    await vi.advanceTimersByTimeAsync(2_000);
    hb.stop();
    expect(m.pings.filter((p) => p.at >= from && p.name === 'n3')).toHaveLength(2);
  });

  it('a turn that finds the held answer late asks the member to hedge, once; a silent node is then lost a deadline after that turn, the re-ping answered by the hedge; a late answer that comes needs no loss', async () => {
    const hedges: { name: string; at: number }[] = [];
    const events: string[] = [];
    const silent = new Set<string>();
    /** A hedge out per node: the re-ping after a miss is answered by it, as the engine does. */
    const hedged = new Map<string, { at: number; timeoutMs: number }>();
    const list: HeartbeatMember[] = ['a', 'b'].map((name) => ({
      name,
      ping: (timeoutMs: number, done: (err?: Error) => void, holdMs: number) => {
        const h = hedged.get(name);
        hedged.delete(name);
        if (holdMs === 0 && h) {
          if (silent.has(name)) setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), Math.max(0, h.at + h.timeoutMs - now()));
          else queueMicrotask(() => done());
          return;
        }
        // Silent or not is decided when the answer is due (the end of the hold).
        const late = name === 'b' && now() >= 2_000 && now() < 4_000 ? 400 : 0;
        setTimeout(() => {
          if (silent.has(name)) setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), timeoutMs);
          else setTimeout(() => done(), late);
        }, holdMs);
      },
      hedge: (timeoutMs: number) => {
        hedges.push({ name, at: now() });
        hedged.set(name, { at: now(), timeoutMs });
      },
      lost: () => events.push(`${now()} lost ${name}`),
      answered: (back: boolean) => void (back && events.push(`${now()} back ${name}`)),
    }));
    vi.setSystemTime(0);
    const hb = new Heartbeat({ intervalMs: 2_000, timeoutMs: 500, misses: 2, now, holdMarginMs: 150 });
    hb.set(list);
    // a goes silent during its second turn's hold (sent at 2 s, held until 3.85 s, miss at 4.35 s).
    await vi.advanceTimersByTimeAsync(2_500);
    silent.add('a');
    await vi.advanceTimersByTimeAsync(3_000);
    hb.stop();
    // Its third turn (4 s) found the held answer late: the hedge, at once; the miss at 4.35 s; the re-ping answered by the hedge's end at 4.5 s.
    expect(hedges.filter((h) => h.name === 'a').map((h) => h.at)).toEqual([4_000]);
    expect(events).toEqual(['4500 lost a']);
    // b's second answer came 400 ms late (4.25 s, within its deadline): hedged at its turn, no miss, no loss.
    expect(hedges.filter((h) => h.name === 'b').map((h) => h.at)).toEqual([5_000]);
    expect(hb.liveness('b')).toMatchObject({ misses: 0, lost: false });
  });

  it('holds each turn open until just before the next one (long polls back to back); re-pings after a miss and pings of a lost node are not held; a late end is followed at once by the owed turn', async () => {
    const asks: { name: string; at: number; holdMs: number }[] = [];
    const events: string[] = [];
    /** Extra delay of each answer past its hold, per node. */
    const late = new Map<string, number>();
    const silent = new Set<string>();
    const list: HeartbeatMember[] = ['a', 'b'].map((name) => ({
      name,
      ping: (timeoutMs: number, done: (err?: Error) => void, holdMs: number) => {
        asks.push({ name, at: now(), holdMs });
        if (silent.has(name)) setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), holdMs + timeoutMs);
        else setTimeout(() => done(), holdMs + (late.get(name) ?? 0));
      },
      lost: () => events.push(`${now()} lost ${name}`),
      answered: (back: boolean) => void (back && events.push(`${now()} back ${name}`)),
    }));
    const hb = new Heartbeat({ intervalMs: 2_000, timeoutMs: 500, misses: 2, now, holdMarginMs: 150 });
    const t0 = now();
    hb.set(list);
    await vi.advanceTimersByTimeAsync(6_100);
    const of = (name: string) => asks.filter((p) => p.name === name).map((p) => ({ at: p.at - t0, holdMs: p.holdMs }));
    // Every turn (2 s apart) held 1,850 ms: ends 150 ms before the next turn.
    expect(of('a')).toEqual([0, 2_000, 4_000, 6_000].map((at) => ({ at, holdMs: 1_850 })));

    // b's ends come 300 ms late, after its next turn: that turn is owed and sent at the end, held until just before the turn after.
    asks.length = 0;
    late.set('b', 300);
    const t1 = now();
    await vi.advanceTimersByTimeAsync(6_000);
    const b = asks.filter((p) => p.name === 'b').map((p) => ({ at: p.at - t1, holdMs: p.holdMs }));
    expect(b.length).toBeGreaterThanOrEqual(2);
    for (const p of b.slice(1)) expect(p.holdMs, `b at ${p.at}`).toBeLessThan(1_850);
    expect(events).toEqual([]);

    // a goes silent: its held turn misses (hold + timeout), the re-ping is not held, the second miss loses it; lost, its turns are plain pings.
    late.delete('b');
    asks.length = 0;
    silent.add('a');
    const t2 = now();
    await vi.advanceTimersByTimeAsync(8_000);
    const a = asks.filter((p) => p.name === 'a');
    expect(events.filter((e) => e.includes('lost a'))).toHaveLength(1);
    const lostAt = Number(events.find((e) => e.includes('lost a'))!.split(' ')[0]);
    expect(lostAt - t2).toBeLessThanOrEqual(2_000 + 1_850 + 500 + 500);
    const afterFirstMiss = a.slice(1);
    expect(afterFirstMiss.length).toBeGreaterThanOrEqual(3);
    for (const p of afterFirstMiss) expect(p.holdMs, `a at ${p.at - t2}`).toBe(0);
    // Back: held turns again.
    silent.delete('a');
    asks.length = 0;
    await vi.advanceTimersByTimeAsync(4_100);
    expect(events.at(-1)).toMatch(/back a$/);
    expect(asks.filter((p) => p.name === 'a').at(-1)?.holdMs).toBe(1_850);
    hb.stop();
  });

  it('a miss counts the silence from the last sign of life the member reports (the start of a held ping), not from the last answer the heartbeat took in', async () => {
    let heard: number | undefined;
    let silent = false;
    const lost: { at: number; since: number; error: string }[] = [];
    const member: HeartbeatMember = {
      name: 'a',
      ping: (timeoutMs, done, holdMs) => {
        if (silent) return void setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), holdMs + timeoutMs);
        // The engine shows it is alive at once (a long poll's headers), answers when the hold ends.
        setTimeout(() => (heard = now()), 5);
        // Silent from then on: the answer never comes.
        setTimeout(() => (silent ? setTimeout(() => done(new Error(`no answer to ping within ${timeoutMs} ms`)), timeoutMs) : done()), holdMs);
      },
      lost: (error, since) => lost.push({ at: now(), since, error }),
      answered: () => undefined,
      heardAt: () => heard,
    };
    const hb = new Heartbeat({ intervalMs: 2_000, timeoutMs: 500, misses: 2, now });
    hb.set([member]);
    await vi.advanceTimersByTimeAsync(4_100); // the third turn's poll is out, its headers in
    const lastStart = heard!;
    silent = true;
    await vi.advanceTimersByTimeAsync(6_000);
    hb.stop();
    expect(lost).toHaveLength(1);
    expect(lost[0]!.since).toBe(lastStart);
    // Lost 2.85 s after that start (hold 1.85 s + 2 deadlines of 0.5 s), silent since it.
    expect(lost[0]!.at - lastStart).toBe(2_845);
    expect(lost[0]!.error).toMatch(/^no answer to ping for 2\.8s \(2 missed in a row/);
  });

  it('a node is pinged again at most one interval after its previous ping, also when the timers drift against the clock', async () => {
    // The heartbeat's clock runs 0.04 % ahead of the timers (as timers fire late
    // under load): over 400 s the ticks drift across a slice of the round.
    const skewed = () => Date.now() * 1.0004;
    const m = members(3);
    const hb = new Heartbeat({ intervalMs: 2_000, timeoutMs: 500, misses: 2, now: skewed });
    hb.set(m.list);
    await vi.advanceTimersByTimeAsync(400_000);
    hb.stop();
    for (const member of m.list) {
      const at = m.pings.filter((p) => p.name === member.name).map((p) => p.at * 1.0004);
      expect(at.length).toBeGreaterThan(150);
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      // The grace period counts from the last answer, so a gap longer than the interval would let replicas move early.
      expect(Math.max(...gaps)).toBeLessThanOrEqual(2_000 * 1.0004 + 10);
    }
  });

  it('k=2 silent pings in a row lose a node within one turn plus 2 deadlines; one answer brings it back', async () => {
    const m = members(10);
    const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 1_000, misses: 2, now });
    hb.set(m.list);
    await vi.advanceTimersByTimeAsync(1_500);
    const t0 = now();
    m.mode.set('n3', 'silent');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(m.events).toHaveLength(1);
    const [at, what] = m.events[0]!.split(' lost ');
    expect(what).toMatch(/^n3: no answer to ping for [23]\.\ds \(2 missed in a row; last: no answer to ping within 1000 ms\)$/);
    expect(Number(at) - t0).toBeGreaterThanOrEqual(2_000);
    expect(Number(at) - t0).toBeLessThanOrEqual(3_000);
    expect(hb.liveness('n3')).toMatchObject({ lost: true, misses: 2 });
    // Lost: pinged at its turn only (once per 1 s interval: at most 4 in 4 s), no re-ping loop.
    const before = m.pings.filter((p) => p.name === 'n3').length;
    await vi.advanceTimersByTimeAsync(4_000);
    expect(m.pings.filter((p) => p.name === 'n3').length - before).toBeLessThanOrEqual(4);
    m.mode.set('n3', 'ok');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(m.events.slice(1).map((e) => e.split(' ').slice(1).join(' '))).toEqual(['back n3']);
    // The others were never lost.
    expect(m.events.filter((e) => !e.includes('n3'))).toEqual([]);
    hb.stop();
  });

  it('a refusing engine is lost at once (k quick misses), then pinged once per interval', async () => {
    const m = members(4);
    const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 1_000, misses: 2, now });
    hb.set(m.list);
    await vi.advanceTimersByTimeAsync(1_200);
    const t0 = now();
    m.mode.set('n0', 'refused');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(m.events).toHaveLength(1);
    expect(Number(m.events[0]!.split(' ')[0]) - t0).toBeLessThanOrEqual(1_000);
    const n0 = () => m.pings.filter((p) => p.name === 'n0').length;
    const before = n0();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(n0() - before).toBe(5);
    hb.stop();
  });

  it('one missed ping is not a loss', async () => {
    const m = members(2);
    const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 1_000, misses: 2, now });
    hb.set(m.list);
    await vi.advanceTimersByTimeAsync(1_100);
    m.mode.set('n1', 'silent');
    // The turn's ping (at 1.5 s) misses at 2.5 s; the re-ping then answers.
    await vi.advanceTimersByTimeAsync(500);
    expect(m.pings.filter((p) => p.name === 'n1')).toHaveLength(2);
    m.mode.set('n1', 'ok');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(m.events).toEqual([]);
    expect(hb.liveness('n1')).toMatchObject({ misses: 0, lost: false });
    hb.stop();
  });
});

describe('through the engine fleet, on hollow engines with the black-hole fault', () => {
  let dir: string;
  let fleet: HollowFleet;
  beforeEach(async () => {
    dir = mkdtempSync('/tmp/hbt-');
    fleet = await startHollowFleet({ count: 3, dir: `${dir}/h`, latencyMs: 5 });
  });
  afterEach(async () => {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function manifests(): FogNode[] {
    return fleet.nodes.map((n) => ({
      kind: 'Node',
      metadata: { name: n.name, labels: n.labels, annotations: {} },
      spec: { endpoint: n.endpoint, insecure: false, address: '127.0.0.1', devices: [], capacity: {}, unschedulable: false },
      source: { file: 'test', line: 1, col: 1 },
    }));
  }

  it('a black-holed node is unreachable within 3 s without waiting for its calls, and reachable again only after a full read', async () => {
    const port = createEngineFleet({
      clock: systemClock,
      logger: rootLogger({ level: 'silent', pretty: false }),
      callTimeoutMs: 5_000,
      cluster: 'hb',
      watchEvents: true,
      heartbeat: { intervalMs: 500, timeoutMs: 500, misses: 2 },
    });
    const changes: { node: string; at: number }[] = [];
    port.onChange((node) => changes.push({ node, at: performance.now() }));
    try {
      port.sync(manifests());
      const first = await port.observe();
      expect(first.nodes.every((n) => n.reachable)).toBe(true);
      const victim = fleet.nodes[1]!.name;
      const list0 = fleet.calls().get('GET /containers/json') ?? 0;
      await fleet.setFault(victim, 'blackhole');
      const t0 = performance.now();
      // A read of the victim is now held by the engine (5 s call timeout): the loss must not wait for it.
      const held = port.observe([victim]);
      const got = await held;
      const lostAfter = performance.now() - t0;
      const v = got.nodes.find((n) => n.name === victim)!;
      expect(v.reachable).toBe(false);
      expect(v.error).toMatch(/^no answer to ping for \d+\.\ds \(2 missed in a row/);
      // Unreachable since it went silent: its last answer, at most one heartbeat turn (0.5 s here) before the fault.
      expect(v.since).toBeGreaterThanOrEqual(t0 - 600);
      expect(v.since).toBeLessThanOrEqual(t0 + lostAfter);
      // Bound: turn (0.5 s) + 2 deadlines (0.5 s each), with slack for a busy machine.
      expect(lostAfter).toBeLessThan(3_000);
      expect(changes.some((c) => c.node === victim && c.at >= t0)).toBe(true);
      expect(got.nodes.filter((n) => n.name !== victim).every((n) => n.reachable)).toBe(true);
      // While lost, observe answers at once from the last state.
      const t1 = performance.now();
      expect((await port.observe([victim])).nodes.find((n) => n.name === victim)!.reachable).toBe(false);
      expect(performance.now() - t1).toBeLessThan(50);

      // Lifted: the node comes back through a full read (a list and the facts), not by the ping alone.
      const infos0 = fleet.calls().get('GET /info') ?? 0;
      changes.length = 0;
      await fleet.setFault(victim, 'up');
      const t2 = performance.now();
      while (!changes.some((c) => c.node === victim) && performance.now() - t2 < 3_000) await new Promise((r) => setTimeout(r, 20));
      expect(changes.some((c) => c.node === victim)).toBe(true);
      const before = port.observe([victim]);
      const back = (await before).nodes.find((n) => n.name === victim)!;
      expect(back.reachable).toBe(true);
      expect(back.error).toBeUndefined();
      expect(fleet.calls().get('GET /info') ?? 0).toBeGreaterThan(infos0);
      expect(fleet.calls().get('GET /containers/json') ?? 0).toBeGreaterThan(list0);
    } finally {
      await port.close();
    }
  });

  it("between two reads, a node's LAST-SEEN follows its heartbeat answers; a silent node's does not move", async () => {
    const clock = systemClock;
    const logger = rootLogger({ level: 'silent', pretty: false });
    const port = createEngineFleet({ clock, logger, callTimeoutMs: 5_000, cluster: 'hb-seen', watchEvents: true, heartbeat: { intervalMs: 300, timeoutMs: 300, misses: 2 } });
    const desired = `${dir}/desired`;
    writeNodeManifests(desired, fleet.nodes);
    // A resync far longer than the test: nothing reads the nodes after the first pass.
    const controller = new Controller({ desiredDir: desired, settings: { ...DEFAULT_SETTINGS, cluster: 'hb-seen' }, fleet: port, clock, logger, resyncMs: 3_600_000 });
    const seen = (name: string) => controller.statusDoc().status.nodes.find((n) => n.name === name)?.lastSeen;
    controller.start();
    try {
      const [quiet, victim] = [fleet.nodes[0]!.name, fleet.nodes[1]!.name];
      const t0 = performance.now();
      while (seen(quiet) === undefined && performance.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
      // Settled: the reads of the start (first pass, event streams connecting) are over once no list came for 600 ms.
      const listCount = () => fleet.calls().get('GET /containers/json') ?? 0;
      for (let last = -1; last !== listCount();) {
        last = listCount();
        await new Promise((r) => setTimeout(r, 600));
      }
      const lists = listCount();
      const read = seen(quiet)!;
      await new Promise((r) => setTimeout(r, 1_200));
      // No read since (the list count stands), yet last seen moved on with the answers: at most one turn (300 ms) old.
      expect(fleet.calls().get('GET /containers/json') ?? 0).toBe(lists);
      expect(seen(quiet)!).toBeGreaterThan(read + 600);
      expect(clock.now() - seen(quiet)!).toBeLessThan(700);
      // A silent node: unreachable, and its last seen stays at its last answer.
      await fleet.setFault(victim, 'blackhole');
      const t1 = performance.now();
      while (controller.statusDoc().status.nodes.find((n) => n.name === victim)?.reachable !== false && performance.now() - t1 < 5_000) await new Promise((r) => setTimeout(r, 20));
      const lost = seen(victim)!;
      expect(lost).toBeLessThanOrEqual(t1);
      await new Promise((r) => setTimeout(r, 700));
      expect(seen(victim)).toBe(lost);
    } finally {
      await controller.stop();
      await port.close();
    }
  });

  it("the engine's hedge: a late poll's second check starts at the next turn, on a fresh connection, and answers the re-ping after the poll's miss; a poll that ends after all drops it", async () => {
    const node = fleet.nodes[0]!;
    const engine = Engine.connect(node.name, { socketPath: node.socket }, { callTimeoutMs: 2_000 });
    const turn = (hold: number, period: number) =>
      new Promise<{ err?: Error; at: number }>((resolve) => engine.heartbeat(500, (err) => resolve({ ...(err ? { err } : {}), at: performance.now() }), hold, period));
    try {
      engine.followEvents(() => undefined);
      await engine.info();
      // Turns 1 s apart, each held until 150 ms before the next.
      expect((await turn(850, 1_000)).err).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1_000));
      const second = turn(850, 1_000);
      await new Promise((r) => setTimeout(r, 100));
      await fleet.setFault(node.name, 'blackhole');
      // The third turn finds the second's poll late: the hedge, now.
      await new Promise((r) => setTimeout(r, 900));
      const hedgedAt = performance.now();
      engine.hedge(500);
      const missed = await second;
      expect(missed.err).toMatchObject({ kind: 'timeout' });
      // The re-ping after the miss is the hedge: it misses 500 ms after the hedge began, not 500 ms after this miss.
      const reping = await turn(0, 0);
      expect(reping.err).toMatchObject({ kind: 'timeout' });
      expect(reping.at - hedgedAt).toBeLessThan(missed.at - hedgedAt + 450);
      expect(reping.at - hedgedAt).toBeGreaterThanOrEqual(490);
      // Lifted: the next ping is answered (on a fresh connection: the hedge's timed out).
      await fleet.setFault(node.name, 'up');
      expect((await turn(0, 0)).err).toBeUndefined();
    } finally {
      engine.close();
    }
  });

  it("an engine clock offset taken from a slow /info (the fleet's start) is corrected by the polls' own ends: the polls end before the next turn again", async () => {
    const node = fleet.nodes[1]!;
    const engine = Engine.connect(node.name, { socketPath: node.socket }, { callTimeoutMs: 3_000 });
    try {
      engine.followEvents(() => undefined);
      // /info answered 800 ms after it was asked: its SystemTime is read as of halfway, ~400 ms off.
      await fleet.setFault(node.name, 'blackhole');
      const info = engine.info();
      await new Promise((r) => setTimeout(r, 800));
      await fleet.setFault(node.name, 'up');
      await info;
      const PERIOD = 1_000;
      const endsAfterNextTurn: number[] = [];
      let turn = Date.now();
      for (let k = 0; k < 9; k++) {
        const hold = Math.max(0, turn + PERIOD - 150 - Date.now());
        const err = await new Promise<Error | undefined>((resolve) => engine.heartbeat(500, resolve, hold, PERIOD));
        expect(err).toBeUndefined();
        endsAfterNextTurn.push(Date.now() - (turn + PERIOD));
        turn += PERIOD;
        await new Promise((r) => setTimeout(r, Math.max(0, turn - Date.now())));
      }
      // The first polls went out on the wrong offset and end after the next turn; the last ones end 150-250 ms before it.
      expect(
        endsAfterNextTurn.slice(-3).every((ms) => ms < -50),
        endsAfterNextTurn.join(', '),
      ).toBe(true);
    } finally {
      engine.close();
    }
  }, 20_000);

  it('a ping on its own line is answered while the pooled connections are held', async () => {
    const node = fleet.nodes[0]!;
    const engine = Engine.connect(node.name, { socketPath: node.socket }, { callTimeoutMs: 2_000 });
    const heartbeat = (timeoutMs: number) => new Promise<void>((resolve, reject) => engine.heartbeat(timeoutMs, (err) => (err ? reject(err) : resolve())));
    try {
      await heartbeat(500);
      await fleet.setFault(node.name, 'blackhole');
      const held = Promise.allSettled([engine.ping(), engine.listContainers(), engine.info(), engine.listImages()]);
      await expect(heartbeat(300)).rejects.toMatchObject({ kind: 'timeout' });
      await fleet.setFault(node.name, 'up');
      // Four pooled calls are still out (their answers were held): the heartbeat does not queue behind them.
      await heartbeat(300);
      await held;
      await fleet.setFault(node.name, 'down');
      await expect(heartbeat(300)).rejects.toMatchObject({ kind: 'connection' });
    } finally {
      engine.close();
    }
  });
});
