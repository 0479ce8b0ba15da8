// Faults 5, 6 and 7a against real engines and a real `fogctl run`: Docker API
// errors (a missing image with no registry, a foreign container holding our
// name, a device gone from the host, a memory limit Docker refuses), a create
// that succeeded on the engine but never reached the controller, a
// crash-looping container, and a restart of the controller over a healthy,
// converged fleet.

import { cpSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { DEFAULT_SETTINGS, type Action } from '../../src/api/types.js';
import { createBody } from '../../src/apply/container-config.js';
import { observeOnce } from '../../src/controller/once.js';
import {
  containersOn,
  loopService,
  recordEngineEvents,
  runFogctl,
  serviceManifest,
  sleep,
  tempDir,
  waitConverged,
  waitFor,
  writeManifest,
  writeNodeManifests,
  type ManagedContainer,
} from '../e2e/harness.js';
import { faultWorld, tally, type FaultWorld } from './support.js';

const CONVERGE_MS = 20_000;
const GONE = '/dev/fog-gone';
const CLUSTER = 'eng';

let w: FaultWorld;
const injected = tally('engine');
const docker = (node: string) => new Docker({ socketPath: w.fleet.node(node).socket });

beforeAll(async () => {
  w = await faultWorld([{ name: 'e1' }, { name: 'e2' }], CLUSTER);
  // e1 claims a device that is not on the host.
  writeNodeManifests(
    w.desired,
    w.nodes().filter((n) => n.name === 'e1'),
    () => ({ devices: [GONE] }),
  );
  writeManifest(w.desired, 'services/steady.yaml', loopService('steady', 2));
  w.start();
});

afterAll(async () => {
  injected.print();
  await w?.cleanup();
});

/** The create actions the controller would plan now for the desired folder (a dry-run pass). */
async function plannedCreates(desiredDir = w.desired): Promise<Extract<Action, { type: 'create' }>[]> {
  const doc = await observeOnce({ desiredDir, settings: { ...DEFAULT_SETTINGS, cluster: CLUSTER, nodeGracePeriod: 3_000 } });
  return doc.lastActions.flatMap((a) => (a.type === 'create' ? [a] : []));
}

const snapshot = async (): Promise<Map<string, { started: string; restarts: number }>> => {
  const out = new Map<string, { started: string; restarts: number }>();
  for (const c of await containersOn(w.nodes())) {
    const info = await docker(c.node).getContainer(c.id).inspect();
    out.set(c.id, { started: info.State.StartedAt, restarts: info.RestartCount });
  }
  return out;
};

describe('engine faults', () => {
  it('a controller restart over a healthy, converged fleet makes no create, start, stop or remove call', async () => {
    await waitConverged(w.ctl, w.nodes(), { steady: 2 }, CONVERGE_MS);
    const before = await snapshot();
    const rec = await recordEngineEvents(w.nodes());
    await w.ctl.stop();
    w.start();
    injected.add('controller restart over a converged fleet');
    // Two full resyncs of the new controller (resync 2 s).
    const doc = await waitFor(
      'the new controller to make several passes',
      async () => {
        const d = await w.ctl.status();
        return d && d.passes >= 3 && d.clock.now - d.startedAt > 4_500 ? d : undefined;
      },
      15_000,
    );
    rec.close();
    expect(doc.lastActions).toEqual([]);
    const calls = rec.events().filter((e) => e.service);
    expect(calls, calls.map((e) => `${e.action} ${e.name}`).join(', ')).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('a create that reached the engine but not the controller is found on the next look, never duplicated', async () => {
    await w.ctl.stop();
    writeManifest(w.desired, 'services/adopt.yaml', loopService('adopt', 2, `  placement:\n    constraints: ["node.name == e2"]\n`));
    const creates = (await plannedCreates()).filter((a) => a.service === 'adopt');
    expect(creates.map((a) => a.slot).sort()).toEqual([0, 1]);
    // What the controller's create call would have made for slot 0, as if its answer was lost.
    const slot0 = creates.find((a) => a.slot === 0)!;
    const made = await docker(slot0.node).createContainer({ name: slot0.container.name, ...createBody(slot0.container) });
    injected.add('create done on the engine, answer lost');
    w.start();
    await waitConverged(w.ctl, w.nodes(), { steady: 2, adopt: 2 }, CONVERGE_MS);
    const adopt = (await containersOn(w.nodes())).filter((c) => c.service === 'adopt');
    expect(adopt.find((c) => c.slot === 0)!.id).toBe(made.id);
    expect(adopt).toHaveLength(2);
  });

  it('Docker API errors each become a failure, an event and a describe line, and the loop goes on', async () => {
    // A foreign container holding the name the controller will use for `conflict`.
    // Planned in a copy of the folder, so the running controller cannot create it before the squatter does.
    const conflict = loopService('conflict', 1, `  placement:\n    constraints: ["node.name == e2"]\n`);
    const staging = tempDir('fog-faults-staging-');
    cpSync(w.desired, staging, { recursive: true });
    writeManifest(staging, 'services/conflict.yaml', conflict);
    const planned = (await plannedCreates(staging)).find((a) => a.service === 'conflict')!;
    rmSync(staging, { recursive: true, force: true });
    const squatter = await docker(planned.node).createContainer({ name: planned.container.name, Image: 'fog/busybox:latest', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
    await squatter.start();
    writeManifest(w.desired, 'services/conflict.yaml', conflict);
    writeManifest(w.desired, 'services/nopull.yaml', serviceManifest('nopull', `  replicas: 1\n`, '127.0.0.1:5999/nope:1'));
    writeManifest(w.desired, 'services/gone-dev.yaml', loopService('gone-dev', 1, `  devices: [${GONE}]\n`));
    writeManifest(w.desired, 'services/tiny.yaml', loopService('tiny', 1, `  resources:\n    memory: 4Mi\n`));
    injected.add('Docker API error (image pull, name conflict, device gone, memory limit refused)', 4);
    const want: Record<string, string> = { nopull: 'image-pull-failed', conflict: 'name-conflict', 'gone-dev': 'device-not-found', tiny: 'bad-parameter' };
    const doc = await waitFor(
      'a failure for each broken service',
      async () => {
        const d = await w.ctl.status();
        // The failure is recorded by the pass that acted; the next pass backs off and says so (a Warning event).
        const seen = (s: string, code: string) =>
          d!.failures.some((f) => f.service === s && f.code === code) && d!.events.some((e) => e.type === 'Warning' && e.reason === 'ActionBackOff' && e.object === `service/${s}`);
        return d && Object.entries(want).every(([s, code]) => seen(s, code)) ? d : undefined;
      },
      CONVERGE_MS,
    );
    for (const [s, code] of Object.entries(want)) {
      expect(
        doc.events.some((e) => e.type === 'Warning' && e.reason === 'ActionBackOff' && e.object === `service/${s}`),
        `event for ${s}`,
      ).toBe(true);
      const d = await runFogctl(['describe', 'service', s, '--server', w.ctl.socket]);
      expect(d.stdout, `describe ${s}`).toMatch(new RegExp(`Failed actions:[\\s\\S]*${code}`));
    }
    // The loop goes on: a good service still converges next to the broken ones.
    writeManifest(w.desired, 'services/fine.yaml', loopService('fine', 2));
    await waitFor(
      'fine to converge next to the failures',
      async () => {
        const s = (await w.ctl.status())?.status.services.find((x) => x.name === 'fine');
        return s && s.ready === 2 && s.upToDate === 2;
      },
      CONVERGE_MS,
    );
    // The squatter is not ours: untouched, still running, never adopted.
    const info = await docker(planned.node).getContainer(squatter.id).inspect();
    expect(info.State.Running).toBe(true);
    expect((await containersOn(w.nodes())).some((c) => c.id === squatter.id)).toBe(false);
    // No duplicates came of the retries: at most one container per slot of each broken service.
    const mine = (await containersOn(w.nodes())).filter((c) => c.service in want);
    const perSlot = new Map<string, ManagedContainer[]>();
    for (const c of mine) perSlot.set(`${c.service}/${c.slot}`, [...(perSlot.get(`${c.service}/${c.slot}`) ?? []), c]);
    expect([...perSlot.values()].filter((l) => l.length > 1)).toEqual([]);
    for (const f of ['conflict', 'nopull', 'gone-dev', 'tiny']) writeManifest(w.desired, `services/${f}.yaml`, '# removed\n');
    await docker(planned.node).getContainer(squatter.id).remove({ force: true });
  });

  it('a crash-looping container: growing gaps between restarts, CrashLoop in status, and a quiet controller', async () => {
    const rec = await recordEngineEvents(w.nodes());
    writeManifest(w.desired, 'services/crash.yaml', serviceManifest('crash', `  replicas: 1\n  command: ["sh", "-c", "exit 1"]\n  restart: always\n`));
    injected.add('crash-looping container');
    await waitFor('the crash loop to start', async () => rec.events().some((e) => e.service === 'crash' && e.action === 'die'), CONVERGE_MS, 100);
    // A resource bound to catch a hot loop: CPU of the controller process over 10 s, well under 20 % of one core.
    const pid = w.ctl.proc.pid!;
    const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const ticks = () => {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
    };
    const t0 = ticks();
    const w0 = Date.now();
    await sleep(10_000);
    const cpu = (ticks() - t0) / hz / ((Date.now() - w0) / 1_000);
    rec.close();
    console.log(`[faults] engine: controller CPU during the crash loop ${(cpu * 100).toFixed(1)}% of one core`);
    expect(cpu).toBeLessThan(0.2);

    const starts = rec
      .events()
      .filter((e) => e.service === 'crash' && e.action === 'start')
      .map((e) => e.at);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    console.log(`[faults] engine: crash loop start gaps (ms): ${gaps.join(', ')}`);
    expect(starts.length).toBeGreaterThanOrEqual(5);
    // Back-off grows: Docker's own (100 ms doubling) under the controller's (1 s doubling, from the finish time).
    // Each gap is that wait plus a start, which takes 2 s and more on a loaded machine; the start cancels out of
    // a difference: by the 4th gap the wait alone is 700 ms longer than the first one's.
    expect(gaps.at(-1)! - gaps[0]!, `gaps ${gaps.join(', ')}`).toBeGreaterThan(500);
    for (let i = 2; i < gaps.length; i++) expect(gaps[i]!, `gap ${i} of ${gaps.join(', ')}`).toBeGreaterThanOrEqual(0.8 * gaps[i - 1]!);
    const doc = await w.ctl.status();
    const s = doc!.status.services.find((x) => x.name === 'crash')!;
    expect(s.conditions.find((c) => c.type === 'CrashLoop')?.status).toBe(true);
    expect(s.replicas[0]!.restarts).toBeGreaterThanOrEqual(3);
    const d = await runFogctl(['describe', 'service', 'crash', '--server', w.ctl.socket]);
    expect(d.stdout).toMatch(/CrashLoop/);
    // Exactly one container for the slot throughout.
    expect(
      new Set(
        rec
          .events()
          .filter((e) => e.service === 'crash' && e.action === 'create')
          .map((e) => e.id),
      ).size,
    ).toBe(1);
  });
});
