// Running it like a service, on two real engines and one real `fogctl run`:
// - fogctl logs: every replica's lines with replica@node, stdout and stderr
//   demultiplexed (no frame headers leak), --tail, --timestamps, --since,
//   SERVICE/SLOT, and -f following two replicas merged in time order;
// - /metrics: a Prometheus scrape whose values match the status document and
//   the engines (nodes, replicas, unschedulable by filter, actions, engine
//   calls), with no container id and no secret in it;
// - fogctl events and events -w: the controller's events, and a new one
//   streamed when the desired state changes.
// No secret value appears in anything fogctl prints.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.js';
import { FOGCTL, ROOT, containersOn, runFogctl, serviceManifest, startController, tempDir, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';

const SECRET = 'tok-ops-e2e-5f1d2c';
let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));

// Each replica writes a numbered line to stdout and to stderr every 200 ms; the secret is in its env, never printed by it.
const talker = (replicas: number) =>
  serviceManifest(
    'talker',
    `  replicas: ${replicas}
  placement: {maxPerNode: 1}
  env:
    API_TOKEN: ${SECRET}
  command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo \\"out $i from $HOSTNAME\\"; echo \\"err $i\\" >&2; sleep 0.2; done"]
`,
  );
const serial = serviceManifest('serial', `  replicas: 1\n  devices: [/dev/ttyOPS9]\n  command: ["sh", "-c", "sleep 1000"]\n`);

