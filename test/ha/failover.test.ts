// Leader election on a real etcd (Debian's etcd-server, one member) with two
// controllers on real engines (issue 14). Checked on what happened, never on
// speed: each action's lease revision and window from the controllers'
// logs (no two leaders acted in overlapping windows), the revisions of the
// engines' create events in the engines' time order, and the controller-kill
// checks (one running container per slot with the current spec, no orphan).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containersOn, loopService, runFogctl, sleep, waitConverged, waitFor, writeManifest } from '../e2e/harness.js';
import { checkEngineOrder, checkNoOverlap, haController, haWorld, waitForCreate, restart, role, type HaController, type HaWorld } from './support.js';

let w: HaWorld;
/** The current process of each of the two gateways. */
const gw: Record<'a' | 'b', HaController | undefined> = { a: undefined, b: undefined };

beforeAll(async () => {
  w = await haWorld(['ha1', 'ha2'], 1);
}, 180_000);

afterAll(async () => {
  await w?.cleanup();
}, 120_000);

function start(which: 'a' | 'b'): HaController {
  const prev = gw[which];
  const c = prev ? restart(prev) : haController(which, w.desired, w.etcd.urls, w.dirs);
  gw[which] = c;
  w.all.push(c);
  return c;
}

async function leaderOf(): Promise<{ leader: HaController; standby: HaController }> {
  return waitFor(
    'one leader and one standby',
    async () => {
      const [ra, rb] = [await role(gw.a!), await role(gw.b!)];
      if (ra === 'leader' && rb === 'standby') return { leader: gw.a!, standby: gw.b! };
      if (rb === 'leader' && ra === 'standby') return { leader: gw.b!, standby: gw.a! };
      return undefined;
    },
    30_000,
    100,
  );
}

const version = (v: number, replicas = 3) => writeManifest(w.desired, 'services/roll.yaml', loopService('roll', replicas, `  env:\n    VERSION: "${v}"\n`));

describe('leader election on etcd, two controllers', () => {
  it('one leads and acts, the other stands by, observes and serves read-only status naming the leader', async () => {
    start('a');
    await waitFor('a to lead', async () => (await role(gw.a!)) === 'leader', 30_000, 100);
    start('b');
    const { leader, standby } = await leaderOf();
    version(1);
    await waitConverged(leader, w.nodes(), { roll: 3 }, 30_000);
    // The standby observes the same fleet: it sees the replicas running.
    await waitFor('the standby to see them', async () => (await standby.status())?.status.services.find((s) => s.name === 'roll')?.ready === 3, 20_000);
    const doc = (await standby.status())!;
    expect(doc.control?.state).toBe('standby');
    expect(doc.control?.election?.leader?.identity).toBe((await leader.status())!.control!.identity);
    const get = await runFogctl(['get', 'nodes', '--server', standby.socket]);
    expect(get.stdout.split('\n')[0]).toMatch(/^Controller: STANDBY .* read-only; leader: .+, lease revision \d+/);
    const getLeader = await runFogctl(['get', 'services', '--server', leader.socket]);
    expect(getLeader.stdout.split('\n')[0]).toMatch(/^Controller: LEADER .*\(lease revision \d+/);
    expect(actionsOfStandby(standby)).toEqual([]);
  });

  it('SIGKILL of the leader mid-rollout: the standby takes over and finishes it, no duplicate, no orphan, no overlap', async () => {
    const { leader, standby } = await leaderOf();
    const before = w.recorder.events().length;
    version(2);
    // The rollout is under way: its first new container exists.
    await waitForCreate(w, 'roll', before);
    await leader.kill();
    await waitFor('the standby to lead', async () => (await role(standby)) === 'leader', 30_000, 100);
    await waitConverged(standby, w.nodes(), { roll: 3 }, 30_000);
    const windows = checkNoOverlap(w.all);
    expect(windows.length).toBeGreaterThanOrEqual(2);
    checkEngineOrder(w.recorder.events());
  });

  it('a flapping leader (kill, restart, kill, restart, kill): never two acting at once, and the fleet converges', async () => {
    for (const c of [gw.a!, gw.b!]) if (c.proc.exitCode !== null || c.proc.signalCode !== null) start(c.name as 'a' | 'b');
    for (let round = 0; round < 3; round++) {
      const { leader } = await leaderOf();
      version(10 + round, 2 + (round % 2) * 2);
      await sleep(300 + round * 400);
      await leader.kill();
      start(leader.name as 'a' | 'b');
    }
    await leaderOf();
    const { leader } = await leaderOf();
    await waitConverged(leader, w.nodes(), { roll: 2 }, 40_000);
    const windows = checkNoOverlap(w.all);
    console.log(`[ha] flapping: windows ${windows.map((w) => `rev ${w.rev} pid ${w.pid} ${w.actions} action(s)`).join(', ')}`);
    checkEngineOrder(w.recorder.events());
  });

  it('etcd down altogether: no controller acts, running containers keep running, the status says why; back when etcd is', async () => {
    await leaderOf();
    const running = (await containersOn(w.nodes())).filter((c) => c.state === 'running').length;
    await w.etcd.members[0]!.kill();
    await waitFor(
      'both controllers to stop acting',
      async () => {
        const docs = [await gw.a!.status(), await gw.b!.status()];
        return docs.every((d) => d?.control?.state === 'standby' && /etcd/.test(d.control.reason ?? '')) ? docs : undefined;
      },
      20_000,
      100,
    );
    const mark = w.recorder.events().length;
    version(20, 3);
    await sleep(6_000);
    expect(
      w.recorder
        .events()
        .slice(mark)
        .filter((e) => e.action === 'create' || e.action === 'destroy' || e.action === 'kill'),
    ).toEqual([]);
    expect((await containersOn(w.nodes())).filter((c) => c.state === 'running').length).toBe(running);
    const doc = (await gw.a!.status())!;
    expect(doc.control?.reason).toMatch(/etcd/);
    expect(doc.control?.election?.etcdError).toMatch(/etcd did not answer/);
    const get = await runFogctl(['get', 'services', '--server', gw.a!.socket]);
    expect(get.stdout.split('\n')[0]).toMatch(/^Controller: STANDBY .*not acting: .*etcd/);
    w.etcd.members[0]!.start();
    await w.etcd.ready();
    const { leader } = await leaderOf();
    await waitConverged(leader, w.nodes(), { roll: 3 }, 40_000);
    checkNoOverlap(w.all);
    checkEngineOrder(w.recorder.events());
  });
});

function actionsOfStandby(c: HaController): string[] {
  return c
    .logs()
    .split('\n')
    .filter((l) => l.includes('"component":"executor"') && l.includes('"level":30'));
}
