import { defineConfig } from 'vitest/config';

// Real Docker engines are slow to start (seconds) and containers take about
// half a second each here, so end-to-end files get generous timeouts. The
// JSON report feeds the `N passed, N failed` line that .ci/run prints.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.fog/test-results.json' },
  },
});
