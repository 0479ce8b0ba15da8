// Shared by the fault tests: a seeded random source (print the seed, replay
// with FOG_FAULT_SEED), a fleet with a desired folder and a controller that
// can be killed and started again, and a tally of the faults injected.

import { rmSync } from 'node:fs';
import { startFleet, type Fleet, type FleetNodeSpec } from '../support/fleet.js';
import { startController, tempDir, writeNodeManifests, type RunningController } from '../e2e/harness.js';

export interface Random {
  seed: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(label: string): Random {
  const fromEnv = Number(process.env.FOG_FAULT_SEED);
  const seed = Number.isInteger(fromEnv) && process.env.FOG_FAULT_SEED ? fromEnv : Math.floor(Math.random() * 2 ** 31);
  console.log(`[faults] ${label}: seed ${seed} (replay with FOG_FAULT_SEED=${seed})`);
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** Faults injected, by kind: printed at the end of each file, for docs/reliability.md. */
export function tally(file: string) {
  const counts = new Map<string, number>();
  return {
    add(kind: string, n = 1) {
      counts.set(kind, (counts.get(kind) ?? 0) + n);
    },
    print() {
      for (const [k, n] of counts) console.log(`[faults] ${file}: ${k} injected ${n}×`);
    },
  };
}

export interface FaultWorld {
  fleet: Fleet;
  desired: string;
  state: string;
  nodes(): { name: string; socket: string }[];
  others(name: string): { name: string; socket: string }[];
  /** The running controller (after `start`). */
  ctl: RunningController;
  /** Starts a controller on the world's folder (the previous one must be stopped or killed). */
  start(opts?: { grace?: string; resync?: string; extra?: string[] }): RunningController;
  cleanup(): Promise<void>;
}

export const SHORT = { grace: '3s', resync: '2s' } as const;

/** A fleet of real engines, a desired folder naming them, a state folder; nothing running yet. */
export async function faultWorld(specs: readonly FleetNodeSpec[], cluster: string): Promise<FaultWorld> {
  const fleet = await startFleet(specs);
  const desired = tempDir('fog-faults-desired-');
  const state = tempDir('fog-faults-state-');
  const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
  writeNodeManifests(desired, nodes(), (name) => {
    const s = specs.find((x) => x.name === name);
    return { labels: { ...(s?.labels ?? {}) }, devices: [...(s?.devices ?? [])] };
  });
  let ctl: RunningController | undefined;
  const world: FaultWorld = {
    fleet,
    desired,
    state,
    nodes,
    others: (name) => nodes().filter((n) => n.name !== name),
    get ctl() {
      if (!ctl) throw new Error('no controller started');
      return ctl;
    },
    start(opts = {}) {
      ctl = startController({ desired, stateDir: state, cluster, grace: opts.grace ?? SHORT.grace, resync: opts.resync ?? SHORT.resync, extra: opts.extra });
      return ctl;
    },
    async cleanup() {
      await ctl?.stop();
      await fleet.stop();
      for (const d of [desired, state]) rmSync(d, { recursive: true, force: true });
    },
  };
  return world;
}
