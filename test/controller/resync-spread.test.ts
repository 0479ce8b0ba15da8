// The resync is spread over its interval: after the first pass (which looks
// at every node), each tick re-observes only its share of the nodes, and
// every node is still re-observed, round after round. The real controller on
// a fleet port that only records what it is asked (no engines: the question
// is what the loop asks for, not what an engine answers).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type ObservedNode } from '../../src/api/types.js';
import { Controller } from '../../src/controller/controller.js';
import type { FleetPort } from '../../src/controller/fleet.js';
import { systemClock } from '../../src/runtime/clock.js';
import { waitFor } from '../e2e/harness.js';

const NODES = 12;
const RESYNC_MS = 3_000;
let dir: string | undefined;
let controller: Controller | undefined;

afterEach(async () => {
  await controller?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the spread resync', () => {
  it('re-observes every node once per round, a share of them per tick, never all at once', async () => {
    dir = mkdtempSync('/tmp/fog-spread-');
    mkdirSync(join(dir, 'nodes'));
    const names = Array.from({ length: NODES }, (_, i) => `n${String(i).padStart(2, '0')}`);
    for (const n of names) writeFileSync(join(dir, 'nodes', `${n}.yaml`), `apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  endpoint: unix:///nonexistent/${n}.sock\n`);
    const since = systemClock.now();
    const nodes: ObservedNode[] = names.map((name) => ({ name, reachable: true, since, lastSeen: since, containers: [] }));
    const asked: Array<readonly string[] | undefined> = [];
    const fleet: FleetPort = {
      sync: () => undefined,
      observe: (which) => {
        asked.push(which);
        return Promise.resolve({ nodes });
      },
      execute: () => Promise.resolve([]),
      onChange: () => undefined,
      close: () => Promise.resolve(),
    };
    controller = new Controller({ desiredDir: dir, settings: { ...DEFAULT_SETTINGS, cluster: 'spread' }, fleet, clock: systemClock, logger: pino({ level: 'silent' }), resyncMs: RESYNC_MS });
    controller.start();
    const seen = new Map<string, number>();
    await waitFor(
      'two full rounds of the resync',
      () => {
        seen.clear();
        for (const call of asked.slice(1)) for (const n of call ?? names) seen.set(n, (seen.get(n) ?? 0) + 1);
        return Promise.resolve(names.every((n) => (seen.get(n) ?? 0) >= 2));
      },
      60_000,
      100,
    );
    // The first pass looks at everything (the controller just started); none after it does.
    expect(asked[0]).toBeUndefined();
    const later = asked.slice(1).filter((c) => c !== undefined && c.length > 0);
    expect(later.length).toBe(asked.length - 1);
    // A tick of 1 s covers 12 × 1 / 3 = 4 nodes: the list calls of a round come in shares, not in one burst.
    for (const call of later) expect(call!.length).toBeLessThanOrEqual(4);
    // Round after round, in order: no node is looked at twice before every other node has been looked at once.
    const order = later.flat();
    for (let i = 0; i + NODES <= order.length; i += NODES) expect(new Set(order.slice(i, i + NODES)).size).toBe(NODES);
  });
});
