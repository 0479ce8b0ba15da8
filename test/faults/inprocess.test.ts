// Faults 8, 9 and 10, with the Controller in this process (the very code
// `fogctl run` uses) so its clock and its event source can be tampered with,
// against a real engine: a wall clock jumping an hour either way, an event
// stream that delivers nothing, and a manifest caught half-written. Also one
// bad file among a hundred good ones, on a dry-run fleet.

import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import Docker from 'dockerode';
import { DEFAULT_SETTINGS } from '../../src/api/types.js';
import { systemClock } from '../../src/runtime/clock.js';
import { Controller } from '../../src/controller/controller.js';
import { createEngineFleet } from '../../src/controller/engine-fleet.js';
import type { FleetPort } from '../../src/controller/fleet.js';
import { containersOn, loopService, recordEngineEvents, sleep, tempDir, waitConverged, writeManifest, writeNodeManifests } from '../e2e/harness.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { tally } from './support.js';

const CONVERGE_MS = 20_000;
const HOUR = 3_600_000;

let fleet: Fleet;
const dirs: string[] = [];
const injected = tally('in-process');
const logger = pino({ level: 'silent' });
const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));

beforeAll(async () => {
  fleet = await startFleet([{ name: 'p1' }]);
});

afterAll(async () => {
  injected.print();
  await fleet?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A Controller in this process on its own desired folder and cluster; `status()` as the harness's RunningController has it. */
function inProcess(cluster: string, opts: { watchEvents?: boolean; resyncMs?: number; fleetPort?: FleetPort } = {}) {
  const desired = tempDir(`fog-faults-${cluster}-`);
  dirs.push(desired);
  writeNodeManifests(desired, nodes());
  const clock = systemClock;
  const fleetPort = opts.fleetPort ?? createEngineFleet({ clock, logger, callTimeoutMs: 2_000, cluster, watchEvents: opts.watchEvents ?? true });
  const controller = new Controller({ desiredDir: desired, settings: { ...DEFAULT_SETTINGS, cluster, nodeGracePeriod: 3_000 }, fleet: fleetPort, clock, logger, resyncMs: opts.resyncMs ?? 2_000 });
  return { desired, controller, status: async () => controller.statusDoc() };
}

const mine = async (cluster: string) => (await containersOn(nodes())).filter((c) => c.labels['fog.cluster'] === cluster);

describe('controller in process, real engine', () => {
  it('a wall clock jumping an hour ahead and back causes no restart, eviction or replacement', async () => {
    let jump = 0;
    // systemClock: now() is performance.now(), wall() is Date.now(), which jumps below.
    const c = inProcess('wall');
    writeManifest(c.desired, 'services/w.yaml', loopService('w', 2));
    c.controller.start();
    try {
      await waitConverged(c, nodes(), { w: 2 }, CONVERGE_MS);
      const before = await mine('wall');
      const rec = await recordEngineEvents(nodes());
      // The whole process's wall clock jumps (Date.now), the monotonic clock does not.
      const realNow = Date.now.bind(Date);
      const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + jump);
      try {
        for (const j of [HOUR, -HOUR]) {
          jump = j;
          injected.add('wall-clock jump of an hour');
          await sleep(5_000); // two full resyncs and more
          expect(c.controller.statusDoc().clock.wall - realNow()).toBeCloseTo(j, -3);
        }
      } finally {
        spy.mockRestore();
        rec.close();
      }
      const touched = rec.events().filter((e) => e.service);
      expect(touched.map((e) => `${e.action} ${e.name}`)).toEqual([]);
      expect((await mine('wall')).map((x) => x.id)).toEqual(before.map((x) => x.id));
      const doc = c.controller.statusDoc();
      expect(doc.status.nodes.every((n) => n.reachable)).toBe(true);
      expect(doc.status.services.find((s) => s.name === 'w')!.replicas.every((r) => r.restarts === 0)).toBe(true);
    } finally {
      await c.controller.stop();
    }
  });

  it('with no engine events at all, a dead replica is back within the resync interval plus back-off', async () => {
    const RESYNC = 3_000;
    // The event stream never delivers: the resync is the only way to notice.
    const c = inProcess('drop', { watchEvents: false, resyncMs: RESYNC });
    writeManifest(c.desired, 'services/d.yaml', loopService('d', 2));
    c.controller.start();
    try {
      await waitConverged(c, nodes(), { d: 2 }, CONVERGE_MS);
      const [a, b] = await mine('drop');
      const engine = new Docker({ socketPath: fleet.node('p1').socket });
      const t0 = Date.now();
      await engine.getContainer(a!.id).stop({ t: 5 }); // exited; Docker will not restart a container stopped by hand
      await engine.getContainer(b!.id).remove({ force: true }); // gone
      injected.add('replica stopped or removed with the event stream silent', 2);
      // Resync 3 s + the controller's first restart back-off 1 s + 2 s margin (a liveness bound).
      await waitConverged(c, nodes(), { d: 2 }, RESYNC + 1_000 + 2_000);
      console.log(`[faults] in-process: back ${Date.now() - t0} ms after the kill with no events`);
      const after = await mine('drop');
      expect(after.find((x) => x.slot === a!.slot)!.id).toBe(a!.id); // restarted in place
    } finally {
      await c.controller.stop();
    }
  });

  it('a manifest caught half-written removes nothing; left truncated, the rest goes after the confirmation delay', async () => {
    const c = inProcess('trunc');
    const docs = ['t-a', 't-b', 't-c'].map((n) => loopService(n, 1));
    const file = join(c.desired, 'services/line.yaml');
    writeManifest(c.desired, 'services/line.yaml', docs.join('---\n'));
    c.controller.start();
    try {
      await waitConverged(c, nodes(), { 't-a': 1, 't-b': 1, 't-c': 1 }, CONVERGE_MS);
      const before = (await mine('trunc')).map((x) => x.id);
      const rec = await recordEngineEvents(nodes());
      for (let i = 0; i < 3; i++) {
        // Truncated mid-save after the first document (still valid YAML), completed 200 ms later.
        writeFileSync(file, docs[0]!);
        await sleep(200);
        writeFileSync(file, docs.join('---\n'));
        await sleep(800);
        injected.add('manifest truncated mid-save for 200 ms');
      }
      await sleep(1_500);
      rec.close();
      expect(
        rec
          .events()
          .filter((e) => e.service)
          .map((e) => `${e.action} ${e.name}`),
      ).toEqual([]);
      expect((await mine('trunc')).map((x) => x.id)).toEqual(before);
      // The same truncation left in place is a deletion, once confirmed.
      writeFileSync(file, docs[0]!);
      await waitConverged(c, nodes(), { 't-a': 1 }, CONVERGE_MS);
    } finally {
      await c.controller.stop();
    }
  });
});

describe('controller in process, dry-run fleet', () => {
  it('one bad file among a hundred good ones leaves the other ninety-nine in force', async () => {
    const dryFleet: FleetPort = { sync: () => undefined, observe: async () => ({ nodes: [] }), execute: async () => [], onChange: () => undefined, close: async () => undefined };
    const c = inProcess('hundred', { fleetPort: dryFleet });
    for (let i = 0; i < 100; i++) writeManifest(c.desired, `services/s${i}.yaml`, i === 42 ? loopService('s42', 1).replace('replicas: 1', 'replicas: -1') : loopService(`s${i}`, 1));
    injected.add('bad manifest among 100');
    const doc = await c.controller.passOnce();
    await c.controller.stop();
    expect(doc.desired.errors.map((e) => e.file)).toEqual([join(c.desired, 'services/s42.yaml')]);
    expect(Object.keys(doc.specs ?? {})).toHaveLength(99);
    expect(doc.specs?.['s42']).toBeUndefined();
    expect(doc.status.services.map((s) => s.name)).toHaveLength(99);
  });
});
