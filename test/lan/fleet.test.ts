// The LAN fleet itself (hack/lan.sh through test/support/lan.ts), on two real
// nodes: engines over TCP with mutual TLS, a published port reached from the
// other node through the LAN, and each fault doing what it says: a partition
// is silence (no RST), a frozen engine accepts and never answers, slow delays
// answers, a power cut kills the node's containers and comes back on start,
// and down leaves nothing of the LAN behind. Its own bridge, subnet and dir,
// so it cannot collide with a demo on the defaults or another test.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLan, TEST_IMAGE, type Lan, type LanNode } from '../support/lan.js';

const sh = promisify(execFile);

let lan: Lan | undefined;
let down = false;

beforeAll(async () => {
  const suffix = Math.floor(Math.random() * 200) + 20;
  lan = await startLan(
    [
      { name: 'lan-a', labels: { zone: 'a' } },
      { name: 'lan-b', labels: { zone: 'b' } },
    ],
    { bridge: `fltest${suffix}`, subnet: `10.215.${suffix}.0/24` },
  );
});

afterAll(async () => {
  if (lan && !down) await lan.stop();
});

const the = () => lan!;
const a = () => the().node('lan-a');
const b = () => the().node('lan-b');

/** The node's engine over TCP with the fleet's client certificate. */
function tlsEngine(n: LanNode, timeout = 5_000): Docker {
  const { tls } = the();
  const { hostname, port } = new URL(n.endpoint.replace(/^tcp:/, 'https:'));
  return new Docker({ host: hostname, port: Number(port), protocol: 'https', ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), timeout });
}

const direct = (n: LanNode) => new Docker({ socketPath: n.socket });

