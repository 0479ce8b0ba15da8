// One `fogctl run` per state directory on a host (issue 14): a second one
// refuses to start and names the holder, leaves the first one's socket
// alone, and a SIGKILLed holder leaves no stale lock. No engine is needed:
// the desired folder names no node.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFogctl, startController, tempDir, waitFor, type RunningController } from '../e2e/harness.js';

const dirs: string[] = [];
const running: RunningController[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function world() {
  const desired = tempDir('fog-ha-lock-desired-');
  const state = tempDir('fog-ha-lock-state-');
  dirs.push(desired, state);
  mkdirSync(join(desired, 'services'), { recursive: true });
  return { desired, state };
}

function start(desired: string, state: string): RunningController {
  const c = startController({ desired, stateDir: state, cluster: 'lock' });
  running.push(c);
  return c;
}

describe('host lock', () => {
  it('a second fogctl run on the same state directory exits 1 naming the holder (pid, start, desired folder); the first keeps its socket and answers', async () => {
    const { desired, state } = world();
    const first = start(desired, state);
    const doc = await waitFor('the first controller to answer', () => first.status(), 15_000);
    const other = tempDir('fog-ha-lock-other-');
    dirs.push(other);
    const second = await runFogctl(['run', '--desired', other, '--state-dir', state, '--cluster', 'lock']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`pid ${first.proc.pid}`);
    expect(second.stderr).toContain(`desired folder ${desired}`);
    expect(second.stderr).toContain(new Date(doc.clock.wall).toISOString().slice(0, 10));
    expect(second.stderr).toMatch(/Stop that one first, or give this one its own --state-dir/);
    // The socket is still the first one's.
    expect(existsSync(first.socket)).toBe(true);
    expect((await first.status())?.desired.dir).toBe(desired);
  });

  it('a SIGKILLed holder leaves no stale lock: the next fogctl run starts at once', async () => {
    const { desired, state } = world();
    const first = start(desired, state);
    await waitFor('the first controller to answer', () => first.status(), 15_000);
    await first.kill();
    const next = start(desired, state);
    const doc = await waitFor('the next controller to answer', () => next.status(), 15_000);
    expect(doc.control?.state).toBe('acting');
    expect(next.proc.exitCode).toBeNull();
  });

  it('a --listen socket someone answers on is not taken over (nor unlinked) by a controller of another state directory', async () => {
    const a = world();
    const b = world();
    const first = start(a.desired, a.state);
    await waitFor('the first controller to answer', () => first.status(), 15_000);
    const second = await runFogctl(['run', '--desired', b.desired, '--state-dir', b.state, '--cluster', 'lock', '--listen', first.socket]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('another process (a running fogctl run?) answers on this socket');
    expect((await first.status())?.desired.dir).toBe(a.desired);
  });
});
