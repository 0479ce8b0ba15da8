// Two controllers of one cluster from two folders against the same real
// engines (issue 14): without etcd, each container carries its creator's
// identity (fog.controller); a controller that sees the cluster's
// containers created by another identity stops acting at once, keeps
// observing and says Conflict (status, event, `get` header, `plan` exit 3).
// Counted on the engines' own event streams and the controllers' logs:
// after a controller saw the conflict, it creates and removes nothing.

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containersOn,
  loopService,
  recordEngineEvents,
  runFogctl,
  sleep,
  startController,
  tempDir,
  waitFor,
  writeManifest,
  writeNodeManifests,
  type EventRecorder,
  type RunningController,
} from '../e2e/harness.js';
import { startFleet, type Fleet } from '../support/fleet.js';

let fleet: Fleet;
let recorder: EventRecorder;
const dirs: string[] = [];
const ctls: RunningController[] = [];

beforeAll(async () => {
  fleet = await startFleet([{ name: 'duel1' }, { name: 'duel2' }]);
  recorder = await recordEngineEvents(fleet.nodes);
}, 180_000);

afterAll(async () => {
  recorder?.close();
  for (const c of ctls) await c.stop();
  await fleet?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 120_000);

interface LogLine {
  component?: string;
  msg?: string;
  action?: string;
  time?: number;
}
const lines = (c: RunningController): LogLine[] =>
  c
    .logs()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
/** The executor's lines for actions carried out (create, start, remove), in the order they happened. */
const acted = (ls: LogLine[]) => ls.filter((l) => l.component === 'executor' && l.action !== undefined && !/failed/.test(l.msg ?? ''));

function side(name: string, service: string, cluster = 'duel', grace = '10m') {
  const desired = tempDir(`fog-ha-duel-${name}-`);
  const state = tempDir(`fog-ha-duel-${name}-state-`);
  dirs.push(desired, state);
  writeNodeManifests(
    desired,
    fleet.nodes.map((n) => ({ name: n.name, socket: n.socket })),
  );
  writeManifest(desired, `services/${service}.yaml`, loopService(service, 2));
  const ctl = startController({ desired, stateDir: state, cluster, extra: ['--conflict-grace', grace] });
  ctls.push(ctl);
  return { desired, state, ctl };
}

describe('two controllers of one cluster, two folders, the same engines', () => {
  it('the one that sees the other act stops acting at once and says Conflict; after that it creates and removes nothing', async () => {
    const a = side('a', 'alpha');
    await waitFor('alpha placed by the first controller', async () => (await a.ctl.status())?.status.services.find((s) => s.name === 'alpha')?.ready === 2, 30_000);
    const b = side('b', 'beta');
    // At least one of them sees the other's creations.
    const losers = await waitFor(
      'a Conflict',
      async () => {
        const found: { ctl: RunningController; identity: string; seenAt: number }[] = [];
        for (const c of [a.ctl, b.ctl]) {
          const d = await c.status();
          if (d?.control?.state === 'conflict') found.push({ ctl: c, identity: d.control.identity, seenAt: Date.now() });
        }
        return found.length > 0 ? found : undefined;
      },
      30_000,
      100,
    );
    // Let the world run on: a fight would go on every few seconds.
    await sleep(8_000);

    for (const loser of losers) {
      const doc = (await loser.ctl.status())!;
      expect(doc.control?.state).toBe('conflict');
      expect(doc.control?.reason).toMatch(/another controller of this cluster acts on the same engines/);
      expect(doc.events.some((e) => e.reason === 'Conflict' && e.type === 'Warning')).toBe(true);
      // No action of the loser after the line where it saw the conflict, in its own log order.
      const ls = lines(loser.ctl);
      const at = ls.findIndex((l) => l.component === 'gate' && /^conflict:/.test(l.msg ?? ''));
      expect(at).toBeGreaterThanOrEqual(0);
      expect(acted(ls.slice(at + 1)).map((l) => l.msg)).toEqual([]);
      // Nor on the engines: no container with its identity created after the test saw the conflict.
      const late = recorder.events().filter((e) => e.action === 'create' && e.labels?.['fog.controller'] === loser.identity && e.at > loser.seenAt);
      expect(late).toEqual([]);
      // The status socket answers (it keeps observing) and the header line says so.
      const get = await runFogctl(['get', 'services', '--server', loser.ctl.socket]);
      expect(get.code).toBe(0);
      expect(get.stdout.split('\n')[0]).toMatch(/^CONFLICT: this controller \(.+\) does not act/);
      const plan = await runFogctl(['plan', '--desired', loser.ctl === a.ctl ? a.desired : b.desired, '--server', loser.ctl.socket]);
      expect(plan.code).toBe(3);
      expect(plan.stderr).toMatch(/Conflict: the running controller/);
    }
    // Every container a controller made carries its identity.
    const creates = recorder.events().filter((e) => e.action === 'create' && e.labels?.['fog.cluster'] === 'duel');
    expect(creates.length).toBeGreaterThan(0);
    for (const e of creates) expect(e.labels?.['fog.controller']).toMatch(/^[^/]+\/\d+\/\d{4}-\d\d-\d\dT/);
    // Once every loser stood still, the engines saw no fight: count removals after the last loser saw the conflict.
    const lastSeen = Math.max(...losers.map((l) => l.seenAt));
    const winners = [a.ctl, b.ctl].filter((c) => !losers.some((l) => l.ctl === c));
    if (winners.length === 0) expect(recorder.events().filter((e) => e.at > lastSeen + 2_000 && (e.action === 'create' || e.action === 'destroy'))).toEqual([]);
    console.log(`[ha] conflict: ${losers.length} controller(s) in conflict; engine events create/destroy: ${recorder.events().filter((e) => e.action === 'create' || e.action === 'destroy').length}`);
  }, 120_000);

  it('once the other has been silent for the conflict grace period, the controller acts again (and removes what the other left)', async () => {
    // Another cluster name: what the first test left is foreign to these two and never touched.
    const a = side('c', 'gamma', 'duel2', '4s');
    await waitFor('gamma placed', async () => (await a.ctl.status())?.status.services.find((s) => s.name === 'gamma')?.ready === 2, 30_000);
    const b = side('d', 'delta', 'duel2', '4s');
    const loser = await waitFor(
      'a Conflict',
      async () => {
        for (const c of [a, b]) if ((await c.ctl.status())?.control?.state === 'conflict') return c;
        return undefined;
      },
      30_000,
      100,
    );
    const winner = loser === a ? b : a;
    const [mine, theirs] = loser === a ? ['gamma', 'delta'] : ['delta', 'gamma'];
    await winner.ctl.stop();
    // Silent for 4 s: the loser acts again: its own service back, the other's containers removed as not desired.
    const acting = await waitFor('the loser to act again', async () => ((await loser.ctl.status())?.control?.state === 'acting' ? true : undefined), 30_000, 200);
    expect(acting).toBe(true);
    await waitFor(
      `${mine} running and ${theirs} gone`,
      async () => {
        const d = await loser.ctl.status();
        const cs = (await containersOn(fleet.nodes)).filter((c) => c.labels['fog.cluster'] === 'duel2');
        return d?.status.services.find((s) => s.name === mine)?.ready === 2 && cs.every((c) => c.service === mine) ? true : undefined;
      },
      30_000,
      200,
    );
    expect(lines(loser.ctl).some((l) => l.component === 'gate' && /conflict over/.test(l.msg ?? ''))).toBe(true);
  }, 120_000);
});
