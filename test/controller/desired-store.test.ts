// The desired state in force: last good versions, confirmed removals, and a
// missing folder that changes nothing. Real files in a temp folder.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DesiredStore } from '../../src/controller/desired-store.js';

const svc = (name: string, replicas: number | string = 1) => `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n  replicas: ${replicas}\n`;

let dir: string;
let t: number;
const clock = () => t;

beforeEach(() => {
  dir = mkdtempSync('/tmp/fog-store-');
  t = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const names = (s: DesiredStore) =>
  s
    .current()
    .services.map((x) => `${x.metadata.name}:${x.spec.replicas}`)
    .sort();

describe('DesiredStore', () => {
  it('keeps the last good version of an object whose file turned bad, and reports the error', async () => {
    writeFileSync(join(dir, 'a.yaml'), svc('a', 2));
    const store = new DesiredStore(dir, clock, 500);
    expect((await store.reload()).changed).toBe(true);
    writeFileSync(join(dir, 'a.yaml'), svc('a', 'two'));
    expect((await store.reload()).changed).toBe(false);
    expect(names(store)).toEqual(['a:2']);
    expect(store.current().held).toEqual(['Service/a']);
    expect(store.current().errors[0]!.message).toMatch(/replicas/);
    writeFileSync(join(dir, 'a.yaml'), svc('a', 3));
    await store.reload();
    expect(names(store)).toEqual(['a:3']);
    expect(store.current().held).toEqual([]);
  });

  it('treats a file caught half-written as nothing deleted: removal needs a second look', async () => {
    const full = `${svc('a')}---\n${svc('b')}---\n${svc('c')}`;
    writeFileSync(join(dir, 'line.yaml'), full);
    const store = new DesiredStore(dir, clock, 500);
    await store.reload();
    expect(names(store)).toEqual(['a:1', 'b:1', 'c:1']);
    // Truncated mid-save after the first document: still valid YAML.
    writeFileSync(join(dir, 'line.yaml'), svc('a'));
    const r = await store.reload();
    expect(r.recheckAfterMs).toBe(500);
    expect(names(store)).toEqual(['a:1', 'b:1', 'c:1']);
    // The save completes.
    writeFileSync(join(dir, 'line.yaml'), full);
    t = 100;
    expect((await store.reload()).recheckAfterMs).toBeUndefined();
    expect(names(store)).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('removes an object once it stayed gone for the confirmation time', async () => {
    writeFileSync(join(dir, 'a.yaml'), svc('a'));
    writeFileSync(join(dir, 'b.yaml'), svc('b'));
    const store = new DesiredStore(dir, clock, 500);
    await store.reload();
    rmSync(join(dir, 'b.yaml'));
    t = 1_000;
    await store.reload();
    expect(names(store)).toEqual(['a:1', 'b:1']);
    t = 1_400;
    await store.reload();
    expect(names(store)).toEqual(['a:1', 'b:1']);
    t = 1_500;
    expect((await store.reload()).changed).toBe(true);
    expect(names(store)).toEqual(['a:1']);
  });

  it('keeps everything when the folder is missing, and says so', async () => {
    writeFileSync(join(dir, 'a.yaml'), svc('a'));
    const store = new DesiredStore(dir, clock, 0);
    await store.reload();
    renameSync(dir, `${dir}.moved`);
    try {
      expect((await store.reload()).changed).toBe(false);
      expect(names(store)).toEqual(['a:1']);
      expect(store.current().folderError).toMatch(/does not exist: keeping every object as it was/);
    } finally {
      renameSync(`${dir}.moved`, dir);
    }
    await store.reload();
    expect(store.current().folderError).toBeUndefined();
  });

  it('does not re-parse when no file changed, and notices a new file', async () => {
    writeFileSync(join(dir, 'a.yaml'), svc('a'));
    const store = new DesiredStore(dir, clock, 0);
    await store.reload();
    const gen = store.current().generation;
    expect((await store.reload()).changed).toBe(false);
    expect(store.current().generation).toBe(gen);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'b.yml'), svc('b'));
    expect((await store.reload()).changed).toBe(true);
    expect(names(store)).toEqual(['a:1', 'b:1']);
  });
});
