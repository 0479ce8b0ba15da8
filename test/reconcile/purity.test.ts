// The pure core stays pure: nothing it imports, directly or not, does I/O,
// reads the clock or draws random numbers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;
const FORBIDDEN_IMPORTS = /^(node:)?(fs|fs\/promises|net|http|https|child_process|dgram|dns|tls|worker_threads|timers|timers\/promises|perf_hooks|os|crypto)$|^dockerode$/;
const FORBIDDEN_CALLS = /\bDate\.now\b|\bnew Date\b|\bMath\.random\b|\bperformance\b|\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bprocess\./;

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:import|export)\s+(?!type\b)[^'";]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** Every source file reachable by value imports from the pure core. */
function closure(): string[] {
  const start = [
    ...['schedule', 'reconcile'].flatMap((d) =>
      readdirSync(join(SRC, d))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(SRC, d, f)),
    ),
    // The decisions of leader election and conflicts are pure too (their shell is the rest of src/ha).
    join(SRC, 'ha/decide.ts'),
  ];
  const seen = new Set<string>(start);
  const todo = [...start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target) && !seen.has(target)) {
        seen.add(target);
        todo.push(target);
      }
    }
  }
  return [...seen].sort();
}

describe('purity of src/schedule and src/reconcile (and everything they import)', () => {
  for (const file of closure()) {
    it(file.slice(SRC.length), () => {
      const text = readFileSync(file, 'utf8');
      for (const spec of importsOf(text)) {
        expect(FORBIDDEN_IMPORTS.test(spec), `${spec} imported`).toBe(false);
        expect(spec.startsWith('.'), `${spec}: only project modules`).toBe(true);
      }
      const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      expect(code.match(FORBIDDEN_CALLS)?.[0]).toBeUndefined();
    });
  }
});
