// Hollow Docker Engines from the command line:
//
//   node --import tsx hack/hollow/main.ts --nodes 1000 --dir /tmp/h1 --latency 20ms \
//     [--zones 4] [--device /dev/ttyUSB0 --device-every 10] [--ncpu 4] [--memory 8Gi] \
//     [--error-rate 0.01] [--die-after 30s --die-exit 1] [--manifests desired/]
//
// Prints `NAME unix://SOCKET` per node, then serves until SIGINT/SIGTERM.
// Labels: zone=z<i mod zones>, line=l<i mod 8>; --manifests writes a Node
// manifest per node there. Raise `ulimit -n` above twice the node count.

import { parseArgs } from 'node:util';
import { parseDuration, parseMemory } from '../../src/api/quantity.js';
import { startHollowFleet } from './fleet.js';
import { writeNodeManifests } from './manifests.js';

function duration(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const d = parseDuration(v);
  if (!d.ok) throw new Error(`${flag} ${v}: ${d.error}`);
  return d.value;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      nodes: { type: 'string', default: '10' },
      dir: { type: 'string' },
      latency: { type: 'string' },
      zones: { type: 'string', default: '4' },
      device: { type: 'string' },
      'device-every': { type: 'string', default: '10' },
      ncpu: { type: 'string', default: '4' },
      memory: { type: 'string', default: '8Gi' },
      'error-rate': { type: 'string' },
      'die-after': { type: 'string' },
      'die-exit': { type: 'string', default: '1' },
      manifests: { type: 'string' },
    },
  });
  if (!a.dir) throw new Error('--dir is required (keep it short: unix socket paths are at most 108 bytes)');
  const zones = Number(a.zones);
  const every = Number(a['device-every']);
  const mem = parseMemory(a.memory);
  if (!mem.ok) throw new Error(`--memory ${a.memory}: ${mem.error}`);
  const dieAfter = duration('--die-after', a['die-after'], 0);
  const fleet = await startHollowFleet({
    count: Number(a.nodes),
    dir: a.dir,
    latencyMs: duration('--latency', a.latency, 0),
    labels: (i) => ({ zone: `z${i % zones}`, line: `l${i % 8}` }),
    devices: (i) => (a.device && i % every === 0 ? [a.device] : []),
    ncpu: () => Number(a.ncpu),
    memTotal: () => mem.value,
    ...(dieAfter > 0 ? { dies: [{ afterMs: dieAfter, exitCode: Number(a['die-exit']) }] } : {}),
  });
  if (a['error-rate']) for (const n of fleet.nodes) await fleet.setFault(n.name, { errorRate: Number(a['error-rate']) });
  if (a.manifests) writeNodeManifests(a.manifests, fleet.nodes);
  for (const n of fleet.nodes) process.stdout.write(`${n.name} ${n.endpoint}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await fleet.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`hollow: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
