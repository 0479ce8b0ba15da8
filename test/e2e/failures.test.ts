// Failures as inputs, end to end on a real dockerd: a registry that always
// fails is asked with back-off (not 63 times a second), a container stopped
// from outside is started again at once and backs off only when it keeps
// happening, and the status never shows a healthy node as stale.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.js';
import { containersOn, loopService, runFogctl, serviceManifest, sleep, startController, tempDir, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;
let registry: Server;
/** When the test heard each pull attempt (dockerd's `GET /v2/` ping, the first request of every pull). */
const pulls: number[] = [];

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));

beforeAll(async () => {
  // A registry on loopback that answers every request with 500: dockerd treats 127.0.0.0/8 as an insecure (plain HTTP) registry.
  registry = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v2/') pulls.push(Date.now());
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAVAILABLE","message":"registry down"}]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  fleet = await startFleet([{ name: 'cell-1' }]);
  desired = tempDir('fog-fail-desired-');
  state = tempDir('fog-fail-state-');
  writeNodeManifests(desired, nodes());
  ctl = startController({ desired, stateDir: state, grace: '4s', resync: '2s' });
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  await new Promise<void>((r) => (registry ? registry.close(() => r()) : r()));
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('failures as inputs, on a real engine', () => {
  it('asks a registry that always fails at most 8 times in 60 s, and says when it tries next', async () => {
    const port = (registry.address() as AddressInfo).port;
    const t0 = Date.now();
    writeManifest(desired, 'services/broken.yaml', serviceManifest('broken', `  image: 127.0.0.1:${port}/fog/missing:1\n`).replace(/ {2}image: fog\/busybox:latest\n/, ''));
    const doc = await waitFor(
      'the failed pull in the status',
      async () => {
        const d = await ctl.status();
        const f = d?.failures.find((x) => x.service === 'broken');
        return f && f.attempts >= 2 ? d : undefined;
      },
      30_000,
    );
    const failure = doc.failures.find((x) => x.service === 'broken')!;
    // The image is missing on the node: it is pulled before the create (README, Images on a plant).
    expect(failure).toMatchObject({ type: 'pull', code: 'image-pull-failed', retryable: true });
    expect(failure.message).toContain(`127.0.0.1:${port}/fog/missing:1`);
    const svc = doc.status.services.find((s) => s.name === 'broken')!;
    expect(svc.conditions).toContainEqual(expect.objectContaining({ type: 'ActionBackOff', status: true, reason: 'ActionBackOff' }));
    expect(svc.backoffs?.[0]?.message).toMatch(/^slot 0: pull on cell-1 failed \d+ time\(s\) \(image-pull-failed: .*\); next try (now|in [\d.]+s)$/);
    const described = await runFogctl(['describe', 'service', 'broken', '--server', ctl.socket]);
    expect(described.stdout).toMatch(
      /Failed actions:\n\s+ACTION\s+SLOT\s+NODE\s+CODE\s+ATTEMPTS\s+LAST\s+NEXT TRY\s+MESSAGE\n\s+pull\s+0\s+cell-1\s+image-pull-failed\s+\d+\s+\S+ ago\s+(due|now|in \S+)\s+image/,
    );
    const status = await runFogctl(['get', 'services', '--server', ctl.socket]);
    expect(status.stdout).toMatch(/broken\s+replicated\s+0\/1\s+0\s+0\s+ActionBackOff/);
    await sleep(Math.max(0, t0 + 60_000 - Date.now()));
    const inWindow = pulls.filter((t) => t - t0 <= 60_000);
    console.log(`[failures] ${inWindow.length} pull attempts in 60 s at: ${inWindow.map((t) => `${((t - t0) / 1000).toFixed(1)}s`).join(', ')}`);
    // Back-off from 1 s, doubling: attempts at about 0, 1, 3, 7, 15, 31 s: 6, with room for the first attempt's own timing.
    expect(inWindow.length).toBeGreaterThanOrEqual(3);
    expect(inWindow.length).toBeLessThanOrEqual(8);
    writeManifest(desired, 'services/broken.yaml', loopService('broken', 0));
  }, 120_000);

  it('starts a container stopped from outside again at once, and backs off when it keeps happening', async () => {
    writeManifest(desired, 'services/ticker.yaml', loopService('ticker', 1));
    const first = await waitFor('ticker running', async () => (await containersOn(nodes())).find((c) => c.service === 'ticker' && c.state === 'running'), 30_000);
    const docker = new Docker({ socketPath: fleet.nodes[0]!.socket });
    // It must have run stably (10 s, the controller's default) for a kill to count as a one-off.
    await sleep(10_500);
    const started = async () => new Date((await docker.getContainer(first.id).inspect()).State.StartedAt).getTime();
    const before = await started();
    await docker.getContainer(first.id).kill();
    const killedAt = Date.now();
    const again = await waitFor(
      'ticker started again after the kill',
      async () => {
        const t = await started();
        return t > before ? t : undefined;
      },
      15_000,
      50,
    );
    console.log(`[failures] docker kill → running again: ${again - killedAt} ms (first kill, no back-off)`);
    // Killed again at once: now a streak, so the controller waits its back-off (1 s) before starting it.
    await docker.getContainer(first.id).kill();
    const killed2 = Date.now();
    const dead = await docker.getContainer(first.id).inspect();
    const finished = new Date(dead.State.FinishedAt).getTime();
    const third = await waitFor(
      'ticker started after the back-off',
      async () => {
        const t = await started();
        return t > again ? t : undefined;
      },
      15_000,
      50,
    );
    console.log(`[failures] second kill → running again: ${third - killed2} ms (back-off 1 s)`);
    expect(third - finished).toBeGreaterThanOrEqual(900);
    const doc = await ctl.status();
    expect(doc?.events.some((e) => e.reason === 'Restart' && e.object === 'service/ticker')).toBe(true);
  }, 60_000);

  it('shows every node as just seen at any read, though no pass has had anything to do', async () => {
    // Nothing changes now: passes find the same world and are skipped, but each resync still observes.
    const reads: number[] = [];
    for (let i = 0; i < 8; i++) {
      const doc = await ctl.status();
      const n = doc!.status.nodes[0]!;
      expect(n.reachable).toBe(true);
      reads.push(doc!.clock.now - n.lastSeen!);
      await sleep(1_000);
    }
    console.log(`[failures] last-seen ages at 8 reads 1 s apart: ${reads.map((r) => `${Math.round(r)}ms`).join(', ')}`);
    // The resync is 2 s: a node seen at every resync is never more than one interval (plus a pass) old.
    for (const age of reads) expect(age).toBeLessThan(4_000);
    const nodesOut = await runFogctl(['get', 'nodes', '--server', ctl.socket]);
    expect(nodesOut.stdout).toMatch(/cell-1\s+Ready\s+.*\s[0-3]s ago/);
  }, 60_000);
});
