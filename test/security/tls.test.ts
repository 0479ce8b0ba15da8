// tcp:// engines need mutual TLS. Real dockerd nodes listening with
// --tlsverify on 127.0.0.1, and certificates made here with openssl: the
// right CA, cert and key work end to end (observe, reconcile, executor); a
// different CA, a certificate for another host name, and a missing or foreign
// client certificate are all refused, with no fall-back to plain HTTP. Every
// engine call has a deadline, even against a peer that never answers.

import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, NO_HISTORY, type FogNode } from '../../src/api/types.js';
import { Executor } from '../../src/apply/executor.js';
import { createEngineFleet } from '../../src/controller/engine-fleet.js';
import { dockerOptions, Engine, EngineError } from '../../src/docker/engine.js';
import { formatError, loadText } from '../../src/manifest/index.js';
import { NodeObserver } from '../../src/observe/observer.js';
import { reconcile } from '../../src/reconcile/index.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { freePort, issue, makeCa, serverDir, type Ca } from './certs.js';
import { LOOP, node, service } from './support.js';

let fleet: Fleet;
let pki: string;
let caA: Ca;
let caB: Ca;
let client: { cert: string; key: string };
let rogueClient: { cert: string; key: string };
const port: Record<'good' | 'otherHost', number> = { good: 0, otherHost: 0 };

const now = () => performance.now();
const tlsNode = (name: string, p: number, tls: FogNode['spec']['tls']): FogNode => node(name, { endpoint: `tcp://127.0.0.1:${p}`, ...(tls ? { tls } : {}) });

beforeAll(async () => {
  pki = join('/tmp', `fog-pki-${process.pid}`);
  caA = await makeCa(join(pki, 'ca-a'), 'fog-test-ca-a');
  caB = await makeCa(join(pki, 'ca-b'), 'fog-test-ca-b');
  client = await issue(caA, join(pki, 'client'), 'client', { cn: 'fog-controller', usage: 'clientAuth' });
  rogueClient = await issue(caB, join(pki, 'rogue'), 'client', { cn: 'intruder', usage: 'clientAuth' });
  const good = await serverDir(caA, caA, join(pki, 'srv-good'), 'IP:127.0.0.1,DNS:localhost', '127.0.0.1');
  const otherHost = await serverDir(caA, caA, join(pki, 'srv-other'), 'DNS:other.example', 'other.example');
  port.good = await freePort();
  port.otherHost = await freePort();
  fleet = await startFleet([
    { name: 'tls-good', tcp: port.good, tls: good },
    { name: 'tls-other', tcp: port.otherHost, tls: otherHost },
  ]);
});

afterAll(async () => {
  await fleet?.stop();
  if (pki) rmSync(pki, { recursive: true, force: true });
});

async function observe(n: FogNode) {
  const obs = new NodeObserver(n, { now, callTimeoutMs: 5_000 });
  return { obs, state: await obs.observe() };
}

describe('mutual TLS to tcp:// engines (real dockerd --tlsverify)', () => {
  it('observes a node with the right CA, cert and key, and the executor creates a container on it', async () => {
    const n = tlsNode('tls-good', port.good, { ca: caA.cert, ...client });
    expect(dockerOptions(n)).toMatchObject({ protocol: 'https', host: '127.0.0.1', port: String(port.good) });
    const { obs, state } = await observe(n);
    expect(state.error).toBeUndefined();
    expect(state).toMatchObject({ reachable: true, facts: { labels: { 'fog.node': 'tls-good' } } });

    const svc = service('over-tls', LOOP);
    const desired = { nodes: [n], services: [svc], settings: { ...DEFAULT_SETTINGS, cluster: 'tls' } };
    const { actions } = reconcile(desired, { nodes: [state] }, NO_HISTORY, now());
    expect(actions.map((a) => a.type)).toEqual(['create']);
    const results = await new Executor(new Map([['tls-good', obs.engine!]]), { cluster: 'tls', perNodeConcurrency: 1, callTimeoutMs: 10_000, retries: 0 }).execute(actions);
    expect(results.map((r) => r.message ?? 'ok')).toEqual(['ok']);

    // Checked over the node's own unix socket, not through the client under test.
    const c = await new Docker({ socketPath: fleet.node('tls-good').socket }).getContainer(results[0]!.containerId!).inspect();
    expect(c.State.Running).toBe(true);
    expect(c.Config.Labels).toMatchObject({ 'fog.cluster': 'tls', 'fog.service': 'over-tls' });
    expect(c.HostConfig).toMatchObject({ Privileged: false, SecurityOpt: ['no-new-privileges'] });
  });

  it('refuses an engine whose certificate is signed by another CA, with a TLS error and no plain-HTTP retry', async () => {
    const n = tlsNode('tls-good', port.good, { ca: caB.cert, ...client });
    const { state } = await observe(n);
    expect(state.reachable).toBe(false);
    expect(state.error).toMatch(/^TLS handshake failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): unable to verify the first certificate\. Check the Node's spec\.tls/);
    expect(state.facts).toBeUndefined();
    const err = await Engine.forNode(n, { callTimeoutMs: 5_000 })
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).kind).toBe('connection');
    // The port speaks only TLS: a plain-HTTP client (what a fall-back would be) gets nothing useful.
    const plain = await Engine.connect('tls-good', { host: '127.0.0.1', port: port.good, protocol: 'http' }, { callTimeoutMs: 3_000 })
      .ping()
      .catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(EngineError);
  });

  it('refuses an engine whose certificate names another host (other.example for 127.0.0.1)', async () => {
    const n = tlsNode('tls-other', port.otherHost, { ca: caA.cert, ...client });
    const { state } = await observe(n);
    expect(state.reachable).toBe(false);
    expect(state.error).toMatch(/^TLS handshake failed \(ERR_TLS_CERT_ALTNAME_INVALID\): Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1/);
  });

  it('is refused by the engine without a client certificate, or with one from another CA', async () => {
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync(caA.cert);
    const noCert = Engine.connect('tls-good', { host: '127.0.0.1', port: port.good, protocol: 'https', ca }, { callTimeoutMs: 5_000 });
    await expect(noCert.ping()).rejects.toBeInstanceOf(EngineError);
    const rogue = tlsNode('tls-good', port.good, { ca: caA.cert, ...rogueClient });
    const { state } = await observe(rogue);
    expect(state.reachable).toBe(false);
    expect(state.error).toMatch(/^TLS handshake failed \(ERR_SSL_.*bad certificate/);
  });
});