beforeAll(async () => {
  fleet = await startFleet([{ name: 'ops-1' }, { name: 'ops-2' }]);
  desired = tempDir('fog-ops-desired-');
  state = tempDir('fog-ops-state-');
  writeNodeManifests(desired, nodes());
  writeManifest(desired, 'services/talker.yaml', talker(2));
  writeManifest(desired, 'services/serial.yaml', serial);
  ctl = startController({ desired, stateDir: state, cluster: 'ops' });
  // serial never runs (no node has its device): talker alone converges.
  await waitFor(
    'talker running on both nodes',
    async () => {
      const doc = await ctl.status();
      const s = doc?.status.services.find((x) => x.name === 'talker');
      return s !== undefined && s.ready === 2 && s.upToDate === 2;
    },
    60_000,
  );
  // A few lines in each replica's log.
  await new Promise((r) => setTimeout(r, 1_500));
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

const LINE = /^(talker-[01]@ops-[12]) +\| (.*)$/;

describe('fogctl logs', () => {
  it("prints every replica's stdout and stderr, each line prefixed with replica@node", async () => {
    const r = await runFogctl(['logs', 'talker', '--server', ctl.socket]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trimEnd().split('\n');
    const err = r.stderr.trimEnd().split('\n');
    const prefixes = new Set(out.map((l) => LINE.exec(l)?.[1]));
    // Which slot is on which node is the scheduler's choice; both slots and both nodes appear.
    expect([...prefixes].sort()).toHaveLength(2);
    expect([...prefixes].map((p) => p?.split('@')[0]).sort()).toEqual(['talker-0', 'talker-1']);
    expect(new Set([...prefixes].map((p) => p?.split('@')[1]))).toEqual(new Set(['ops-1', 'ops-2']));
    for (const l of out) expect(l).toMatch(/^talker-[01]@ops-[12] +\| out \d+ from \w+$/);
    for (const l of err) expect(l).toMatch(/^talker-[01]@ops-[12] +\| err \d+$/);
    // Demultiplexed: no Docker frame header bytes (\x01/\x02 and NULs) leak into the text.
    expect([...(r.stdout + r.stderr)].some((ch) => ch.charCodeAt(0) < 9)).toBe(false);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('--tail N per replica, SERVICE/SLOT for one replica, --timestamps and --since', async () => {
    const tail = await runFogctl(['logs', 'talker', '--tail', '2', '--server', ctl.socket]);
    expect(tail.code, tail.stderr).toBe(0);
    // The last 2 lines of each replica's log (stdout and stderr together, as docker logs counts them).
    const count = tail.stdout.trimEnd().split('\n').length + tail.stderr.trimEnd().split('\n').length;
    expect(count).toBe(4);

    const one = await runFogctl(['logs', 'talker/1', '--tail', '3', '--timestamps', '--server', ctl.socket]);
    expect(one.code, one.stderr).toBe(0);
    for (const l of one.stdout.trimEnd().split('\n')) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z talker-1@ops-[12] +\| out \d+ from \w+$/);

    const recent = await runFogctl(['logs', 'talker', '--since', '1s', '--server', ctl.socket]);
    const all = await runFogctl(['logs', 'talker', '--server', ctl.socket]);
    expect(recent.code, recent.stderr).toBe(0);
    expect(recent.stdout.split('\n').length).toBeLessThan(all.stdout.split('\n').length);

    const none = await runFogctl(['logs', 'no-such-service', '--server', ctl.socket]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: no replica of no-such-service \(cluster ops\) on the 2 node\(s\) of .*fogctl get services/);
  });

  it('-f follows both replicas, merged in time order', async () => {
    const p = spawn(process.execPath, [FOGCTL, 'logs', 'talker', '-f', '--tail', '0', '--timestamps', '--server', ctl.socket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('followed lines of both replicas', () => Promise.resolve(/talker-0@/.test(out) && /talker-1@/.test(out) && out.split('\n').length > 12), 30_000);
    } finally {
      p.kill('SIGINT');
    }
    await new Promise((r) => p.once('exit', r));
    const lines = out.trimEnd().split('\n');
    const stamps = lines.map((l) => Date.parse(l.slice(0, l.indexOf(' '))));
    // Ordered by the engines' timestamps (whole milliseconds here: the merge compares nanoseconds).
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThanOrEqual(stamps[i - 1]!);
    expect(out).not.toContain(SECRET);
  });
});

function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: ctl.socket, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 && String(res.headers['content-type']).startsWith('text/plain') ? resolve(body) : reject(new Error(`${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics', () => {
  it('matches the status document and the engines', async () => {
    const text = await scrape();
    const doc = (await ctl.status())!;
    const running = (await containersOn(nodes())).filter((c) => c.state === 'running' && c.service === 'talker');
    expect(running).toHaveLength(2);
    expect(metric(text, 'fog_nodes', { state: 'ready' })).toBe(2);
    expect(metric(text, 'fog_nodes', { state: 'not_ready' })).toBe(0);
    expect(metric(text, 'fog_node_ready', { node: 'ops-1' })).toBe(1);
    for (const s of doc.status.services) {
      expect(metric(text, 'fog_service_replicas_desired', { service: s.name })).toBe(s.desired);
      expect(metric(text, 'fog_service_replicas_ready', { service: s.name })).toBe(s.ready);
      expect(metric(text, 'fog_service_replicas_up_to_date', { service: s.name })).toBe(s.upToDate);
    }
    expect(metric(text, 'fog_service_replicas_ready', { service: 'talker' })).toBe(running.length);
    expect(metric(text, 'fog_unschedulable_replicas', { service: 'serial', reason: 'NodeDevices' })).toBe(1);
    expect(metric(text, 'fog_actions_total', { action: 'create', result: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'fog_reconcile_passes_total', { result: 'run' })).toBeGreaterThan(0);
    expect(metric(text, 'fog_reconcile_duration_seconds_count')).toBe(metric(text, 'fog_reconcile_passes_total', { result: 'run' }));
    expect(metric(text, 'fog_engine_request_duration_seconds_count', { node: 'ops-2' })).toBeGreaterThan(0);
    expect(metric(text, 'fog_replica_restarts_total', { service: 'talker' })).toBe(0);
    expect(metric(text, 'fog_build_info')).toBe(1);
    // Two nodes are far below the rate cap: the configured 2 s.
    expect(metric(text, 'fog_heartbeat_interval_seconds')).toBe(2);
    expect(metric(text, 'process_resident_memory_bytes')).toBeGreaterThan(1e6);
    // Conventions: counters end in _total, durations in _seconds; every family has HELP and TYPE.
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (m[2] === 'counter') expect(m[1]).toMatch(/_total$/);
      expect(text).toContain(`# HELP ${m[1]} `);
    }
    // Low cardinality and nothing secret: no container id or name, no env value.
    for (const c of running) {
      expect(text).not.toContain(c.id.slice(0, 12));
      expect(text).not.toContain(c.name);
    }
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/^fog_gitops_/m);
  });
});

describe('fogctl events', () => {
  it('lists the events like kubectl get events, --for one object, and -w streams new ones', async () => {
    const list = await runFogctl(['events', '--server', ctl.socket]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$/);
    expect(list.stdout).toMatch(/Normal +Scheduled +service\/talker +slot \d: ops_talker-\d-\w+ on ops-[12]/);
    expect(list.stdout).toMatch(/Warning +Unschedulable +service\/serial +0\/2 nodes eligible: 2 missing device \/dev\/ttyOPS9/);
    const only = await runFogctl(['events', '--for', 'service/serial', '--server', ctl.socket]);
    expect(only.stdout).not.toContain('service/talker');
    expect(only.stdout).toContain('service/serial');
    const bad = await runFogctl(['events', '--for', 'pod/x', '--server', ctl.socket]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: --for pod\/x: must be service\/NAME or node\/NAME/);

    const p = spawn(process.execPath, [FOGCTL, 'events', '-w', '-o', 'json', '--for', 'service/talker', '--server', ctl.socket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the existing events first', () => Promise.resolve(out.includes('"Scheduled"')), 15_000);
      writeManifest(desired, 'services/talker.yaml', talker(1));
      const e = await waitFor(
        'a ScaleDown event streamed',
        () =>
          Promise.resolve(
            out
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as { reason: string; object: string; message: string })
              .find((x) => x.reason === 'ScaleDown'),
          ),
        30_000,
      );
      expect(e).toMatchObject({ object: 'service/talker', message: expect.stringMatching(/scaling to 1: removing slot 1/) as string });
    } finally {
      p.kill('SIGINT');
    }
    expect(out).not.toContain(SECRET);
  });
});
