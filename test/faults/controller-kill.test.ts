// Fault 1: the controller SIGKILLed at random points of a rollout and of a
// scale-up/down, again and again, then left to converge. The kill points are
// drawn from a seeded generator (the seed is printed; FOG_FAULT_SEED replays
// it). After each round: exactly the wanted replicas, one running container
// per slot with the current spec hash, no orphans, within a 20 s
// convergence deadline (a liveness bound, not a performance figure).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopService, sleep, waitConverged, waitFor, writeManifest } from '../e2e/harness.js';
import { faultWorld, seededRandom, tally, type FaultWorld } from './support.js';

const CONVERGE_MS = 20_000;
const KILLS_PER_ROUND = 4;
const ROUNDS = 4;

let w: FaultWorld;
const rnd = seededRandom('controller-kill');
const injected = tally('controller-kill');

beforeAll(async () => {
  w = await faultWorld([{ name: 'k1' }, { name: 'k2' }], 'kill');
  w.start();
});

afterAll(async () => {
  injected.print();
  await w?.cleanup();
});

/** Change the manifest, then SIGKILL the controller at KILLS_PER_ROUND random points (0..maxDelay ms after the change, then after each restart answers), and restart it each time. */
async function chaos(change: () => void, maxDelay: number, log: string[]): Promise<void> {
  change();
  for (let k = 0; k < KILLS_PER_ROUND; k++) {
    const delay = rnd.int(0, maxDelay);
    await sleep(delay);
    await w.ctl.kill();
    injected.add('SIGKILL of the controller');
    log.push(`kill after ${delay} ms`);
    w.start();
    await waitFor('the restarted controller to answer', async () => (await w.ctl.status()) !== undefined, 10_000, 50);
  }
}

describe('controller SIGKILLed mid-flight', () => {
  it(`converges after ${ROUNDS} rollouts with ${KILLS_PER_ROUND} random kills each`, async () => {
    writeManifest(w.desired, 'services/roll.yaml', loopService('roll', 3));
    await waitConverged(w.ctl, w.nodes(), { roll: 3 }, CONVERGE_MS);
    for (let round = 1; round <= ROUNDS; round++) {
      const log: string[] = [];
      await chaos(() => writeManifest(w.desired, 'services/roll.yaml', loopService('roll', 3, `  env:\n    VERSION: "${round}"\n`)), 2_000, log);
      await waitConverged(w.ctl, w.nodes(), { roll: 3 }, CONVERGE_MS).catch((err: Error) => {
        throw new Error(`rollout round ${round} (seed ${rnd.seed}; ${log.join(', ')}): ${err.message}`);
      });
    }
  });

  it(`converges after ${ROUNDS} scale changes with ${KILLS_PER_ROUND} random kills each, leaving no orphan`, async () => {
    const sizes = [4, 1, 4, 2];
    writeManifest(w.desired, 'services/scale.yaml', loopService('scale', 1));
    await waitConverged(w.ctl, w.nodes(), { roll: 3, scale: 1 }, CONVERGE_MS);
    for (let round = 0; round < ROUNDS; round++) {
      const n = sizes[round % sizes.length]!;
      const log: string[] = [];
      await chaos(() => writeManifest(w.desired, 'services/scale.yaml', loopService('scale', n)), 1_500, log);
      await waitConverged(w.ctl, w.nodes(), { roll: 3, scale: n }, CONVERGE_MS).catch((err: Error) => {
        throw new Error(`scale round ${round + 1} to ${n} (seed ${rnd.seed}; ${log.join(', ')}): ${err.message}`);
      });
    }
    expect(rnd.seed).toBeTypeOf('number');
  });
});
