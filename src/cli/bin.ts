#!/usr/bin/env -S node --max-semi-space-size=4
// The fogctl executable. `npm run build` compiles it to dist/cli/bin.js (the
// package's bin); during development src/cli/fogctl.mjs runs it through tsx.
//
// The young generation is capped at 4 MB a semi-space (V8's default grows it
// to 16): at 1,000 idle nodes the controller allocates ~2 MB/s, and the
// bigger new space only held more of it. In paired runs at 1,000 hollow nodes
// it took 20-30 MB off the idle RSS (156.0 and 153.4 MB against 177.2 and
// 187.1) at the same idle CPU (docs/performance.md). V8 reads it only when
// the heap is made, so it is a node flag here, not setFlagsFromString below;
// the benchmarks run the controller with this line's flags.
import { setFlagsFromString } from 'node:v8';
import { main } from './main.js';

// The controller lives long with a small live heap (~50 MB at 1,000 nodes),
// but after a burst (a fleet converging) V8 let the heap grow to 4-5 × that
// and kept it for minutes. A fixed growth factor of 1.2 keeps RSS close to the
// live heap for a few more major GCs, which are incremental and mostly
// concurrent (docs/performance.md). No heap cap: a bigger fleet must never
// crash on one. V8 reads this flag at every GC, so setting it now works;
// a --heap-growing-percent given to node (or in NODE_OPTIONS) wins.
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (command === 'run' && !`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes('--heap-growing-percent')) {
  setFlagsFromString('--heap-growing-percent=20');
}

process.exitCode = await main(process.argv);
