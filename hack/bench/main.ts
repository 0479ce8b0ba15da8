// npm run bench [-- --quick] [-- --out FILE] [-- NAME ...]: runs the benchmarks
// in BENCHES (or the ones named), prints a table and writes JSON (with the
// CPU count and Node version). Add a benchmark: export
// `async (opts) => Record<string, number>` and list it here.
//
// The fleet benchmark hosts 1,000 hollow engines in this process (a listening
// socket plus the controller's connections each): when the open-file limit is
// too low, main re-executes itself through bash with the limit raised, so the
// plain command works from any shell.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchReconcile } from './reconcile.js';
import { benchFleet } from './fleet.js';
import { benchReal } from './real.js';
import { benchLiveness } from './liveness.js';
import { benchFailover } from './failover.js';
import { benchImages } from './images.js';

export type Bench = (opts: { quick: boolean }) => Promise<Record<string, number>>;

export const BENCHES: readonly { name: string; run: Bench }[] = [
  { name: 'reconcile', run: benchReconcile },
  { name: 'fleet', run: benchFleet },
  { name: 'real', run: benchReal },
  { name: 'liveness', run: benchLiveness },
  { name: 'failover', run: benchFailover },
  { name: 'images', run: benchImages },
];

/** Open files the hollow fleet and its connections need. */
const WANT_FILES = 20_000;
const REEXEC = 'FOG_BENCH_REEXEC';

/** The soft open-file limit (Infinity when unlimited or unknown). */
function openFileLimit(): number {
  const m = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m && m[1] !== 'unlimited' ? Number(m[1]) : Number.POSITIVE_INFINITY;
}

/** Re-runs this process with `ulimit -n` raised (as far as allowed); returns its exit code, or undefined when not needed. */
function withMoreFiles(): number | undefined {
  if (process.env[REEXEC] || openFileLimit() >= WANT_FILES) return undefined;
  const script = `ulimit -n ${WANT_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const r = spawnSync('bash', ['-c', script, process.execPath, ...args], { stdio: 'inherit', env: { ...process.env, [REEXEC]: '1' } });
  return r.status ?? 1;
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const outAt = argv.indexOf('--out');
  const outFile = outAt >= 0 ? argv[outAt + 1] : undefined;
  const only = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--out');
  const limit = openFileLimit();
  if (limit < WANT_FILES) process.stderr.write(`bench: open-file limit ${limit} (wanted ${WANT_FILES}); 1,000 hollow nodes may fail to start\n`);
  // The controller runs from the compiled build (dist/), as installed: build it from this tree first.
  if (process.env.FOG_BENCH_FOGCTL !== 'source') {
    const built = spawnSync(process.execPath, [fileURLToPath(new URL('../build.mjs', import.meta.url))], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('bench: npm run build failed; the benchmarks run the compiled controller');
  }
  const results: Record<string, number> = {};
  for (const b of BENCHES) {
    if (only.length > 0 && !only.includes(b.name)) continue;
    Object.assign(results, await b.run({ quick }));
  }
  const machine = { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown' };
  const rows: [string, string][] = [
    ['machine.cpus', String(machine.cpus)],
    ['machine.node', machine.node],
    ...Object.entries(results).map(([k, v]): [string, string] => [k, String(Number.isInteger(v) ? v : Math.round(v * 100) / 100)]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  const report = { date: new Date().toISOString(), ...machine, quick, results };
  if (outFile !== undefined) writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
}

const code = withMoreFiles();
if (code === undefined) await main(process.argv.slice(2));
else process.exitCode = code;
