// Properties of the loader. All of them are cheap (a few ms a run: one or two
// in-memory loads), so all run FAST_CHECK_RUNS times (default 1000).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { FogObject } from '../../src/api/types.js';
import { formatError, loadText, serializeObject } from '../../src/manifest/index.js';
import { manifest } from './arbitraries.js';
import { fastCheckRuns } from '../support/runs.js';

const RUNS = fastCheckRuns();
/** A few ms a run, with room for a slow machine. */
const TIMEOUT = 30_000 + RUNS * 20;

const withoutSource = ({ source: _source, ...rest }: FogObject) => rest;

function loadOne(text: string): FogObject {
  const r = loadText('gen.yaml', text);
  if (r.errors.length > 0) throw new Error(`${r.errors.map(formatError).join('\n')}\n---\n${text}`);
  expect(r.objects).toHaveLength(1);
  return r.objects[0]!;
}

function allErrorsLocated(file: string, text: string): void {
  const r = loadText(file, text);
  const lines = text.split('\n').length;
  for (const e of r.errors) {
    expect(e.file).toBe(file);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.col).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines);
    expect(e.message.length).toBeGreaterThan(0);
  }
}

describe('properties', () => {
  it(
    `any generated valid Service or Node loads, and survives serializeObject → loadText unchanged (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(manifest, (raw) => {
          const first = loadOne(stringify(raw));
          const again = loadOne(serializeObject(first));
          expect(withoutSource(again)).toEqual(withoutSource(first));
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  const seeds = [
    ...readdirSync('desired', { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join('desired', f), 'utf8')),
  ];
  const edit = fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
    fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('[', '{', '&a ', '*a', '"', "'", ': ', '- ', '\t', '\n', '  ', '#', '---\n', '%YAML 1.1\n', '\0', '!!', '|', '>')),
    }),
    fc.record({ op: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 2 }) }),
  );
  type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;
  const apply = (text: string, e: Edit): string => {
    const at = text.length === 0 ? 0 : e.at % text.length;
    if (e.op === 'delete') return text.slice(0, at) + text.slice(at + e.length);
    if (e.op === 'insert') return text.slice(0, at) + e.text + text.slice(at);
    return text.slice(0, at) + e.text + text.slice(at + e.text.length);
  };

  it(
    `any mutation of a valid file loads or gives located errors, and never throws (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.constantFrom(...seeds),
            manifest.map((m) => stringify(m)),
          ),
          fc.array(edit, { minLength: 1, maxLength: 5 }),
          (seed, edits) => {
            allErrorsLocated('m.yaml', edits.reduce(apply, seed));
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    `loadText never throws on arbitrary text (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => allErrorsLocated('any.yaml', text)),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    `loadText never throws on arbitrary YAML-shaped values (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => allErrorsLocated('json.yaml', stringify(value))),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});
