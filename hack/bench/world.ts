// A realistic generated fleet for the reconcile benchmark: a factory of lines
// (zones), edge and fog tiers, a few hardware types, serial and camera
// devices; services with constraints, devices, reservations, spread,
// maxPerNode, host ports, and some global agents. Deterministic (seeded).

import { parseConstraint } from '../../src/api/constraint.js';
import type { Constraint, DesiredState, FogNode, ObservedContainer, ObservedState, Service } from '../../src/api/types.js';
// The same builders (with every default applied) as the property tests.
import { service, type SpecOpts } from '../../test/reconcile/model.js';
import { DEFAULT_SETTINGS } from '../../src/api/types.js';

const Mi = 1024 * 1024;
const Gi = 1024 * Mi;

/** mulberry32: a tiny seeded PRNG, so every run generates the same world. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function c(text: string): Constraint {
  const p = parseConstraint(text);
  if (!p.ok) throw new Error(`${text}: ${p.error}`);
  return p.constraint;
}

const HW = [
  { cpu: 2000, memory: 4 * Gi },
  { cpu: 4000, memory: 8 * Gi },
  { cpu: 8000, memory: 16 * Gi },
];

export interface BenchWorld {
  desired: DesiredState;
  observed: ObservedState;
  replicas: number;
}

export function generateWorld(nodeCount: number, seed = 1): BenchWorld {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const zones = Array.from({ length: 10 }, (_, i) => `line${i + 1}`);
  const nodes: FogNode[] = [];
  const observed: ObservedState['nodes'][number][] = [];
  for (let i = 0; i < nodeCount; i++) {
    const name = `node-${String(i).padStart(5, '0')}`;
    const hw = pick(HW);
    const devices = [...(rand() < 0.3 ? ['/dev/ttyUSB0'] : []), ...(rand() < 0.15 ? ['/dev/video0'] : [])];
    nodes.push({
      kind: 'Node',
      metadata: { name, labels: { zone: pick(zones), tier: rand() < 0.6 ? 'edge' : 'fog' }, annotations: {} },
      spec: { endpoint: `tcp://${name}:2376`, insecure: false, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, devices, capacity: {}, unschedulable: rand() < 0.01 },
      source: { file: 'nodes.yaml', line: i + 1, col: 1 },
    });
    // A few foreign containers (the factory's own tools) reserve something too.
    const foreign: ObservedContainer[] =
      rand() < 0.2
        ? [{ id: `f-${i}`, name: `scada-${i}`, labels: {}, image: 'scada:1', state: 'running', health: 'none', restartCount: 0, resources: { cpu: 250, memory: 256 * Mi }, hostPorts: ['tcp/502'] }]
        : [];
    observed.push({
      name,
      reachable: rand() > 0.005,
      since: 0,
      lastSeen: 0,
      facts: { engineName: 'docker', arch: rand() < 0.8 ? 'amd64' : 'arm64', os: 'linux', cpu: hw.cpu, memory: hw.memory, labels: { vendor: rand() < 0.5 ? 'siemens' : 'beckhoff' } },
      containers: foreign,
    });
  }

  const services: Service[] = [];
  const svc = (name: string, spec: SpecOpts): void => {
    services.push(service(name, { image: `registry.factory/${name}:1.0`, env: [{ name: 'LOG_LEVEL', value: 'info', secret: false }], ...spec }));
  };

  // Global agents: one everywhere, one on the edge tier only.
  svc('node-exporter', { mode: 'global', network: 'host', ports: [{ container: 9100, protocol: 'tcp' }], resources: { cpu: 50, memory: 32 * Mi } });
  svc('edge-agent', { mode: 'global', resources: { cpu: 100, memory: 64 * Mi }, placement: { constraints: [c('node.labels.tier == edge')] } });
  let replicas = Math.round(nodeCount * 1.6);
  const target = nodeCount * 10;
  let k = 0;
  while (replicas < target) {
    const n = Math.min(target - replicas, 50 + Math.floor(rand() * 400));
    const kind = k % 6;
    const name = `svc-${String(k).padStart(4, '0')}`;
    const resources = { cpu: pick([100, 200, 250, 500]), memory: pick([64, 128, 256, 512]) * Mi };
    if (kind === 0) svc(name, { replicas: n, resources, placement: { spread: 'zone' } });
    else if (kind === 1)
      svc(name, {
        replicas: n,
        resources,
        devices: ['/dev/ttyUSB0'],
        placement: { constraints: [c(`node.labels.zone in [${pick(zones)}, ${pick(zones)}, ${pick(zones)}, ${pick(zones)}]`)], maxPerNode: 2 },
      });
    else if (kind === 2) svc(name, { replicas: n, resources, placement: { constraints: [c('node.labels.tier == fog'), c('node.memory >= 8Gi')], spread: 'zone' } });
    else if (kind === 3) svc(name, { replicas: n, resources, placement: { constraints: [c(`node.arch == ${pick(['amd64', 'amd64', 'arm64'])}`)] } });
    else if (kind === 4) svc(name, { replicas: Math.min(n, 100), resources, ports: [{ container: 8080, host: 20000 + k, protocol: 'tcp' }], placement: { maxPerNode: 1 } });
    else svc(name, { replicas: n, resources: {}, placement: { constraints: [c('node.labels.vendor != beckhoff')] } });
    replicas += kind === 4 ? Math.min(n, 100) : n;
    k++;
  }
  return { desired: { nodes, services, settings: { ...DEFAULT_SETTINGS, cluster: 'bench' } }, observed: { nodes: observed }, replicas };
}
