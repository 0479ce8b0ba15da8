// Fault 8, the part a real dockerd cannot show: engines whose clocks are an
// hour off. Engine times reach the controller through their age on the
// engine's own clock, so the offset cancels out and no restart or back-off
// decision changes. And every time decision of the controller reads the
// injected monotonic clock: checked in the source (the wall-clock jump
// itself is exercised on a real engine in inprocess.test.ts).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type RestartPolicy } from '../../src/api/types.js';
import type { EngineContainer } from '../../src/docker/engine.js';
import { toManagedContainer } from '../../src/observe/convert.js';
import { restartDecision } from '../../src/reconcile/index.js';

const HOUR = 3_600_000;
const WALL = Date.UTC(2026, 0, 1, 10, 0, 0);
const NOW = 5_000_000; // the controller's monotonic clock at the observation

/** A container that started 5 s and exited 2 s before the observation (a short run: its restarts count), as an engine with clock offset `skew` reports it. */
function inspected(skew: number): EngineContainer {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  return {
    Id: 'c1',
    Name: '/c1',
    State: { Status: 'exited', Running: false, ExitCode: 1, StartedAt: iso(WALL + skew - 5_000), FinishedAt: iso(WALL + skew - 2_000) },
    RestartCount: 3,
    Config: { Image: 'fog/busybox:latest', Labels: { 'fog.service': 's', 'fog.slot': '0' } },
    HostConfig: { NetworkMode: 'none' },
  };
}

describe('engines whose clocks are off', () => {
  const always: RestartPolicy = { policy: 'always', maxRetries: 5 };
  it.each([
    ['an hour ahead', HOUR],
    ['an hour behind', -HOUR],
    ['a day ahead', 24 * HOUR],
  ])('an engine %s gives the same controller times and the same restart decision', (_, skew) => {
    const right = toManagedContainer(inspected(0), { engineNow: WALL, now: NOW });
    const off = toManagedContainer(inspected(skew), { engineNow: WALL + skew, now: NOW });
    expect(off.startedAt).toBe(NOW - 5_000);
    expect(off.finishedAt).toBe(NOW - 2_000);
    expect(off).toEqual(right);
    // A streak of 3 → back-off 4 s from the finish: not yet at NOW, due at NOW + 2 s, either way.
    for (const t of [NOW, NOW + 2_000]) expect(restartDecision(off, always, DEFAULT_SETTINGS, t)).toEqual(restartDecision(right, always, DEFAULT_SETTINGS, t));
    expect(restartDecision(off, always, DEFAULT_SETTINGS, NOW).kind).toBe('backoff');
    expect(restartDecision(off, always, DEFAULT_SETTINGS, NOW + 2_000).kind).toBe('start');
  });
});

describe('the controller decides on its monotonic clock', () => {
  const SRC = new URL('../../src/', import.meta.url).pathname;
  const WALL_READS = /\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/;
  it.each(['controller', 'apply', 'reconcile', 'schedule', 'status'])('src/%s reads no clock of its own (time comes from the injected Clock)', (dir) => {
    const offenders = readdirSync(join(SRC, dir))
      .filter((f) => f.endsWith('.ts'))
      .filter((f) =>
        readFileSync(join(SRC, dir, f), 'utf8')
          .split('\n')
          .some((l) => !l.trim().startsWith('//') && WALL_READS.test(l)),
      );
    expect(offenders).toEqual([]);
  });

  it('the system clock: now() is monotonic (performance.now), wall() is only for display', () => {
    const text = readFileSync(join(SRC, 'runtime/clock.ts'), 'utf8');
    expect(text).toMatch(/now: \(\) => performance\.now\(\)/);
    expect(text).toMatch(/wall: \(\) => Date\.now\(\)/);
  });
});
