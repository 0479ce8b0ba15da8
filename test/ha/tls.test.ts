// Leader election over mutual TLS (issue 14): etcd with --client-cert-auth;
// a controller with --ha-ca/--ha-cert/--ha-key signed by etcd's client CA
// leads; one whose certificate another CA signed is refused by etcd and
// says so in its status, never acting. No engine: the folder names no node.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFogctl, startController, tempDir, waitFor, type RunningController } from '../e2e/harness.js';
import { issue, makeCa } from '../security/certs.js';
import { startEtcd, type Etcd } from '../support/etcd.js';

let etcd: Etcd;
const dirs: string[] = [];
const ctls: RunningController[] = [];
let pki: string;
let good: { cert: string; key: string };
let bad: { cert: string; key: string };
let caCert: string;

beforeAll(async () => {
  pki = tempDir('fog-ha-pki-');
  dirs.push(pki);
  const ca = await makeCa(join(pki, 'ca'), 'fog etcd test CA');
  const rogue = await makeCa(join(pki, 'rogue'), 'another CA');
  caCert = ca.cert;
  // etcd's own gateway dials its gRPC server with the server pair, hence both usages.
  const server = await issue(ca, join(pki, 'server'), 'server', { cn: 'etcd', san: 'IP:127.0.0.1', usage: 'serverAuth,clientAuth' });
  good = await issue(ca, join(pki, 'good'), 'client', { cn: 'fogctl', usage: 'clientAuth' });
  bad = await issue(rogue, join(pki, 'bad'), 'client', { cn: 'fogctl', usage: 'clientAuth' });
  etcd = await startEtcd(1, { tls: { ca: ca.cert, cert: server.cert, key: server.key, client: good } });
}, 120_000);

afterAll(async () => {
  for (const c of ctls) await c.kill();
  await etcd?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(name: string, pair: { cert: string; key: string }): RunningController {
  const desired = tempDir(`fog-ha-tls-${name}-`);
  const state = tempDir(`fog-ha-tls-${name}-state-`);
  dirs.push(desired, state);
  mkdirSync(join(desired, 'services'), { recursive: true });
  const c = startController({
    desired,
    stateDir: state,
    cluster: 'tls',
    extra: ['--ha-etcd', etcd.urls, '--ha-ca', caCert, '--ha-cert', pair.cert, '--ha-key', pair.key, '--ha-lease', '3s', '--ha-renew-deadline', '2s', '--ha-retry-period', '500ms'],
  });
  ctls.push(c);
  return c;
}

describe('etcd over mutual TLS', () => {
  it('a controller with a certificate of etcd client CA leads; one signed by another CA is refused and never acts', async () => {
    const ok = run('good', good);
    await waitFor('the good controller to lead', async () => (await ok.status())?.control?.election?.role === 'leader', 30_000, 100);
    const refused = run('bad', bad);
    const doc = await waitFor('the refused controller to say why', async () => {
      const d = await refused.status();
      return d?.control?.election?.etcdError ? d : undefined;
    });
    expect(doc.control?.state).toBe('standby');
    expect(doc.control?.reason).toMatch(/etcd does not answer/);
    // No secret material in what the status says.
    expect(JSON.stringify(doc)).not.toMatch(/PRIVATE KEY/);
  });

  it('TLS flags are checked before anything starts: all three or none, and https:// with them', async () => {
    const desired = tempDir('fog-ha-tls-flags-');
    dirs.push(desired);
    const half = await runFogctl(['run', '--desired', desired, '--state-dir', join(desired, '.fog'), '--ha-etcd', etcd.urls, '--ha-cert', good.cert]);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain('--ha-ca, --ha-cert and --ha-key go together');
    const plain = await runFogctl([
      'run',
      '--desired',
      desired,
      '--state-dir',
      join(desired, '.fog'),
      '--ha-etcd',
      etcd.urls.replace('https:', 'http:'),
      '--ha-ca',
      caCert,
      '--ha-cert',
      good.cert,
      '--ha-key',
      good.key,
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/use https:\/\//);
    const lease = await runFogctl(['run', '--desired', desired, '--state-dir', join(desired, '.fog'), '--ha-etcd', etcd.urls, '--ha-lease', '1s']);
    expect(lease.code).toBe(1);
    expect(lease.stderr).toMatch(/--ha-lease 1000ms: must be whole seconds, at least 2s/);
  });
});