describe('tcp:// endpoints without mutual TLS', () => {
  it('refuses a Node with only some of ca, cert and key at load time, at the field', () => {
    for (const [tls, missing] of [
      ['{ca: /c.pem, cert: /x.pem}', 'key'],
      ['{ca: /c.pem}', 'cert, key'],
      ['{cert: /x.pem, key: /k.pem}', 'ca'],
    ] as const) {
      const r = loadText('n.yaml', `apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: n\nspec:\n  endpoint: tcp://10.0.0.5:2376\n  tls: ${tls}\n`);
      expect(r.objects).toEqual([]);
      expect(r.errors.map(formatError)).toEqual([`n.yaml:7:8: spec.tls must name all of ca, cert and key; missing ${missing}`]);
    }
  });

  it('refuses plain tcp:// unless insecure: true is written, in the loader and in the client', () => {
    const r = loadText('n.yaml', 'apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: n\nspec:\n  endpoint: tcp://10.0.0.5:2375\n');
    expect(r.errors.map(formatError)).toEqual([expect.stringMatching(/^n\.yaml:6:13: spec\.endpoint is tcp:\/\/ without spec\.tls/)]);
    expect(() => dockerOptions(node('n', { endpoint: 'tcp://10.0.0.5:2375' }))).toThrow(/refusing plain tcp/);
    expect(dockerOptions(node('n', { endpoint: 'tcp://10.0.0.5:2375', insecure: true }))).toMatchObject({ protocol: 'http' });
  });

  it('never falls back to plain HTTP when TLS files are missing or empty paths', () => {
    for (const tls of [
      { ca: '/nonexistent/ca.pem', cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' },
      { ca: '', cert: '', key: '' },
    ]) {
      let err: unknown;
      try {
        dockerOptions(node('n', { endpoint: 'tcp://127.0.0.1:2376', tls }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind).toBe('config');
      expect((err as EngineError).message).toMatch(/cannot read TLS files/);
    }
  });

  it('logs a warning for an insecure tcp:// node every time the controller starts', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ level: 'info' }, sink);
    const insecure = node('plain', { endpoint: `tcp://127.0.0.1:${await freePort()}`, insecure: true });
    for (let start = 0; start < 2; start++) {
      const fleet = createEngineFleet({ clock: { now, wall: () => Date.now() }, logger, callTimeoutMs: 500, cluster: 'x', watchEvents: false });
      fleet.sync([insecure]);
      fleet.sync([insecure]);
      await fleet.close();
    }
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; node?: string }).filter((l) => l.level === 40 && l.node === 'plain');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]!.msg).toMatch(/without TLS/);
  });
});

describe('every engine call has a deadline', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never says a word: neither HTTP nor a TLS handshake completes.
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    silent?.close();
  });

  it('times out a TLS engine that never completes the handshake, and observes it unreachable', async () => {
    const n = tlsNode('silent', silentPort, { ca: caA.cert, ...client });
    const started = performance.now();
    const err = await Engine.forNode(n, { callTimeoutMs: 400 })
      .ping()
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(err).toMatchObject({ kind: 'timeout' });
    const obs = new NodeObserver(n, { now, callTimeoutMs: 400 });
    const state = await obs.observe();
    expect(state).toMatchObject({ reachable: false, error: expect.stringMatching(/no answer within 400 ms/) });
  });

  it('times out every kind of call against a silent plain endpoint', async () => {
    const e = Engine.connect('silent', { host: '127.0.0.1', port: silentPort, protocol: 'http' }, { callTimeoutMs: 300 });
    for (const call of [
      () => e.ping(),
      () => e.info(),
      () => e.listContainers(),
      () => e.inspectContainer('x'),
      () => e.createContainer('x', {}),
      () => e.startContainer('x'),
      () => e.removeContainer('x'),
    ]) {
      const started = performance.now();
      await expect(call()).rejects.toMatchObject({ kind: 'timeout' });
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });
});
