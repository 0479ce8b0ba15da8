// A LAN of real Docker engines for tests, through hack/lan.sh: each node a
// network namespace on one bridge, its dockerd reached over TCP with mutual
// TLS at its own address, plus a plain unix socket for checks that must not
// depend on the network. Startup failure throws: a test that needs engines
// must fail, never skip, when there are none.
//
// Each LAN needs its own dir, bridge and subnet so that tests (and someone's
// demo on the defaults) can run at once: pass them, or let startLan pick a
// short random dir and bridge and a subnet from 10.214.0.0/16.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FogNode, NodeTls } from '../../src/api/types.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../hack/lan.sh', import.meta.url));

export const TEST_IMAGE = 'fog/busybox:latest';

export interface LanNodeSpec {
  name: string;
  labels?: Readonly<Record<string, string>>;
  /** Host paths made as character devices (/dev/null's numbers) when missing. */
  devices?: readonly string[];
}

export interface LanOptions {
  /** Default: a new /tmp/fl-XXXXXX. */
  dir?: string;
  /** At most 10 characters. Default: `fl` and 6 random hex digits. */
  bridge?: string;
  /** `A.B.C.0/24`. Default: a random /24 of 10.214.0.0/16. */
  subnet?: string;
}

export interface LanNode {
  name: string;
  /** The node's LAN address. */
  address: string;
  /** `tcp://ADDRESS:2376` (mutual TLS). */
  endpoint: string;
  /** The plain unix socket of the same engine, for direct checks. */
  socket: string;
  /** `/run/netns/NAME`: run something on the node with `nsenter --net=...`. */
  netns: string;
  /** A Node manifest for this engine over TCP with the fleet's client certificate. */
  manifest(spec?: Partial<FogNode['spec']>): FogNode;
  /** Silent: every packet in or out of the node is dropped; the engine keeps running. */
  partition(): Promise<void>;
  heal(): Promise<void>;
  /** Traffic dropped and every process of the node SIGKILLed. `start()` powers it on. */
  powercut(): Promise<void>;
  start(): Promise<void>;
  /** Clean: containers killed, dockerd SIGTERMed. */
  stop(): Promise<void>;
  /** SIGSTOP dockerd and containerd: TCP is accepted, nothing answers. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Every answer of the engine's TCP endpoint held `ms` ms (new connections only); 0 removes it. */
  slow(ms: number): Promise<void>;
}

export interface Lan {
  dir: string;
  bridge: string;
  subnet: string;
  /** The host's address on the bridge (.1). */
  hostAddress: string;
  /** Client material for every node: DOCKER_CERT_PATH-style ca.pem, cert.pem, key.pem. */
  tls: NodeTls;
  nodes: LanNode[];
  node(name: string): LanNode;
  /** `hack/lan.sh status` lines. */
  status(): Promise<string>;
  /** `down`: removes every process, mount, namespace, link and rule of this LAN, and its dir. */
  stop(): Promise<void>;
}

export async function lanSh(args: string[], timeoutMs = 180_000): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 1 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`hack/lan.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** A new short dir name (lan.sh makes the dir itself; mkdtemp only makes the name unique). */
function reserveDir(): string {
  const dir = mkdtempSync('/tmp/fl-');
  rmdirSync(dir);
  return dir;
}

const hex = (n: number) =>
  Math.floor(Math.random() * 16 ** n)
    .toString(16)
    .padStart(n, '0');

export async function startLan(specs: readonly LanNodeSpec[], opts: LanOptions = {}): Promise<Lan> {
  const args = specs.map((s) => {
    const labels = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    return [s.name, labels.join(','), s.devices?.length ? `dev=${s.devices.join(',')}` : ''].filter((p, i) => i === 0 || p).join(':');
  });
  let dir = '';
  let bridge = '';
  let subnet = '';
  let out = '';
  // A random bridge or subnet may already be another LAN's: lan.sh refuses it before touching anything; pick again.
  for (let attempt = 1; ; attempt++) {
    dir = opts.dir ?? reserveDir();
    bridge = opts.bridge ?? `fl${hex(6)}`;
    subnet = opts.subnet ?? `10.214.${Math.floor(Math.random() * 256)}.0/24`;
    try {
      out = await lanSh(['up', '--dir', dir, '--bridge', bridge, '--subnet', subnet, ...args]);
      break;
    } catch (err) {
      const clash = /already exists|already in use|already routed/.test((err as Error).message);
      if (!clash) await lanSh(['down', '--dir', dir]).catch(() => undefined);
      if (!clash || attempt >= 3 || (opts.bridge && opts.subnet)) throw err;
    }
  }
  // `NODE tcp://ADDR:2376 unix://SOCK`
  const lines = new Map(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([name, endpoint, socket]) => [name!, { endpoint: endpoint!, socket: socket!.replace(/^unix:\/\//, '') }]),
  );
  const tls: NodeTls = { ca: `${dir}/certs/client/ca.pem`, cert: `${dir}/certs/client/cert.pem`, key: `${dir}/certs/client/key.pem` };
  const verb =
    (v: string, name: string, ...rest: string[]) =>
    async () =>
      void (await lanSh([v, '--dir', dir, name, ...rest]));
  const nodes: LanNode[] = specs.map((s) => {
    const line = lines.get(s.name);
    if (!line) throw new Error(`hack/lan.sh up printed no line for node ${s.name}:\n${out}`);
    const address = new URL(line.endpoint.replace(/^tcp:/, 'http:')).hostname;
    return {
      name: s.name,
      address,
      endpoint: line.endpoint,
      socket: line.socket,
      netns: `/run/netns/${bridge}-${s.name}`,
      manifest: (spec = {}) => ({
        kind: 'Node',
        metadata: { name: s.name, labels: { ...(s.labels ?? {}) }, annotations: {} },
        spec: { endpoint: line.endpoint, tls, insecure: false, address, devices: s.devices ?? [], capacity: {}, unschedulable: false, ...spec },
        source: { file: `${dir}/nodes/${s.name}.yaml`, line: 1, col: 1 },
      }),
      partition: verb('partition', s.name),
      heal: verb('heal', s.name),
      powercut: verb('powercut', s.name),
      start: verb('start', s.name),
      stop: verb('stop', s.name),
      freeze: verb('freeze', s.name),
      thaw: verb('thaw', s.name),
      slow: (ms: number) => verb('slow', s.name, String(ms))(),
    };
  });
  return {
    dir,
    bridge,
    subnet,
    hostAddress: subnet.replace(/\.0\/24$/, '.1'),
    tls,
    nodes,
    node: (name) => {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name} in this LAN`);
      return n;
    },
    status: () => lanSh(['status', '--dir', dir]),
    stop: async () => void (await lanSh(['down', '--dir', dir])),
  };
}
