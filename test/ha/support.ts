// Shared by the etcd failover tests: controllers with leader election on a
// fleet of real engines, and the checks on what they did: each action's
// window and lease revision from the controllers' own logs, and the
// engines' create events with the revision label.

import { rmSync } from 'node:fs';
import { expect } from 'vitest';
import { recordEngineEvents, startController, waitFor, tempDir, writeNodeManifests, type EngineEventRecord, type EventRecorder, type RunningController } from '../e2e/harness.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { startEtcd, type Etcd } from '../support/etcd.js';

/** Short lease for tests (etcd's TTLs are whole seconds, 2 s at least); the margin lease - renew deadline is 1 s. */
export const HA_TIMING = ['--ha-lease', '3s', '--ha-renew-deadline', '2s', '--ha-retry-period', '500ms'];

export interface HaController extends RunningController {
  name: string;
  desired: string;
  state: string;
  extra: string[];
}

/** A `fogctl run --ha-etcd` on the shared desired folder, with its own state dir (one per gateway). */
export function haController(name: string, desired: string, etcdUrls: string, dirs: string[], extra: string[] = []): HaController {
  const state = tempDir(`fog-ha-${name}-state-`);
  dirs.push(state);
  return launch(name, desired, state, ['--ha-etcd', etcdUrls, ...HA_TIMING, ...extra]);
}

/** Starts the same controller again (after a kill), as a new process on the same state dir. */
export function restart(c: HaController): HaController {
  return launch(c.name, c.desired, c.state, c.extra);
}

function launch(name: string, desired: string, state: string, extra: string[]): HaController {
  const c = startController({ desired, stateDir: state, cluster: 'ha', grace: '4s', extra });
  return Object.assign(c, { name, desired, state, extra });
}

export async function role(c: RunningController): Promise<'leader' | 'standby' | undefined> {
  const d = await c.status();
  return d?.control?.election?.role;
}

export interface ActionLine {
  controller: string;
  pid: number;
  msg: string;
  startedAt: number;
  time: number;
  leaseRev?: number;
}

/** The executor's successful actions of a controller process, from its JSON log. */
export function actionsOf(c: HaController): ActionLine[] {
  const out: ActionLine[] = [];
  for (const l of c.logs().split('\n')) {
    let j: { component?: string; action?: string; msg?: string; startedAt?: number; time?: number; leaseRev?: number; level?: number };
    try {
      j = JSON.parse(l) as typeof j;
    } catch {
      continue;
    }
    if (j.component !== 'executor' || j.action === undefined || j.level !== 30 || j.startedAt === undefined) continue;
    out.push({ controller: c.name, pid: c.proc.pid!, msg: j.msg ?? '', startedAt: j.startedAt, time: j.time ?? j.startedAt, ...(j.leaseRev !== undefined ? { leaseRev: j.leaseRev } : {}) });
  }
  return out;
}

export interface Window {
  rev: number;
  pid: number;
  start: number;
  end: number;
  actions: number;
}

/**
 * Every action carries its lease revision; the actions of one revision come
 * from one process; ordered by revision, each revision's window (first
 * action's start .. last action's end) ends before the next one's begins:
 * no two leaders acted in overlapping windows.
 */
export function checkNoOverlap(ctls: readonly HaController[]): Window[] {
  const all = ctls.flatMap(actionsOf);
  for (const a of all) expect(a.leaseRev, `${a.controller} (pid ${a.pid}) acted without a lease revision: ${a.msg}`).toBeTypeOf('number');
  const byRev = new Map<number, Window>();
  for (const a of all) {
    const w = byRev.get(a.leaseRev!);
    if (!w) byRev.set(a.leaseRev!, { rev: a.leaseRev!, pid: a.pid, start: a.startedAt, end: a.time, actions: 1 });
    else {
      expect(a.pid, `revision ${a.leaseRev} used by two processes`).toBe(w.pid);
      w.start = Math.min(w.start, a.startedAt);
      w.end = Math.max(w.end, a.time);
      w.actions++;
    }
  }
  const windows = [...byRev.values()].sort((a, b) => a.rev - b.rev);
  for (let i = 1; i < windows.length; i++) {
    const prev = windows[i - 1]!;
    const next = windows[i]!;
    expect(prev.end, `leader of revision ${prev.rev} (pid ${prev.pid}) acted until ${prev.end}, after the leader of revision ${next.rev} (pid ${next.pid}) began at ${next.start}`).toBeLessThanOrEqual(
      next.start,
    );
  }
  return windows;
}

/** On the engines: creates carry a lease revision, and in the engines' own time order the revisions never go back. */
export function checkEngineOrder(events: readonly EngineEventRecord[]): number[] {
  const creates = events.filter((e) => e.action === 'create' && e.labels?.['fog.cluster'] === 'ha').sort((a, b) => (a.engineTime ?? a.at) - (b.engineTime ?? b.at));
  const revs = creates.map((e) => Number(e.labels?.['fog.lease-rev']));
  for (const [i, r] of revs.entries()) {
    expect(Number.isInteger(r), `create ${creates[i]!.name} carries no fog.lease-rev`).toBe(true);
    if (i > 0) expect(r, `create ${creates[i]!.name} (revision ${r}) after a create of revision ${revs[i - 1]}`).toBeGreaterThanOrEqual(revs[i - 1]!);
  }
  return revs;
}

export interface HaWorld {
  fleet: Fleet;
  etcd: Etcd;
  recorder: EventRecorder;
  /** The desired folder every controller shares (two gateways on one GitOps checkout). */
  desired: string;
  dirs: string[];
  /** Every controller process started (killed ones too: their logs count). */
  all: HaController[];
  nodes(): { name: string; socket: string }[];
  cleanup(): Promise<void>;
}

/** Real engines, real etcd members, the engines' event recorder and a desired folder naming the engines. */
export async function haWorld(nodeNames: readonly string[], etcdSize: 1 | 3): Promise<HaWorld> {
  const fleet = await startFleet(nodeNames.map((name) => ({ name })));
  const etcd = await startEtcd(etcdSize).catch(async (err: unknown) => {
    await fleet.stop();
    throw err;
  });
  const recorder = await recordEngineEvents(fleet.nodes);
  const desired = tempDir('fog-ha-desired-');
  const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
  writeNodeManifests(desired, nodes());
  const w: HaWorld = {
    fleet,
    etcd,
    recorder,
    desired,
    dirs: [desired],
    all: [],
    nodes,
    async cleanup() {
      recorder.close();
      for (const m of etcd.members) m.thaw();
      for (const c of w.all) await c.kill();
      await etcd.stop();
      await fleet.stop();
      for (const d of w.dirs) rmSync(d, { recursive: true, force: true });
    },
  };
  return w;
}

/** Writes nothing: waits until the engines report a create of `service` after the `since`-th recorded event (a rollout under way). */
export async function waitForCreate(w: HaWorld, service: string, since: number): Promise<void> {
  await waitFor(
    `a create of ${service}`,
    async () =>
      w.recorder
        .events()
        .slice(since)
        .some((e) => e.action === 'create' && e.service === service),
    20_000,
    20,
  );
}
