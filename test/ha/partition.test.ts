// The leader cut off from etcd (issue 14): a three-member etcd (Debian's
// etcd-server); controller a talks only to member 1, controller b to
// members 2 and 3. Member 1 is frozen (SIGSTOP: its listener and its peers'
// links hang, as in a partition) while a leads a rollout. The two others
// keep the quorum, a's lease runs out there and b takes over. Checked on the
// lease revisions and the action windows (a stopped acting before b began)
// and on the engines' create events, never on speed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopService, waitConverged, waitFor, writeManifest } from '../e2e/harness.js';
import { actionsOf, checkEngineOrder, checkNoOverlap, haController, haWorld, waitForCreate, role, type HaWorld } from './support.js';

let w: HaWorld;

beforeAll(async () => {
  w = await haWorld(['hp1', 'hp2'], 3);
}, 180_000);

afterAll(async () => {
  await w?.cleanup();
}, 120_000);

const version = (v: number) => writeManifest(w.desired, 'services/roll.yaml', loopService('roll', 4, `  env:\n    VERSION: "${v}"\n`));

describe('the leader partitioned from etcd (3 members)', () => {
  it('the old leader stops acting before the new one starts; the new one finishes the rollout', async () => {
    const [m1, m2, m3] = w.etcd.members;
    const a = haController('a', w.desired, m1!.clientUrl, w.dirs);
    w.all.push(a);
    await waitFor('a to lead', async () => (await role(a)) === 'leader', 30_000, 100);
    const b = haController('b', w.desired, `${m2!.clientUrl},${m3!.clientUrl}`, w.dirs);
    w.all.push(b);
    await waitFor('b to stand by', async () => (await role(b)) === 'standby', 30_000, 100);
    version(1);
    await waitConverged(a, w.nodes(), { roll: 4 }, 30_000);

    const before = w.recorder.events().length;
    version(2);
    await waitForCreate(w, 'roll', before);
    m1!.freeze();
    await waitFor('b to lead', async () => (await role(b)) === 'leader', 30_000, 100);
    await waitConverged(b, w.nodes(), { roll: 4 }, 40_000);

    // a is alive and knows it no longer leads.
    expect(a.proc.exitCode).toBeNull();
    expect(a.logs()).toContain('leadership lost');
    const windows = checkNoOverlap(w.all);
    const aRevs = new Set(actionsOf(a).map((x) => x.leaseRev));
    const bRevs = new Set(actionsOf(b).map((x) => x.leaseRev));
    expect(aRevs.size).toBeGreaterThan(0);
    expect(bRevs.size).toBeGreaterThan(0);
    expect(Math.max(...[...aRevs].map(Number))).toBeLessThan(Math.min(...[...bRevs].map(Number)));
    const aEnd = Math.max(...actionsOf(a).map((x) => x.time));
    const bStart = Math.min(...actionsOf(b).map((x) => x.startedAt));
    expect(aEnd).toBeLessThanOrEqual(bStart);
    checkEngineOrder(w.recorder.events());
    console.log(`[ha] partition: windows ${windows.map((w) => `rev ${w.rev} pid ${w.pid} ${w.actions} action(s) ${new Date(w.start).toISOString()}..${new Date(w.end).toISOString()}`).join(', ')}`);

    // Healed: a sees b lead and stays a standby.
    m1!.thaw();
    await waitFor('a to see b lead', async () => (await a.status())?.control?.election?.leader?.identity === (await b.status())?.control?.identity && (await role(a)) === 'standby', 30_000, 200);
  });
});
