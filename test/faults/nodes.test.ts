// Faults 2, 3, 4 and 7b: a node's daemon stopped and started, a hung
// (SIGSTOPped) daemon, a flapping daemon, and a controller restarted while a
// node is down. What moves, and when, is read from the other engines' own
// event streams, never from the controller.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT } from '../../src/observe/heartbeat.js';
import { containersOn, loopService, recordEngineEvents, sleep, waitConverged, waitFor, writeManifest, type EngineEventRecord } from '../e2e/harness.js';
import { faultWorld, tally, type FaultWorld } from './support.js';
import { stopAndWatch } from '../support/outage.js';

/** The controller's --grace (where a scenario does not choose its own), in ms. */
const GRACE = '3s';
const GRACE_MS = 3_000;
/** The controller's heartbeat interval (the default). */
const HEARTBEAT_MS = DEFAULT_HEARTBEAT.intervalMs;
const CONVERGE_MS = 20_000;

let w: FaultWorld;
const injected = tally('nodes');

beforeAll(async () => {
  w = await faultWorld([{ name: 'n1' }, { name: 'n2' }, { name: 'n3' }], 'nodes');
  w.start({ grace: GRACE });
});

afterAll(async () => {
  injected.print();
  await w?.cleanup();
});

const WANT = { move: 1, pinned: 1, free: 2, flappy: 3 };
const touched = (events: EngineEventRecord[], actions = ['create', 'start', 'stop', 'kill', 'destroy']) => events.filter((e) => e.service && actions.includes(e.action));
const describeEvents = (events: EngineEventRecord[], from: number) => events.map((e) => `${e.action} ${e.name}@${e.node} +${e.at - from}ms`).join(', ');

async function nodeOf(service: string): Promise<string> {
  const [c] = (await containersOn(w.nodes())).filter((x) => x.service === service);
  if (!c) throw new Error(`${service} has no container`);
  return c.node;
}

