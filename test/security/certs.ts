// Test PKI made with openssl: CAs, server certificates (with SANs) and client
// certificates, in the layout dockerd and a Node's spec.tls expect.

import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed (is openssl installed? apt-get install -y openssl): ${(err as Error).message}`);
  }
}

export interface Ca {
  dir: string;
  cert: string;
  key: string;
}

export async function makeCa(dir: string, name: string): Promise<Ca> {
  mkdirSync(dir, { recursive: true });
  const ca = { dir, cert: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem') };
  await openssl(
    [
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      ca.key,
      '-out',
      ca.cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return ca;
}

/** `prefix-cert.pem` and `prefix-key.pem` in `dir`, signed by `ca`. */
export async function issue(
  ca: Ca,
  dir: string,
  prefix: string,
  opts: { cn: string; san?: string; usage: 'serverAuth' | 'clientAuth' | 'serverAuth,clientAuth' },
): Promise<{ cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const out = { cert: join(dir, `${prefix}-cert.pem`), key: join(dir, `${prefix}-key.pem`) };
  const csr = join(dir, `${prefix}.csr`);
  const ext = join(dir, `${prefix}.ext`);
  writeFileSync(ext, `extendedKeyUsage=${opts.usage}\n${opts.san ? `subjectAltName=${opts.san}\n` : ''}`);
  await openssl(['req', ...KEY, '-keyout', out.key, '-out', csr, '-subj', `/CN=${opts.cn}`], dir);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', out.cert, '-days', '2', '-extfile', ext], dir);
  return out;
}

/** A dockerd --tlsverify directory: ca.pem (the CA its clients must be signed by) and its server pair. */
export async function serverDir(clientCa: Ca, signer: Ca, dir: string, san: string, cn: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  copyFileSync(clientCa.cert, join(dir, 'ca.pem'));
  await issue(signer, dir, 'server', { cn, san, usage: 'serverAuth' });
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
