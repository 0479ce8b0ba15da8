// fogctl sync as an operator runs it: a real process, real exit codes.

import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, service, type Remote } from './fixture.js';

function fogctl(...args: string[]) {
  const r = spawnSync(process.execPath, ['src/cli/fogctl.mjs', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FOG_LOG_LEVEL: 'warn', FOG_LOG_FORMAT: 'json' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let remote: Remote;
beforeAll(async () => {
  remote = await makeRemote();
});
afterAll(() => remote.cleanup());

describe('fogctl sync --once', () => {
  it('syncs, holds a bad revision (exit 3), blocks a large prune until confirmed, and reports', async () => {
    const into = join(remote.root, 'desired');
    const once = () => fogctl('sync', '--repo', remote.url, '--ref', 'main', '--path', 'line1', '--into', into, '--once');
    const good = await remote.commit({ 'line1/a.yaml': service('a'), 'line1/b.yaml': service('b'), 'line1/c.yaml': service('c') }, 'line 1');
    let r = once();
    expect(r.stderr).toContain(`current ${good.slice(0, 12)} line 1 (synced)`);
    expect(r.code).toBe(0);
    expect(await readlink(into)).toBe(`.desired.rev/${good}/line1`);

    await remote.commit(
      { 'line1/a.yaml': 'apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  image: fog/busybox:latest\n  replica: 1\n', 'line1/b.yaml': service('b'), 'line1/c.yaml': service('c') },
      'typo',
    );
    r = once();
    expect(r.stderr).toMatch(/held [0-9a-f]{12} \(invalid\): line1\/a\.yaml:7:3: unknown field "replica" in spec, did you mean "replicas"\?/);
    expect(r.code).toBe(3);
    expect(await readlink(into)).toBe(`.desired.rev/${good}/line1`);

    r = fogctl('sync', 'status', '--into', into);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^State: +Held\n/);
    expect(r.stdout).toContain(`Current:      ${good.slice(0, 12)} line 1`);
    expect(r.stdout).toContain('  line1/a.yaml:7:3: unknown field "replica" in spec, did you mean "replicas"?');

    const drastic = await remote.commit({ 'line1/z.yaml': service('z') }, 'only z');
    r = once();
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('(prune-blocked): would remove 3 of 3 services (a, b, c), more than 50% at once');
    r = fogctl('sync', 'status', '--into', into, '-o', 'json');
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'SyncStatus', state: 'Held', held: { sha: drastic, reason: 'prune-blocked', removed: ['a', 'b', 'c'] } });

    r = fogctl('sync', '--into', into, '--confirm', drastic.slice(0, 8));
    expect(r.code).toBe(0);
    expect(await readFile(join(remote.root, '.desired.confirm'), 'utf8')).toBe(`${drastic.slice(0, 8)}\n`);
    r = once();
    expect(r.code).toBe(0);
    expect(await readlink(into)).toBe(`.desired.rev/${drastic}/line1`);
  });

  it('exits 1 on an unreachable remote and on a target that is a real folder', async () => {
    let r = fogctl('sync', '--repo', join(remote.root, 'missing.git'), '--ref', 'main', '--into', join(remote.root, 'other'), '--once');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: fetch: git fetch: fatal: .*missing\.git/);
    const real = join(remote.root, 'real');
    await mkdir(real);
    r = fogctl('sync', '--repo', remote.url, '--ref', 'main', '--into', real, '--once');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is a real folder, not a sync symlink: it is left untouched');
    r = fogctl('sync', '--ref', 'main', '--into', real);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: --repo is required: the git remote to follow\n');
  });
});
