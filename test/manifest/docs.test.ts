// docs/manifest.md stays true: its full examples load, its constraint
// examples parse, and it lists every error code and limit.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConstraint } from '../../src/api/constraint.js';
import { ERROR_CODES, formatError, LIMITS, loadText } from '../../src/manifest/index.js';

const doc = readFileSync('docs/manifest.md', 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/manifest.md', () => {
  it('has examples that load without errors', () => {
    const full = blocks.filter((b) => b.startsWith('apiVersion:'));
    expect(full.length).toBeGreaterThanOrEqual(2);
    for (const b of full) expect(loadText('doc.yaml', b).errors.map(formatError)).toEqual([]);
  });

  it('has constraint examples that parse', () => {
    const list = blocks.find((b) => b.startsWith('constraints:'))!;
    const texts = [...list.matchAll(/^ {2}- (.*)$/gm)].map((m) => m[1]!.replace(/^"(.*)"$/, '$1'));
    expect(texts.length).toBeGreaterThan(5);
    for (const t of texts) expect(parseConstraint(t), t).toMatchObject({ ok: true });
  });

  it('documents every error code and every limit', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(doc).toContain(`| \`${code}\` |`);
    for (const name of Object.keys(LIMITS)) expect(doc).toContain(`| \`${name}\` |`);
  });
});
