// fogctl's promises to scripts and to people watching, on one real engine
// shared by the file: `plan` exits 0 when the fleet matches the desired
// state and 1 on an error (2, actions, is covered here only to show the 0 is
// not a constant), and `get … -w` keeps running and prints the change when
// the world changes, until it is killed.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.js';
import { FOGCTL, ROOT, loopService, runFogctl, startController, tempDir, waitConverged, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));

beforeAll(async () => {
  fleet = await startFleet([{ name: 'cli-1' }]);
  desired = tempDir('fog-cli-desired-');
  state = tempDir('fog-cli-state-');
  writeNodeManifests(desired, nodes());
  writeManifest(desired, 'services/ticker.yaml', loopService('ticker', 1));
  ctl = startController({ desired, stateDir: state, cluster: 'cli' });
  await waitConverged(ctl, nodes(), { ticker: 1 }, 60_000);
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('fogctl plan', () => {
  it('exits 0 and plans nothing on a converged fleet', async () => {
    // The cluster name comes from the running controller, as an operator would do it.
    const r = await runFogctl(['plan', '--desired', desired, '--server', ctl.socket]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^No changes\./m);
    const json = await runFogctl(['plan', '--desired', desired, '--server', ctl.socket, '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ cluster: 'cli', actions: [], errors: [] });
    // Not a constant 0: for a cluster that owns nothing here, the same folder needs a create (exit 2).
    const other = await runFogctl(['plan', '--desired', desired, '--cluster', 'cli-other']);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stdout).toMatch(/create\s+ticker\s+0\s+cli-1/);
  });

  it('exits 1 on an error, and says what it was', async () => {
    const missing = await runFogctl(['plan', '--desired', `${desired}-missing`, '--cluster', 'cli']);
    expect(missing.code).toBe(1);
    // A crash also exits 1; this must be the error fogctl reports on purpose.
    expect(missing.stderr).toMatch(/^error: desired folder \S+-missing does not exist/);
    const badFlag = await runFogctl(['plan', '--desired', desired, '--cluster', 'cli', '--grace', 'soon']);
    expect(badFlag.code).toBe(1);
    expect(badFlag.stderr).toMatch(/^error: --grace soon: must be a duration/);
  });
});

describe('fogctl get -w', () => {
  it('prints the change when the world changes, and keeps running until killed', async () => {
    const watcher = spawn(process.execPath, [FOGCTL, 'get', 'replicas', '-w', '--interval', '200', '--server', ctl.socket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => watcher.once('exit', (code, signal) => r({ code, signal })));
    /** Waits until the output from `from` on matches; the error shows what was printed. */
    const printed = (what: string, re: RegExp, from: number, timeoutMs: number) =>
      waitFor(what, async () => re.test(out.slice(from)), timeoutMs, 100).catch((e: Error) => {
        throw new Error(`${e.message}; printed:\n${out.slice(from).slice(-2000)}\nstderr: ${err}`);
      });
    try {
      await printed('the first table', /^ticker-0\s+ticker\s+cli-1\s+running\b/im, 0, 20_000);
      expect(out).not.toMatch(/^ticker-1\b/m);
      const before = out.length;
      writeManifest(desired, 'services/ticker.yaml', loopService('ticker', 2));
      // Liveness: the change shows within the controller's convergence and a few polls (30 s is generous).
      await printed('the new replica in the watch output', /^ticker-1\s+ticker\s+cli-1\s+running\b/im, before, 30_000);
      expect(watcher.exitCode, `fogctl get -w exited by itself: ${err}`).toBeNull();
    } finally {
      watcher.kill('SIGTERM');
    }
    // It ran until the signal ended it, and never failed on the way.
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(err).toBe('');
    await waitConverged(ctl, nodes(), { ticker: 2 }, 30_000);
  });
});
