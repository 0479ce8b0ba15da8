// The bad-input corpus: every file under test/corpus/bad/ starts with one or
// more `# expect: LINE:COL message-start` lines, and loading it must give
// exactly those errors (file, line, column and message) and no object.
// Hostile inputs too big or too odd to commit are generated here.

import { mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LIMITS, loadDesired, loadText } from '../../src/manifest/index.js';
import { useTmpDir } from './tmp.js';

const CORPUS = 'test/corpus/bad';
const files = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function expectations(text: string): { line: number; col: number; message: string }[] {
  return [...text.matchAll(/^# expect: (\d+):(\d+) (.*)$/gm)].map((m) => ({ line: Number(m[1]), col: Number(m[2]), message: m[3]! }));
}

describe('the bad-manifest corpus', () => {
  it('has at least 40 files, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const f of files) expect(expectations(readFileSync(join(CORPUS, f), 'utf8')), f).not.toHaveLength(0);
  });

  it.each(files)('%s gives its error at its position', async (f) => {
    const path = join(CORPUS, f);
    const result = await loadDesired([path]);
    const wanted = expectations(readFileSync(path, 'utf8'));
    const got = result.errors.map((e) => ({ file: e.file, line: e.line, col: e.col, message: e.message }));
    for (const w of wanted) {
      expect(got, `${f}: ${JSON.stringify(got)}`).toContainEqual({ file: path, line: w.line, col: w.col, message: expect.stringContaining(w.message) });
    }
    expect(result.nodes.length + result.services.length).toBe(0);
  });
});

describe('hostile input, generated', () => {
  const tmp = useTmpDir('all');
  let dir: string;
  beforeEach(() => {
    dir = tmp();
  });

  const only = (errors: { code: string; line: number; col: number }[]) => {
    expect(errors.length).toBeGreaterThan(0);
    return errors[0]!;
  };

  it('refuses 5,000-deep flow nesting without overflowing the stack', () => {
    const text = `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const e = only(loadText('deep.yaml', text).errors);
    expect(e).toMatchObject({ code: 'too-deep', line: 1 });
    expect(e.col).toBeGreaterThan(3);
  });

  it('refuses 5,000-deep mappings in flow and block style', () => {
    const flow = `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`;
    expect(only(loadText('flow.yaml', flow).errors).code).toBe('too-deep');
    const block = Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'); // 5,000 would pass the size limit first
    expect(only(loadText('block.yaml', block).errors).code).toBe('too-deep');
    const seqs = `${'- '.repeat(5000)}x\n`;
    expect(only(loadText('seqs.yaml', seqs).errors).code).toBe('too-deep');
  });

  it('accepts nesting up to the limit', () => {
    const depth = LIMITS.maxDepth - 1; // the document mapping is level 1
    const text = `a: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect(loadText('ok.yaml', text).errors.map((e) => e.code)).not.toContain('too-deep');
    const over = `a: ${'['.repeat(depth + 1)}${']'.repeat(depth + 1)}\n`;
    expect(loadText('over.yaml', over).errors.map((e) => e.code)).toContain('too-deep');
  });

  it('refuses an alias bomb (a billion laughs) quickly', () => {
    const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    // Refused by the alias limit, not by expanding it (the test timeout bounds a hang).
    const e = only(loadText('bomb.yaml', `${lines.join('\n')}\n`).errors);
    expect(e.code).toBe('alias-limit');
    expect(e.line).toBe(2);
  });

  it('refuses more documents than the limit', () => {
    const text = Array.from({ length: LIMITS.maxDocumentsPerFile + 1 }, (_, i) => `---\nn: ${i}\n`).join('');
    const e = only(loadText('many.yaml', text).errors);
    expect(e).toMatchObject({ code: 'too-many-documents', line: 2 * LIMITS.maxDocumentsPerFile + 1, col: 1 });
  });

  it('refuses binary garbage: a NUL byte, or bytes that are not UTF-8', async () => {
    await writeFile(join(dir, 'nul.yaml'), Buffer.from('apiVersion: fog/v1\nkind: \0Node\n'));
    await writeFile(join(dir, 'latin1.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0x0a, 0x62, 0x3a, 0x20, 0xe9, 0x74, 0xe9, 0x0a]));
    const r = await loadDesired([join(dir, 'nul.yaml'), join(dir, 'latin1.yaml')]);
    expect(r.errors.map((e) => [e.file, e.code, e.line, e.col, e.message])).toEqual([
      [join(dir, 'latin1.yaml'), 'not-text', 2, 4, 'not a text file: it is not valid UTF-8'],
      [join(dir, 'nul.yaml'), 'not-text', 2, 7, 'not a text file: it has a NUL byte'],
    ]);
  });

  it('refuses a 50 MB file by its size, without reading it', async () => {
    const path = join(dir, 'huge.yaml');
    const handle = await open(path, 'w');
    await handle.truncate(50 * 1024 * 1024); // sparse: instant, and reading it would be slow
    await handle.close();
    // Read, its zero bytes would give `not-text`; the size code shows it was never read.
    const r = await loadDesired([path]);
    expect(r.errors).toEqual([expect.objectContaining({ file: path, line: 1, col: 1, code: 'file-too-large', message: expect.stringContaining('52428800 bytes') })]);
  });

  it('refuses text over the size limit in loadText as well', () => {
    const e = only(loadText('big.yaml', `# ${'x'.repeat(LIMITS.maxFileBytes)}\n`).errors);
    expect(e.code).toBe('file-too-large');
  });

  it('reports a symlink loop once and still loads the rest', async () => {
    const root = join(dir, 'loop');
    await mkdir(join(root, 'a'), { recursive: true });
    await symlink('..', join(root, 'a', 'back'));
    await symlink('self', join(root, 'self'));
    await writeFile(join(root, 'a', 'svc.yaml'), 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: s}\nspec: {image: busybox}\n');
    const r = await loadDesired([root]);
    expect(r.services.map((s) => s.metadata.name)).toEqual(['s']);
    expect(r.errors.map((e) => [e.file, e.code, e.line, e.col])).toEqual([
      [join(root, 'a', 'back'), 'symlink-loop', 1, 1],
      [join(root, 'self'), 'symlink-loop', 1, 1],
    ]);
  });

  it('refuses more files than the limit', async () => {
    const root = join(dir, 'many');
    await mkdir(root);
    const names = Array.from({ length: LIMITS.maxFiles + 1 }, (_, i) => `f${String(i).padStart(5, '0')}.yaml`);
    for (let i = 0; i < names.length; i += 500) {
      await Promise.all(names.slice(i, i + 500).map((n) => writeFile(join(root, n), '')));
    }
    const r = await loadDesired([root]);
    expect(r.files).toHaveLength(LIMITS.maxFiles);
    expect(r.errors).toEqual([expect.objectContaining({ code: 'too-many-files', line: 1, col: 1 })]);
  }, 60_000);

  it('reports a path that does not exist, and an unreadable file when not root', async () => {
    const r = await loadDesired([join(dir, 'nope')]);
    expect(r.errors).toEqual([expect.objectContaining({ code: 'unreadable', line: 1, col: 1, message: expect.stringContaining('no such file') })]);
    if (process.getuid?.() === 0) return; // root reads everything
    const path = join(dir, 'secret.yaml');
    await writeFile(path, 'a: 1\n', { mode: 0o000 });
    const r2 = await loadDesired([path]);
    expect(r2.errors).toEqual([expect.objectContaining({ code: 'unreadable', message: expect.stringContaining('permission denied') })]);
  });
});