describe('node faults', () => {
  it('stopped daemon: nothing touched elsewhere within the grace period, re-placed after it, surplus removed on return', async () => {
    writeManifest(w.desired, 'services/move.yaml', loopService('move', 1, `  placement:\n    constraints: ["node.name != n3"]\n`));
    await waitConverged(w.ctl, w.nodes(), { move: 1 }, CONVERGE_MS);
    const victim = await nodeOf('move');
    const others = w.others(victim);
    const rec = await recordEngineEvents(others);
    // The grace period counts from when the engine stops answering (pinged
    // directly), not from the stop command: hack/fleet.sh kills the node's
    // containers first and waits for dockerd to exit, which takes seconds.
    const outage = await stopAndWatch(w.fleet.node(victim).socket, () => w.fleet.stopNode(victim));
    injected.add('daemon stopped and started');
    try {
      // Liveness: re-placed in the end (CONVERGE_MS: grace, resync and a container start, several times over).
      await waitFor('move to run on another node', async () => (await containersOn(others)).some((c) => c.service === 'move' && c.state === 'running'), CONVERGE_MS);
      // Safety: nothing touched elsewhere within the grace period. The
      // controller counts it from its own last answered heartbeat, which can be
      // one heartbeat interval before the last ping this test saw
      // answered; it cannot have seen the engine gone sooner than that.
      const graceEnds = outage.lastAnsweredAt - HEARTBEAT_MS + GRACE_MS;
      const early = touched(rec.events()).filter((e) => e.at < graceEnds);
      expect(early, `touched within the grace period: ${describeEvents(early, outage.stoppedAnsweringAt)}`).toEqual([]);
      expect(
        touched(rec.events(), ['create']).some((e) => e.service === 'move'),
        'the re-placement was heard on the event stream',
      ).toBe(true);
      const doc = await w.ctl.status();
      expect(doc!.status.nodes.find((n) => n.name === victim)!.reachable).toBe(false);
    } finally {
      rec.close();
      await w.fleet.startNode(victim);
    }
    await waitConverged(w.ctl, w.nodes(), { move: 1 }, CONVERGE_MS);
  });

  it('hung daemon: calls time out, the node turns unreachable, other nodes converge meanwhile, and it recovers when thawed', async () => {
    writeManifest(w.desired, 'services/pinned.yaml', loopService('pinned', 1, `  placement:\n    constraints: ["node.name == n3"]\n`));
    writeManifest(w.desired, 'services/free.yaml', loopService('free', 1, `  placement:\n    constraints: ["node.name == n1"]\n`));
    await waitConverged(w.ctl, w.nodes(), { move: 1, pinned: 1, free: 1 }, CONVERGE_MS);
    const [pinned] = (await containersOn(w.nodes())).filter((c) => c.service === 'pinned');
    await w.fleet.freezeNode('n3');
    injected.add('daemon frozen (SIGSTOP) and thawed');
    try {
      const unreachable = await waitFor(
        'n3 to be unreachable',
        async () => {
          const n = (await w.ctl.status())?.status.nodes.find((x) => x.name === 'n3');
          return n && !n.reachable ? n : undefined;
        },
        15_000,
        100,
      );
      expect(unreachable.message).toMatch(/unreachable/);
      // A change on a healthy node converges while n3 hangs: passes are not held up beyond one call timeout.
      const changedAt = Date.now();
      writeManifest(w.desired, 'services/free.yaml', loopService('free', 2, `  env:\n    V: "2"\n  placement:\n    constraints: ["node.name == n1"]\n`));
      const healthy = w.others('n3');
      await waitFor(
        'free to roll out and scale on n1 while n3 hangs',
        async () => {
          const doc = await w.ctl.status();
          const s = doc?.status.services.find((x) => x.name === 'free');
          const cs = (await containersOn(healthy)).filter((c) => c.service === 'free');
          return s !== undefined && s.ready === 2 && s.upToDate === 2 && cs.length === 2 && cs.every((c) => c.state === 'running' && c.hash === s.specHash);
        },
        10_000,
        100,
      );
      console.log(`[faults] nodes: free converged ${Date.now() - changedAt} ms after its change while n3 was frozen`);
    } finally {
      await w.fleet.thawNode('n3');
    }
    await waitConverged(w.ctl, w.nodes(), { move: 1, pinned: 1, free: 2 }, CONVERGE_MS);
    const [again] = (await containersOn(w.nodes())).filter((c) => c.service === 'pinned');
    expect(again!.id).toBe(pinned!.id);
  });

  it('flapping daemon: with a grace period longer than each outage nothing moves, and the count is exact at the end', async () => {
    await w.ctl.stop();
    w.start({ grace: '10s' });
    writeManifest(w.desired, 'services/flappy.yaml', loopService('flappy', 3, `  placement:\n    maxPerNode: 1\n`));
    await waitConverged(w.ctl, w.nodes(), WANT, CONVERGE_MS);
    const rec = await recordEngineEvents(w.others('n2'));
    const soakMs = process.env.FOG_SOAK === '1' ? 60_000 : 30_000;
    const start = Date.now();
    let flaps = 0;
    try {
      while (Date.now() - start < soakMs) {
        await w.fleet.stopNode('n2');
        await sleep(1_000);
        await w.fleet.startNode('n2');
        flaps++;
        await sleep(3_000);
      }
    } finally {
      rec.close();
      await w.fleet.startNode('n2');
    }
    injected.add('flap of a daemon (stop + start)', flaps);
    console.log(`[faults] nodes: ${flaps} flaps of n2 in ${Date.now() - start} ms`);
    const moved = touched(rec.events(), ['create', 'destroy']);
    expect(moved, `ping-pong on the other nodes: ${describeEvents(moved, start)}`).toEqual([]);
    await waitConverged(w.ctl, w.nodes(), WANT, CONVERGE_MS);
  });

  // A node unreachable at the controller's first look has never been listed:
  // its replicas are unknown, so new containers wait out its grace period.
  it('controller restarted while a node is down: the grace period counts from the start, nothing is replaced at once', async () => {
    await w.ctl.stop();
    const victim = await nodeOf('move');
    const others = w.others(victim);
    await w.fleet.stopNode(victim);
    injected.add('controller restarted with a node down');
    const rec = await recordEngineEvents(others);
    const startedAt = Date.now();
    w.start({ grace: GRACE });
    try {
      await waitFor('move to be re-placed after the grace period', async () => (await containersOn(others)).some((c) => c.service === 'move' && c.state === 'running'), CONVERGE_MS);
      const early = touched(rec.events()).filter((e) => e.at < startedAt + GRACE_MS);
      expect(early, `touched within the grace period after the restart: ${describeEvents(early, startedAt)}`).toEqual([]);
    } finally {
      rec.close();
      await w.fleet.startNode(victim);
    }
    await waitConverged(w.ctl, w.nodes(), WANT, CONVERGE_MS);
  });
});
