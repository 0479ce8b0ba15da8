import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { identityText, mayBeAlive } from '../../src/ha/identity.js';

describe('controller identity', () => {
  it('is host/pid/start', () => {
    expect(identityText({ host: 'gw1', pid: 42, start: Date.UTC(2026, 10, 30, 12) })).toBe('gw1/42/2026-11-30T12:00:00.000Z');
  });
  it('a process of this host that is gone is known dead; this process, another host, or an unreadable label may be alive', () => {
    const gone = spawnSync('true').pid;
    expect(mayBeAlive(`${hostname()}/${gone}/2026-11-30T12:00:00.000Z`)).toBe(false);
    expect(mayBeAlive(`${hostname()}/${process.pid}/2026-11-30T12:00:00.000Z`)).toBe(true);
    expect(mayBeAlive(`other-${hostname()}/${gone}/2026-11-30T12:00:00.000Z`)).toBe(true);
    expect(mayBeAlive('garbage')).toBe(true);
  });
});
