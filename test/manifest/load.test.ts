// loadDesired over real folders: discovery, per-object isolation and the
// cross-object checks, plus the example fleet in desired/.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatError, loadDesired } from '../../src/manifest/index.js';
import { useTmpDir } from './tmp.js';

const svc = (name: string, extra = '') => `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n${extra}`;

const tmp = useTmpDir('each');
async function put(rel: string, text: string): Promise<string> {
  const path = join(tmp(), rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

describe('loadDesired', () => {
  it('walks folders recursively for .yaml and .yml, skipping hidden entries and other files', async () => {
    await put('a.yaml', svc('a'));
    await put('sub/deeper/b.yml', svc('b'));
    await put('sub/notes.txt', 'not yaml');
    await put('sub/c.YAML', svc('c'));
    await put('.git/config.yaml', svc('hidden-tmp()'));
    await put('sub/.draft.yaml', svc('hidden-file'));
    const r = await loadDesired([tmp()]);
    expect(r.errors).toEqual([]);
    expect(r.services.map((s) => s.metadata.name).sort()).toEqual(['a', 'b', 'c']);
    expect(r.files).toEqual([join(tmp(), 'a.yaml'), join(tmp(), 'sub/c.YAML'), join(tmp(), 'sub/deeper/b.yml')]);
  });

  it('loads a file named explicitly whatever its extension, and each real file once', async () => {
    const path = await put('fleet.txt', svc('a'));
    const r = await loadDesired([path, path, tmp()]);
    expect(r.services).toHaveLength(1);
    expect(r.errors).toEqual([]);
  });

  it('one bad file among 100 good ones leaves 99 services loaded', async () => {
    for (let i = 0; i < 100; i++) await put(`svc-${i}.yaml`, svc(`svc-${i}`, i === 42 ? '  replicas: two\n' : ''));
    const r = await loadDesired([tmp()]);
    expect(r.services).toHaveLength(99);
    expect(r.errors.map(formatError)).toEqual([`${join(tmp(), 'svc-42.yaml')}:7:13: spec.replicas must be an integer >= 0, got "two"`]);
  });

  it('names files as the user gave the path', async () => {
    await put('x/bad.yaml', svc('a', '  replica: 1\n'));
    const cwd = process.cwd();
    process.chdir(tmp());
    try {
      const r = await loadDesired(['x/']);
      expect(r.errors.map(formatError)).toEqual(['x/bad.yaml:7:3: unknown field "replica" in spec, did you mean "replicas"?']);
      expect(r.files).toEqual(['x/bad.yaml']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses two objects of one kind and name in different files, on both, and uses neither', async () => {
    await put('one.yaml', svc('dup'));
    await put('two.yaml', `# a comment\n${svc('dup')}`);
    await put('node.yaml', 'apiVersion: fog/v1\nkind: Node\nmetadata: {name: dup}\nspec: {endpoint: "unix:///s"}\n');
    const r = await loadDesired([tmp()]);
    expect(r.services).toEqual([]);
    expect(r.nodes.map((n) => n.metadata.name)).toEqual(['dup']); // another kind may share the name
    expect(r.errors.map((e) => [e.file, e.line, e.col, e.code])).toEqual([
      [join(tmp(), 'one.yaml'), 4, 9, 'duplicate-object'],
      [join(tmp(), 'two.yaml'), 5, 9, 'duplicate-object'],
    ]);
  });

  it('drops a service whose reference names an invalid service, saying so', async () => {
    await put('a.yaml', svc('a', '  dependsOn: [b]\n'));
    await put('b.yaml', svc('b', '  replicas: -1\n'));
    await put('c.yaml', svc('c', '  placement:\n    antiAffinity: [a]\n'));
    const r = await loadDesired([tmp()]);
    expect(r.services).toEqual([]);
    expect(r.errors.map((e) => e.message)).toEqual([
      'spec.dependsOn[0] names service "b", which has errors and is not used',
      'spec.replicas must be an integer >= 0, got -1',
      'spec.placement.antiAffinity[0] names service "a", which has errors and is not used',
    ]);
  });

  it('names a longer cycle on each member and keeps the services outside it', async () => {
    await put('s.yaml', [svc('a', '  dependsOn: [b]\n'), svc('b', '  dependsOn: [c]\n'), svc('c', '  dependsOn: [a]\n'), svc('d', '  dependsOn: [x]\n'), svc('x')].join('---\n'));
    const r = await loadDesired([tmp()]);
    expect(r.services.map((s) => s.metadata.name)).toEqual(['d', 'x']);
    expect(r.errors.map((e) => `${e.object} ${e.message}`)).toEqual([
      'Service/a spec.dependsOn makes a cycle: a → b → c → a',
      'Service/b spec.dependsOn makes a cycle: b → c → a → b',
      'Service/c spec.dependsOn makes a cycle: c → a → b → c',
    ]);
    // A service that depends on a member of a cycle goes too.
    await put('s.yaml', [svc('a', '  dependsOn: [b]\n'), svc('b', '  dependsOn: [a]\n'), svc('d', '  dependsOn: [a]\n')].join('---\n'));
    const r2 = await loadDesired([tmp()]);
    expect(r2.services).toEqual([]);
    expect(r2.errors.at(-1)?.message).toBe('spec.dependsOn[0] names service "a", which has errors and is not used');
  });

  it('handles a dependsOn chain of 5,000 services without recursion', async () => {
    const docs = Array.from({ length: 5000 }, (_, i) => svc(`s${i}`, i > 0 ? `  dependsOn: [s${i - 1}]\n` : ''));
    for (let f = 0; f < 50; f++) await put(`f${f}.yaml`, docs.slice(f * 100, f * 100 + 100).join('---\n'));
    const r = await loadDesired([tmp()]);
    expect(r.errors).toEqual([]);
    expect(r.services).toHaveLength(5000);
  });
});

describe('the example fleet in desired/', () => {
  it('validates with no errors and runs only the local busybox image on host or no network', async () => {
    const r = await loadDesired(['desired']);
    expect(r.errors.map(formatError)).toEqual([]);
    expect(r.nodes.map((n) => n.metadata.name).sort()).toEqual(['gateway-1', 'press-1', 'press-2']);
    expect(r.services.length).toBeGreaterThanOrEqual(5);
    for (const s of r.services) {
      expect(s.spec.image).toBe('fog/busybox:latest');
      expect(['host', 'none']).toContain(s.spec.network);
      expect(s.spec.command?.length).toBeGreaterThan(0);
    }
    for (const n of r.nodes) expect(n.spec.endpoint).toBe(`unix:///var/run/fog-fleet/${n.metadata.name}/docker.sock`);
  });

  it('is the default path', async () => {
    const r = await loadDesired([]);
    expect(r.files.every((f) => f.startsWith('desired/'))).toBe(true);
    expect(r.services.length).toBeGreaterThanOrEqual(5);
  });
});
