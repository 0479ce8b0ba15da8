// npm run bench [-- --quick] [-- --out FILE]: runs every benchmark in BENCHES,
// prints a table and writes JSON (with cpu count and node version).
// Add a benchmark: export `async (opts) => Record<string, number>` and list it here.

import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { benchReconcile } from './reconcile.js';
import { benchFleet } from './fleet.js';
import { benchReal } from './real.js';

export type Bench = (opts: { quick: boolean }) => Promise<Record<string, number>>;

export const BENCHES: readonly { name: string; run: Bench }[] = [{ name: 'reconcile', run: benchReconcile }, { name: 'fleet', run: benchFleet }, { name: 'real', run: benchReal }];

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const outAt = argv.indexOf('--out');
  const outFile = outAt >= 0 ? argv[outAt + 1] : undefined;
  const only = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--out');
  const results: Record<string, number> = {};
  for (const b of BENCHES) {
    if (only.length > 0 && !only.includes(b.name)) continue;
    Object.assign(results, await b.run({ quick }));
  }
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(1)}`);
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    quick,
    results,
  };
  if (outFile !== undefined) writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
}

await main(process.argv.slice(2));