/** What a plain TCP connect to the node's engine port sees within `ms`. */
function tcpConnect(n: LanNode, ms: number): Promise<'connected' | 'silence' | string> {
  return new Promise((resolve) => {
    const s = connect(2376, n.address);
    const done = (r: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(r);
    };
    const t = setTimeout(() => done('silence'), ms);
    s.once('connect', () => done('connected'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/**
 * GET /_ping over TLS with the fleet's client certificate: 'OK', 'silence'
 * when nothing at all came back within `ms` (no answer, no error), or the
 * error's code.
 */
function ping(n: LanNode, ms = 1_500): Promise<string> {
  const { tls } = the();
  return new Promise((resolve) => {
    const req = httpsGet(`https://${n.address}:2376/_ping`, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => done(body));
    });
    const done = (r: string) => {
      clearTimeout(t);
      req.destroy();
      resolve(r);
    };
    const t = setTimeout(() => done('silence'), ms);
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | Error;
  do {
    last = await f().catch((e: Error) => e);
    if (!(last instanceof Error) && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < end);
  throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
}

describe('the LAN fleet', () => {
  it('answers over TCP with mutual TLS and refuses a client without a certificate', async () => {
    for (const n of the().nodes) {
      expect(n.endpoint).toBe(`tcp://${n.address}:2376`);
      const info = await tlsEngine(n).info();
      expect(info.Labels).toContain(`fog.node=${n.name}`);
      expect(info.Name).toBeTruthy();
      // The CA is enough to trust the server, but the engine wants a client certificate.
      const anonymous = new Docker({ host: n.address, port: 2376, protocol: 'https', ca: readFileSync(the().tls.ca), timeout: 5_000 });
      await expect(anonymous.ping()).rejects.toThrow();
    }
    const yaml = readFileSync(`${the().dir}/nodes/lan-a.yaml`, 'utf8');
    expect(yaml).toContain(`endpoint: ${a().endpoint}`);
    expect(yaml).toContain(`address: ${a().address}`);
    expect(yaml).toContain(`cert: ${the().tls.cert}`);
    expect(a().manifest().spec.tls).toEqual(the().tls);
  });

  it('publishes a port on one node that a container on the other reaches through the LAN', async () => {
    const web = await tlsEngine(a()).createContainer({
      Image: TEST_IMAGE,
      name: 'lan-web',
      Cmd: ['httpd', '-f', '-p', '80', '-h', '/var/www'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '18080' }] } },
    });
    await web.start();
    const client = await tlsEngine(b()).createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${a().address} 18080 && exit 0; sleep 0.2; done; exit 1`],
    });
    await client.start();
    const { StatusCode } = (await client.wait()) as { StatusCode: number };
    const logs = (await client.logs({ stdout: true, stderr: true })).toString();
    expect(logs).toContain('200 OK');
    expect(logs).toMatch(/\bfog\b/);
    expect(StatusCode).toBe(0);
    await client.remove({ force: true });
    // And from the node's own namespace, with the host's busybox.
    const { stdout } = await sh('nsenter', [`--net=${b().netns}`, 'busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${a().address} 18080`]);
    expect(stdout).toContain('200 OK');
    await web.remove({ force: true });
  });

  it('partition: silence, not a refusal, and heal restores it', async () => {
    await a().partition();
    expect(await tcpConnect(a(), 1_500)).toBe('silence');
    expect(await ping(a())).toBe('silence');
    // The engine itself runs on, asked on its own socket; the other node is untouched.
    expect(String(await direct(a()).ping())).toBe('OK');
    expect(await ping(b())).toBe('OK');
    await a().heal();
    expect(
      await until(
        'a to answer after heal',
        () => ping(a(), 3_000),
        (r) => r === 'OK',
      ),
    ).toBe('OK');
  });

  it('freeze: the engine accepts TCP but never answers; thaw restores it', async () => {
    await b().freeze();
    try {
      expect(await tcpConnect(b(), 1_500)).toBe('connected');
      expect(await ping(b())).toBe('silence');
    } finally {
      await b().thaw();
    }
    expect(
      await until(
        'b to answer after thaw',
        () => ping(b(), 3_000),
        (r) => r === 'OK',
      ),
    ).toBe('OK');
  });

  it('slow: answers of the engine come MS later, over TLS as before; 0 removes it', async () => {
    const timed = async () => {
      const t0 = performance.now();
      expect(await ping(b(), 5_000)).toBe('OK');
      return performance.now() - t0;
    };
    const before = await timed();
    await b().slow(400);
    // The TLS handshake and the answer each wait 400 ms at least.
    expect(await timed()).toBeGreaterThanOrEqual(before + 700);
    await b().slow(0);
    expect(await timed()).toBeLessThan(before + 400);
  });

  it('powercut: the node and its containers are gone, silently; start brings it back', async () => {
    const keeper = await tlsEngine(a()).createContainer({ Image: TEST_IMAGE, name: 'lan-keeper', Cmd: ['sleep', '4242'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    await keeper.start();
    await a().powercut();
    expect(await tcpConnect(a(), 1_500)).toBe('silence');
    const { stdout } = await sh('pgrep', ['-af', 'sleep 4242']).catch(() => ({ stdout: '' }));
    expect(stdout).toBe('');
    const shims = await sh('pgrep', ['-af', `containerd-shim.*${the().dir}/lan-a/`]).catch(() => ({ stdout: '' }));
    expect(shims.stdout).toBe('');
    await a().start();
    expect(await ping(a(), 3_000)).toBe('OK');
    // Its restart policy brings the container back, as after a reboot.
    const info = await until(
      'lan-keeper to run again',
      () => tlsEngine(a()).getContainer('lan-keeper').inspect(),
      (c) => c.State.Running,
    );
    expect(info.State.Running).toBe(true);
  });

  it('down leaves no process, namespace, link, mount, rule or cgroup of the LAN behind', async () => {
    const { dir, bridge } = the();
    down = true;
    await the().stop();
    const out = async (cmd: string, args: string[]) => (await sh(cmd, args).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))).stdout;
    expect(await out('pgrep', ['-af', `containerd-shim.*${dir}/`])).toBe('');
    expect(await out('pgrep', ['-af', `${dir}/`])).toBe('');
    expect(await out('ip', ['netns', 'list'])).not.toContain(`${bridge}-`);
    expect(await out('ip', ['-br', 'link', 'show'])).not.toContain(bridge);
    expect(await out('findmnt', ['-rn', '-o', 'TARGET'])).not.toContain(dir);
    expect(await out('iptables', ['-w', '-S', 'FORWARD'])).not.toContain(`fog-lan:${bridge}`);
    expect(await out('find', ['/sys/fs/cgroup', '-maxdepth', '2', '-name', `fog-${bridge}-*`])).toBe('');
    expect(existsSync(dir)).toBe(false);
  });
});
