// Real Docker engines for tests, through hack/fleet.sh (one implementation
// for the demo, CI and tests). Each fleet lives in its own short /tmp dir:
// unix socket paths are limited to 108 bytes. Startup failure throws: a test
// that needs engines must fail, never skip, when there are none.

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FogNode } from '../../src/api/types.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../hack/fleet.sh', import.meta.url));

export const TEST_IMAGE = 'fog/busybox:latest';

export interface FleetNodeSpec {
  name: string;
  labels?: Readonly<Record<string, string>>;
  /** Host paths made as character devices (/dev/null's numbers) when missing. */
  devices?: readonly string[];
  /** Also listen on tcp://127.0.0.1:PORT. */
  tcp?: number;
  /** With `tcp`: mutual TLS, from DIR/ca.pem, server-cert.pem and server-key.pem (--tlsverify). */
  tls?: string;
}

export interface FleetNode {
  name: string;
  socket: string;
  endpoint: string;
}

export interface Fleet {
  dir: string;
  nodes: FleetNode[];
  node(name: string): FleetNode;
  /** A Node manifest for one of the fleet's engines. */
  manifest(name: string, spec?: Partial<FogNode['spec']>): FogNode;
  stop(): Promise<void>;
  stopNode(name: string): Promise<void>;
  startNode(name: string): Promise<void>;
  /** SIGSTOP the node's dockerd and containerd: a hung engine. */
  freezeNode(name: string): Promise<void>;
  thawNode(name: string): Promise<void>;
}

async function fleetSh(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { timeout: 120_000, maxBuffer: 1 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`hack/fleet.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export async function startFleet(specs: readonly FleetNodeSpec[], opts: { dir?: string } = {}): Promise<Fleet> {
  const dir = opts.dir ?? mkdtempSync('/tmp/fog-');
  const args = specs.map((s) => {
    const labels = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    return [s.name, labels.join(','), s.devices?.length ? `dev=${s.devices.join(',')}` : '', s.tcp ? `tcp=${s.tcp}` : '', s.tls ? `tls=${s.tls}` : ''].filter((p, i) => i === 0 || p).join(':');
  });
  try {
    await fleetSh(['up', '--dir', dir, ...args]);
  } catch (err) {
    await fleetSh(['down', '--dir', dir]).catch(() => undefined);
    throw err;
  }
  const nodes = specs.map((s) => ({ name: s.name, socket: `${dir}/${s.name}/docker.sock`, endpoint: `unix://${dir}/${s.name}/docker.sock` }));
  const node = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in this fleet`);
    return n;
  };
  return {
    dir,
    nodes,
    node,
    manifest: (name, spec = {}) => ({
      kind: 'Node',
      metadata: { name, labels: {}, annotations: {} },
      spec: {
        endpoint: node(name).endpoint,
        insecure: false,
        address: '127.0.0.1',
        devices: specs.find((s) => s.name === name)?.devices ?? [],
        capacity: {},
        unschedulable: false,
        ...spec,
      },
      source: { file: `${dir}/fleet`, line: 1, col: 1 },
    }),
    stop: async () => {
      await fleetSh(['down', '--dir', dir]);
    },
    stopNode: async (name) => {
      await fleetSh(['stop', '--dir', dir, node(name).name]);
    },
    startNode: async (name) => {
      await fleetSh(['start', '--dir', dir, node(name).name]);
    },
    freezeNode: async (name) => {
      await fleetSh(['freeze', '--dir', dir, node(name).name]);
    },
    thawNode: async (name) => {
      await fleetSh(['thaw', '--dir', dir, node(name).name]);
    },
  };
}
