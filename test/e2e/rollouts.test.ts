// Safe rollouts end to end, on two real dockerd nodes: a revision whose
// healthcheck never passes rolls back to the last good one with the line
// never empty (the engines asked directly every 100 ms); `rollout status`
// exits 1 and `rollout history` shows both; a following good commit rolls
// forward; undo and pause/resume hold across a controller restart; a window
// in the future holds a changed spec while a crash restart still happens.

import { rmSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.js';
import { containersOn, LOOP_COMMAND, runFogctl, serviceManifest, sleep, startController, tempDir, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
const GOOD = `["CMD", "true"]`;
const BAD = `["CMD", "false"]`;

/** The `press` service at a version: 3 replicas, a healthcheck, monitored 2 s; `update` adds update lines. */
function press(version: number, check = GOOD, update = ''): string {
  return serviceManifest(
    'press',
    `  replicas: 3\n  command: ${LOOP_COMMAND}\n  env:\n    VERSION: "${version}"\n  healthcheck:\n    test: ${check}\n    interval: 1s\n    timeout: 1s\n    retries: 1\n  update:\n    monitor: 2s\n${update}`,
  );
}

async function pressContainers() {
  return (await containersOn(nodes())).filter((c) => c.service === 'press');
}

async function rollout(phase: string, revision?: number) {
  return waitFor(
    `press's rollout to be ${phase}${revision !== undefined ? ` on revision ${revision}` : ''}`,
    async () => {
      const d = await ctl.status();
      const s = d?.status.services.find((x) => x.name === 'press');
      return s?.rollout?.phase === phase && (revision === undefined || s.rollout.revision === revision) && s.ready === 3 && s.upToDate === 3 ? d : undefined;
    },
    60_000,
    200,
  );
}

beforeAll(async () => {
  fleet = await startFleet([{ name: 'press-a' }, { name: 'press-b' }]);
  desired = tempDir('fog-roll-desired-');
  state = tempDir('fog-roll-state-');
  writeNodeManifests(desired, nodes());
  ctl = startController({ desired, stateDir: state, grace: '4s', resync: '2s' });
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('safe rollouts on real engines', () => {
  it('rolls a revision whose healthcheck never passes back to the last good one, never leaving the line empty', async () => {
    writeManifest(desired, 'services/press.yaml', press(1));
    await rollout('Complete', 1);
    const v1 = new Set((await pressContainers()).map((c) => c.hash));
    expect(v1.size).toBe(1);
    const [goodHash] = [...v1];

    writeManifest(desired, 'services/press.yaml', press(2, BAD));
    // The line: every 100 ms, ask the engines how many v1 replicas run, until the rollback is over.
    let minGood = Number.POSITIVE_INFINITY;
    let sawV2 = false;
    await waitFor(
      'the rollback to v1',
      async () => {
        const all = await pressContainers();
        const good = all.filter((c) => c.hash === goodHash && c.state === 'running').length;
        minGood = Math.min(minGood, good);
        if (all.some((c) => c.hash !== goodHash)) sawV2 = true;
        const d = await ctl.status();
        const s = d?.status.services.find((x) => x.name === 'press');
        return sawV2 && s?.rollout?.phase === 'RolledBack' && all.length === 3 && good === 3;
      },
      60_000,
      100,
    );
    expect(sawV2).toBe(true);
    // stop-first, parallelism 1: never more than one replica of the line down.
    expect(minGood).toBeGreaterThanOrEqual(2);

    const status = await runFogctl(['rollout', 'status', 'press', '--server', ctl.socket, '--timeout', '10s']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/rolled back to revision 1: revision 2 \(\w+\) failed \(1 new replica\(s\) failed \(slot \d on press-[ab] unhealthy/);
    const history = await runFogctl(['rollout', 'history', 'press', '--server', ctl.socket]);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/\n1\*\s+\S+ \S+\s+\w{16}\s+fog\/busybox:latest\s+\S*services\/press.yaml:\d+\s+complete/);
    expect(history.stdout).toMatch(/\n2\s+\S+ \S+\s+\w{16}\s+fog\/busybox:latest\s+\S*services\/press.yaml:\d+\s+failed: 1 new replica\(s\) failed/);
    const got = await runFogctl(['get', 'services', '--server', ctl.socket]);
    expect(got.stdout).toMatch(/press\s+replicated\s+3\/3\s+3\s+3\s+RolledBack/);
    const described = await runFogctl(['describe', 'service', 'press', '--server', ctl.socket]);
    expect(described.stdout).toMatch(/Rollout\s+true\s+RolledBack/);

    // The failed revision stays in the manifest: nothing of it is made again.
    await sleep(3_000);
    expect((await pressContainers()).filter((c) => c.hash !== goodHash)).toEqual([]);
  }, 150_000);

  it('rolls a following good commit forward; rollout status waits for it and exits 0', async () => {
    writeManifest(desired, 'services/press.yaml', press(3));
    const status = await runFogctl(['rollout', 'status', 'press', '--server', ctl.socket, '--timeout', '60s']);
    expect(status.stdout).toMatch(/rollout of revision 3 in progress: \d\/3 updated/);
    expect(status.stdout).toMatch(/service "press" successfully rolled out \(revision 3\)/);
    expect(status.code).toBe(0);
    expect(new Set((await pressContainers()).map((c) => c.hash)).size).toBe(1);
  }, 90_000);

  it('undo pins the previous revision across a controller restart; pause holds a rollout across one, resume lets it finish', async () => {
    const undo = await runFogctl(['rollout', 'undo', 'press', '--server', ctl.socket]);
    expect(undo).toMatchObject({ code: 0, stdout: 'service/press rolled back to revision 1 (pinned until the manifest changes)\n' });
    const doc = await rollout('Complete', 1);
    const v1 = doc.rollouts!.press!.revisions.find((r) => r.revision === 1)!.hash;
    await ctl.stop();
    ctl = startController({ desired, stateDir: state, grace: '4s', resync: '2s' });
    await sleep(4_000);
    const after = await rollout('Complete', 1);
    expect(after.status.services.find((s) => s.name === 'press')?.rollout?.pinned).toBe(1);
    expect(new Set((await pressContainers()).map((c) => c.hash))).toEqual(new Set([v1]));

    // The next commit rolls forward; paused after its first batch, it stays paused across a restart.
    writeManifest(desired, 'services/press.yaml', press(4));
    await waitFor('revision 4 to start', async () => (await ctl.status())?.rollouts?.press?.manifestRevision === 4, 20_000, 100);
    const pause = await runFogctl(['rollout', 'pause', 'press', '--server', ctl.socket]);
    expect(pause).toMatchObject({ code: 0, stdout: 'service/press paused\n' });
    await ctl.stop();
    ctl = startController({ desired, stateDir: state, grace: '4s', resync: '2s' });
    await waitFor('the restarted controller', async () => (await ctl.status())?.rollouts?.press?.paused === true, 60_000);
    const held = (await pressContainers()).map((c) => c.id).sort();
    await sleep(5_000);
    expect((await pressContainers()).map((c) => c.id).sort()).toEqual(held);
    expect((await runFogctl(['get', 'services', '--server', ctl.socket])).stdout).toMatch(/press\s+.*RolloutPaused/);
    const resume = await runFogctl(['rollout', 'resume', 'press', '--server', ctl.socket]);
    expect(resume.code).toBe(0);
    await rollout('Complete', 4);
    const events = (await ctl.status())!.events.map((e) => e.reason);
    // Events live in the controller's memory: this one saw the resume and the completion (the pause was the previous one's).
    expect(events).toEqual(expect.arrayContaining(['RolloutResumed', 'RevisionComplete']));
  }, 150_000);

  it('holds a changed spec until its maintenance window opens, while a crashed replica is still restarted', async () => {
    // A window two hours from now (UTC), one hour long: closed for the whole test.
    const at = new Date(Date.now() + 2 * 3_600_000);
    const hh = String(at.getUTCHours()).padStart(2, '0');
    const until = String((at.getUTCHours() + 1) % 24).padStart(2, '0');
    const before = await pressContainers();
    writeManifest(desired, 'services/press.yaml', press(5, GOOD, `    windows: ["Daily ${hh}:00-${until}:00 UTC"]\n`));
    const doc = await waitFor('WaitingForWindow', async () => {
      const d = await ctl.status();
      return d?.status.services.find((s) => s.name === 'press')?.rollout?.phase === 'Pending' ? d : undefined;
    });
    const cond = doc.status.services.find((s) => s.name === 'press')!.conditions.find((c) => c.type === 'Rollout')!;
    expect(cond.reason).toBe('WaitingForWindow');
    expect(cond.message).toMatch(new RegExp(`revision 5 waits for a maintenance window \\(Daily ${hh}:00-${until}:00 UTC\\): opens \\d{4}-\\d\\d-\\d\\d ${hh}:00 UTC`));
    // The held revision leaves the running replicas alone: all three up to date and ready. Ready is waited
    // for, not read once: a 1 s healthcheck on a loaded 2-core CI host can time out once and mark a
    // replica unhealthy for a second (CI saw 2/3 here), which is the engine's doing, not the hold's.
    await waitFor(
      'get services to show 3/3 ready, held for the window',
      async () => {
        const out = (await runFogctl(['get', 'services', '--server', ctl.socket])).stdout;
        return /press\s+replicated\s+3\/3\s+3\s+3\s+WaitingForWindow/.test(out) ? out : undefined;
      },
      20_000,
      500,
    );
    expect((await pressContainers()).map((c) => c.id).sort()).toEqual(before.map((c) => c.id).sort());

    // plan says the same (reading the controller's rollout book, never writing it).
    const plan = await runFogctl(['plan', '--desired', desired, '--state-dir', state, '--cluster', 'e2e']);
    expect(plan.stdout).toMatch(/Held rollouts:\n {2}service\/press: WaitingForWindow: revision 5 waits for a maintenance window/);

    // A replica is killed from outside: it is started again, on the running revision.
    const victim = before[0]!;
    const engine = new Docker({ socketPath: fleet.nodes.find((n) => n.name === victim.node)!.socket });
    await engine.getContainer(victim.id).kill();
    await waitFor('the killed replica to run again', async () => (await pressContainers()).find((c) => c.id === victim.id)?.state === 'running', 30_000);
    await sleep(2_000);
    const now = await pressContainers();
    expect(now.map((c) => c.id).sort()).toEqual(before.map((c) => c.id).sort());
    expect(new Set(now.map((c) => c.hash))).toEqual(new Set(before.map((c) => c.hash)));
  }, 90_000);
});
