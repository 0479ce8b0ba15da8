// A real Docker registry for tests (Debian's docker-registry, distribution
// 2.8) on a loopback port picked free, its storage and config in its own temp
// dir. Optional basic auth from an htpasswd file made with `htpasswd -Bbn`.
// Startup failure throws: a test that needs a registry fails, never skips.
//
// The test engines (test/support/fleet.ts) pull from it without any flag:
// dockerd treats registries on 127.0.0.0/8 as insecure (plain HTTP) by
// default, and the engines run in the host's network namespace.
//
// Bytes served: the registry writes one access-log line per request to its
// stdout (Apache combined format, `"GET /v2/NAME/blobs/sha256:… HTTP/1.1" 200
// BYTES`); blobBytesServed() sums BYTES over blob GETs answered 200 or 206
// (layers and image configs, not manifests). A line is written when the
// response ends, so a pull cut short counts what was sent until then.
//
// Images get in with skopeo: from a test engine (docker-daemon transport
// over the engine's socket) or from a `docker save` tar (docker-archive).
// pushIndex() assembles an image index (manifest list) from manifests already
// in the repository, through the registry API: the way to make an image with
// only an arm64 variant on an amd64 host.
//
// stop() kills the process and removes the dir; kill()/start() take it down
// and bring it back with its data (a registry that goes away mid-rollout).

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../security/certs.js';

const run = promisify(execFile);

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryOptions {
  /** Basic auth: only this user with this password may push or pull. */
  auth?: { user: string; password: string };
}

export interface Registry {
  /** host:port, the registry part of an image reference (`${host}/repo:tag`). */
  host: string;
  url: string;
  dir: string;
  auth?: { user: string; password: string };
  /** Copy an image from a test engine (its unix socket) to `${host}/${ref}`; returns the manifest digest. */
  pushFromEngine(socket: string, image: string, ref: string): Promise<string>;
  /** Copy a `docker save` tar (one image) to `${host}/${ref}`; returns the manifest digest. */
  pushArchive(tar: string, ref: string): Promise<string>;
  /** Put an image index under repo:tag listing manifests already in repo (by digest), each with its platform; returns the index digest. */
  pushIndex(repo: string, tag: string, entries: readonly { digest: string; platform: Platform }[]): Promise<string>;
  /** The digest repo:tag points at now (what a pull by tag would get). */
  digest(repo: string, tag: string): Promise<string>;
  /** Write a Docker config.json with this registry's credentials (or the ones given) into dir; returns its path. */
  writeDockerConfig(dir: string, creds?: { user: string; password: string }): string;
  /** Bytes the registry has served for blob GETs since it started (or since resetCounters()). */
  blobBytesServed(): number;
  /** Every access-log line so far (for messages when a test fails). */
  accessLog(): string[];
  resetCounters(): void;
  /** SIGKILL, keep the data. */
  kill(): Promise<void>;
  /** Start again after kill() (same port, same data) and wait until it answers. */
  start(): Promise<void>;
  running(): boolean;
  /** Kill it and remove its dir. */
  stop(): Promise<void>;
}

