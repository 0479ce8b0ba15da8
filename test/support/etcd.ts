// Real etcd members for tests (Debian's etcd-server), one or three, on
// loopback ports picked free, each in its own temp dir. Startup failure
// throws: a test that needs etcd fails, never skips, when there is none.
// stop() kills every member and removes the dirs.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort } from '../security/certs.js';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  /** SIGKILL and wait (the data dir stays: start() brings it back with its data). */
  kill(): Promise<void>;
  start(): void;
  /** SIGSTOP: the member hangs (a partition, seen from its clients and peers). */
  freeze(): void;
  thaw(): void;
  running(): boolean;
}

export interface Etcd {
  members: EtcdMember[];
  /** Every member's client URL, comma-separated (for --ha-etcd). */
  urls: string;
  /** Waits until a member answers /health with a leader. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** TLS for the client URLs: the server pair, and the CA clients must be signed by (etcd --client-cert-auth); `client` is a pair the health check uses. */
export interface EtcdTlsFiles {
  ca: string;
  cert: string;
  key: string;
  client: { cert: string; key: string };
}

export async function startEtcd(size: 1 | 3, opts: { tls?: EtcdTlsFiles } = {}): Promise<Etcd> {
  const tls = opts.tls;
  const scheme = tls ? 'https' : 'http';
  const probe = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`etcd is not installed or does not run (${probe.error?.message ?? probe.stderr}): apt-get install etcd-server (.ci/run does)`);
  const dir = mkdtempSync('/tmp/fog-etcd-');
  const token = `fog-test-${process.pid}-${Date.now()}`;
  const specs: { name: string; client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) specs.push({ name: `m${i + 1}`, client: await freePort(), peer: await freePort() });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  const launch = (s: (typeof specs)[number]) => {
    const p = spawn(
      'etcd',
      [
        '--name',
        s.name,
        '--data-dir',
        join(dir, s.name),
        '--listen-client-urls',
        `${scheme}://127.0.0.1:${s.client}`,
        '--advertise-client-urls',
        `${scheme}://127.0.0.1:${s.client}`,
        ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : []),
        '--listen-peer-urls',
        `http://127.0.0.1:${s.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${s.peer}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        token,
        '--initial-cluster-state',
        'new',
        // Quick elections on loopback (etcd's minimum lease TTL follows: 1.5 × election timeout).
        '--heartbeat-interval',
        '100',
        '--election-timeout',
        '1000',
        '--log-level',
        'warn',
        '--logger',
        'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } },
    );
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    p.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    p.on('exit', () => logs.set(s.name, out));
    procs.set(s.name, p);
  };
  for (const s of specs) launch(s);
  const alive = (name: string) => {
    const p = procs.get(name);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  };
  const killOne = async (name: string) => {
    const p = procs.get(name);
    if (!p || !alive(name)) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
  };
  const members: EtcdMember[] = specs.map((s) => ({
    name: s.name,
    clientUrl: `${scheme}://127.0.0.1:${s.client}`,
    kill: () => killOne(s.name),
    start: () => {
      if (!alive(s.name)) launch(s);
    },
    freeze: () => procs.get(s.name)?.kill('SIGSTOP'),
    thaw: () => procs.get(s.name)?.kill('SIGCONT'),
    running: () => alive(s.name),
  }));
  const etcd: Etcd = {
    members,
    urls: members.map((m) => m.clientUrl).join(','),
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        for (const m of members) {
          if (!m.running()) continue;
          try {
            const body = tls ? await healthTls(m.clientUrl, tls) : ((await (await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1_000) })).json()) as { health?: string });
            if (body.health === 'true') return;
            last = JSON.stringify(body);
          } catch (err) {
            last = (err as Error).message;
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      const dead = [...logs].map(([n, l]) => `${n} exited: ${l.slice(-800)}`).join('\n');
      throw new Error(`etcd did not become healthy within ${timeoutMs} ms (last: ${last})\n${dead}`);
    },
    async stop() {
      for (const m of members) await m.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await etcd.ready();
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  return etcd;
}

function healthTls(url: string, tls: EtcdTlsFiles): Promise<{ health?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/health', url), { ca: readFileSync(tls.ca), cert: readFileSync(tls.client.cert), key: readFileSync(tls.client.key), timeout: 1_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as { health?: string });
        } catch {
          reject(new Error(`etcd /health answered with something that is not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