const ACCESS = /"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-)/;

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const probe = spawnSync('docker-registry', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`docker-registry is not installed or does not run (${probe.error?.message ?? probe.stderr}): apt-get install docker-registry (.ci/run does)`);
  const dir = mkdtempSync('/tmp/fog-reg-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const auth = opts.auth;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  if (auth) {
    const h = spawnSync('htpasswd', ['-Bbn', auth.user, auth.password], { encoding: 'utf8' });
    if (h.status !== 0) throw new Error(`htpasswd failed (${h.error?.message ?? h.stderr}): apt-get install apache2-utils`);
    writeFileSync(join(dir, 'htpasswd'), h.stdout);
    lines.push('auth:', '  htpasswd:', '    realm: fog-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');

  let proc: ChildProcess | undefined;
  let log: string[] = [];
  let tail = '';
  let served = 0;
  const alive = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  const onLine = (line: string) => {
    const m = ACCESS.exec(line);
    if (!m) return;
    log.push(line);
    const [, method, path, status, bytes] = m;
    if (method === 'GET' && /\/blobs\/sha256:[0-9a-f]{64}$/.test(path!) && (status === '200' || status === '206') && bytes !== '-') served += Number(bytes);
  };
  const launch = () => {
    const p = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    p.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    p.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    proc = p;
  };
  const basic = auth ? `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` : undefined;
  const headers = (extra: Record<string, string> = {}) => ({ ...extra, ...(basic ? { authorization: basic } : {}) });
  const ready = async (timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!alive()) throw new Error(`docker-registry exited (${proc?.exitCode ?? proc?.signalCode}): ${tail}`);
      try {
        const res = await fetch(`${url}/v2/`, { headers: headers(), signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`docker-registry on ${host} did not answer /v2/ within ${timeoutMs} ms (last: ${last}) ${tail}`);
  };
  const kill = async () => {
    const p = proc;
    if (!p || !alive()) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  };
  const creds = auth ? ['--dest-creds', `${auth.user}:${auth.password}`] : [];
  const skopeo = async (src: string, ref: string, srcFlags: string[] = []) => {
    try {
      await run('skopeo', ['copy', '--quiet', ...srcFlags, '--dest-tls-verify=false', ...creds, src, `docker://${host}/${ref}`], { timeout: 60_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`skopeo copy ${src} → ${host}/${ref} failed: ${e.stderr ?? e.message}`);
    }
    const [repo, tag] = splitRef(ref);
    return registry.digest(repo, tag);
  };

  const registry: Registry = {
    host,
    url,
    dir,
    ...(auth ? { auth } : {}),
    pushFromEngine: (socket, image, ref) => skopeo(`docker-daemon:${image}`, ref, ['--src-daemon-host', `unix://${socket}`]),
    pushArchive: (tar, ref) => skopeo(`docker-archive:${tar}`, ref),
    async pushIndex(repo, tag, entries) {
      const manifests = [];
      for (const e of entries) {
        const res = await fetch(`${url}/v2/${repo}/manifests/${e.digest}`, { method: 'HEAD', headers: headers({ accept: [MEDIA.dockerManifest, MEDIA.ociManifest].join(', ') }) });
        if (res.status !== 200) throw new Error(`pushIndex: ${repo}@${e.digest} is not in the registry (HTTP ${res.status})`);
        manifests.push({ mediaType: res.headers.get('content-type') ?? MEDIA.dockerManifest, size: Number(res.headers.get('content-length')), digest: e.digest, platform: e.platform });
      }
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests });
      const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: headers({ 'content-type': MEDIA.dockerList }), body });
      if (res.status !== 201) throw new Error(`pushIndex: PUT ${repo}:${tag} answered ${res.status}: ${await res.text()}`);
      return `sha256:${createHash('sha256').update(body).digest('hex')}`;
    },
    async digest(repo, tag) {
      const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: headers({ accept: Object.values(MEDIA).join(', ') }) });
      const d = res.headers.get('docker-content-digest');
      if (res.status !== 200 || !d) throw new Error(`${host}/${repo}:${tag}: HEAD manifest answered ${res.status}`);
      return d;
    },
    writeDockerConfig(into, c = auth) {
      if (!c) throw new Error('writeDockerConfig: this registry has no auth and none was given');
      const file = join(into, 'config.json');
      writeFileSync(file, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${c.user}:${c.password}`).toString('base64') } } }, null, 2), { mode: 0o600 });
      return file;
    },
    blobBytesServed: () => served,
    accessLog: () => [...log],
    resetCounters: () => {
      served = 0;
      log = [];
    },
    kill,
    async start() {
      if (!alive()) launch();
      await ready();
    },
    running: alive,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  launch();
  try {
    await ready();
  } catch (err) {
    await registry.stop();
    throw err;
  }
  return registry;
}

function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  if (i < 0 || ref.includes('@')) throw new Error(`want repo:tag, got '${ref}'`);
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/**
 * Make a new image on a test engine from the fleet's busybox tar
 * (`${fleetDir}/image.tar`, written by hack/fleet.sh) with a label, so the
 * same files give a different image (config) digest per `marker`.
 */
export async function importVariant(socket: string, fleetDir: string, image: string, marker: string): Promise<void> {
  await run('docker', ['-H', `unix://${socket}`, 'import', '--change', 'CMD ["sh"]', '--change', `LABEL fog.test.variant=${marker}`, join(fleetDir, 'image.tar'), image], { timeout: 60_000 });
}
