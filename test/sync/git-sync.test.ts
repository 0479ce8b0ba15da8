// GitSync against real repositories: follow the branch, hold what is bad or
// dangerous, never touch the target on failure.

import { lstat, mkdir, readdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSyncStatus, SyncSetupError, type GitSync, type Revision, type SyncStatus } from '../../src/sync/index.js';
import { eventually, makeRemote, newSync, service, type Remote } from './fixture.js';

let remote: Remote;
let sync: GitSync | undefined;
beforeEach(async () => {
  remote = await makeRemote();
});
afterEach(async () => {
  await sync?.stop();
  sync = undefined;
  await remote.cleanup();
});

const target = () => join(remote.root, 'desired');
const readTarget = (file: string) => readFile(join(target(), file), 'utf8').catch(() => undefined);
const three = { 'a.yaml': service('a'), 'b.yaml': service('b'), 'c.yaml': service('c') };

describe('following the branch', () => {
  it('checks out the first revision, then a new commit after one interval, through an atomic symlink', async () => {
    const first = await remote.commit(three, 'three services');
    const swaps: Revision[] = [];
    sync = newSync(remote, { onSwap: (r) => swaps.push(r) });
    await sync.start();
    expect((await lstat(target())).isSymbolicLink()).toBe(true);
    expect(await readlink(target())).toBe(`.desired.rev/${first}`);
    expect(sync.status()).toMatchObject({ state: 'Synced', current: { sha: first, subject: 'three services', author: 'Fog Test <test@fog.local>', services: 3 }, consecutiveFailures: 0 });

    const second = await remote.commit({ ...three, 'b.yaml': service('b', 'v2') }, 'b to v2');
    // Picked up by the interval loop on its own (a deadline of many intervals, not a speed figure).
    await eventually(async () => ((await readTarget('b.yaml'))?.includes('v2') ? true : undefined), 5_000, 'b v2');
    expect(swaps.map((s) => s.sha)).toEqual([first, second]);
    expect(sync.status()).toMatchObject({ current: { sha: second }, previous: first, lastFetch: { ok: true, sha: second } });
    // The status file beside the target says the same.
    expect(await readSyncStatus(join(remote.root, '.desired.sync.json'))).toMatchObject({ state: 'Synced', current: { sha: second } });
  });

  it('syncs a sub-folder with --path and keeps only the current and previous revisions', async () => {
    sync = newSync(remote, { path: 'plant/line1/' });
    let last = '';
    for (let i = 0; i < 4; i++) {
      last = await remote.commit({ 'README.md': 'not a manifest', 'plant/line1/a.yaml': service('a', `v${i}`) });
      expect(await sync.syncOnce()).toBe('synced');
    }
    expect(await readlink(target())).toBe(`.desired.rev/${last}/plant/line1`);
    expect(await readdir(target())).toEqual(['a.yaml']);
    expect((await readdir(join(remote.root, '.desired.rev'))).length).toBe(2);
    expect(await sync.syncOnce()).toBe('unchanged');
  });

  it('follows a tag and a full commit sha', async () => {
    const first = await remote.commit({ 'a.yaml': service('a') });
    await remote.commit({ 'a.yaml': service('a', 'v2') });
    sync = newSync(remote, { ref: first });
    expect(await sync.syncOnce()).toBe('synced');
    expect(await readTarget('a.yaml')).toContain('busybox:latest');
    const work = join(remote.root, 'work');
    const { git } = await import('./fixture.js');
    await git(work, 'tag', '-a', '-m', 'release', 'v2');
    await git(work, 'push', '--quiet', 'origin', 'v2');
    const tagged = newSync(remote, { ref: 'v2' });
    expect(await tagged.syncOnce()).toBe('synced');
    expect(await readTarget('a.yaml')).toContain('busybox:v2');
  });
});

describe('the validation gate', () => {
  it('holds a bad commit with its file:line, keeps the last good one, and resumes on the next good commit', async () => {
    const good = await remote.commit(three);
    sync = newSync(remote);
    expect(await sync.syncOnce()).toBe('synced');
    const bad = await remote.commit({ ...three, 'b.yaml': service('b').replace('replicas: 1', 'replicas: two') }, 'break b');
    expect(await sync.syncOnce()).toBe('held');
    expect(await readlink(target())).toBe(`.desired.rev/${good}`);
    const held = sync.status().held!;
    expect(held).toMatchObject({ sha: bad, subject: 'break b', reason: 'invalid' });
    expect(held.errors).toEqual([expect.objectContaining({ file: 'b.yaml', line: 7, col: 13, message: 'spec.replicas must be an integer >= 0, got "two"' })]);
    expect(held.message).toBe('b.yaml:7:13: spec.replicas must be an integer >= 0, got "two"');
    expect(sync.status().state).toBe('Held');
    expect(await sync.syncOnce()).toBe('held'); // the same bad commit is not judged twice

    const fixed = await remote.commit({ ...three, 'b.yaml': service('b', 'v3') }, 'fix b');
    expect(await sync.syncOnce()).toBe('synced');
    expect(sync.status()).toMatchObject({ state: 'Synced', current: { sha: fixed } });
    expect(sync.status().held).toBeUndefined();
  });

  it('refuses an emptied branch or a wrong --path, and allows an empty one with allowEmpty', async () => {
    const good = await remote.commit({ 'a.yaml': service('a') });
    sync = newSync(remote);
    expect(await sync.syncOnce()).toBe('synced');
    await remote.commit({ 'README.md': 'all gone' }, 'empty it');
    expect(await sync.syncOnce()).toBe('held');
    expect(sync.status().held).toMatchObject({ reason: 'empty', message: expect.stringContaining('refusing to remove every service') });
    expect(await readTarget('a.yaml')).toContain('fog/busybox');

    const wrongPath = newSync(remote, { into: join(remote.root, 'other'), path: 'nope' });
    expect(await wrongPath.syncOnce()).toBe('held');
    expect(wrongPath.status().held?.message).toContain('path nope does not exist');
    await expect(lstat(join(remote.root, 'other'))).rejects.toThrow(/ENOENT/);

    const allowing = newSync(remote, { policy: { allowEmpty: true } });
    expect(await allowing.syncOnce()).toBe('synced');
    expect(await readdir(target())).toEqual(['README.md']);
    expect(await readlink(target())).not.toBe(`.desired.rev/${good}`);
  });

  it('holds a revision that removes more than half the services until it is confirmed', async () => {
    await remote.commit({ ...three, 'd.yaml': service('d') });
    sync = newSync(remote);
    expect(await sync.syncOnce()).toBe('synced');
    const half = await remote.commit({ 'a.yaml': service('a'), 'b.yaml': service('b') }, 'drop c and d');
    expect(await sync.syncOnce()).toBe('synced'); // exactly half: goes through
    expect(sync.status().current?.sha).toBe(half);

    const most = await remote.commit({ 'a.yaml': service('a'), 'x.yaml': service('x') }, 'drop b, add x'); // removes 1 of 2: half
    expect(await sync.syncOnce()).toBe('synced');
    const drastic = await remote.commit({ 'z.yaml': service('z') }, 'replace everything');
    expect(await sync.syncOnce()).toBe('held');
    expect(sync.status().held).toMatchObject({ sha: drastic, reason: 'prune-blocked', removed: ['a', 'x'] });
    expect(await readlink(target())).toBe(`.desired.rev/${most}`);
    expect(await sync.syncOnce()).toBe('held');

    await writeFile(join(remote.root, '.desired.confirm'), 'deadbeefdeadbeef\n'); // another sha: no effect
    expect(await sync.syncOnce()).toBe('held');
    await writeFile(join(remote.root, '.desired.confirm'), `${drastic.slice(0, 10)}\n`);
    expect(await sync.syncOnce()).toBe('synced');
    expect(await readlink(target())).toBe(`.desired.rev/${drastic}`);
    await expect(lstat(join(remote.root, '.desired.confirm'))).rejects.toThrow(/ENOENT/);

    const ratio = newSync(remote, { policy: { maxPruneRatio: 1 } });
    await remote.commit({ 'q.yaml': service('q') });
    expect(await ratio.syncOnce()).toBe('synced');
  });
});

describe('failures never change the target', () => {
  it('an unreachable remote leaves the target untouched, backs off exponentially (capped), and recovers', async () => {
    const good = await remote.commit(three);
    sync = newSync(remote, { intervalMs: 50, maxBackoffMs: 400 });
    await sync.start();
    await rename(remote.bare, `${remote.bare}.away`);
    // The gap before the next attempt grows with the failures in a row:
    // interval 50 ms · 2^n, capped at 400 ms.
    const gaps = new Map<number, number>();
    const next = await eventually(
      () => {
        const s = sync!.status();
        if (s.consecutiveFailures > 0) gaps.set(s.consecutiveFailures, Date.parse(s.nextAttemptAt!) - Date.parse(s.updatedAt));
        return s.consecutiveFailures >= 4 ? s : undefined;
      },
      5_000,
      '4 failures',
    );
    for (const [n, gap] of gaps) expect(gap, `gap after ${n} failures`).toBe(Math.min(50 * 2 ** n, 400));
    expect(gaps.size).toBeGreaterThanOrEqual(3); // polled: a state may be missed under load, not many
    expect(gaps.get(4)).toBe(400);
    expect(next).toMatchObject({ state: 'Error', lastFetch: { ok: false }, lastError: { stage: 'fetch', code: 'git-failed' } });
    expect(next.lastError?.message).toMatch(/^git fetch: fatal: '.*remote\.git' does not appear to be a git repository/);
    expect(await readlink(target())).toBe(`.desired.rev/${good}`);
    expect(await readTarget('a.yaml')).toContain('fog/busybox');

    await rename(`${remote.bare}.away`, remote.bare);
    const newer = await remote.commit({ ...three, 'c.yaml': service('c', 'v2') });
    await eventually(() => (sync!.status().current?.sha === newer ? true : undefined), 3_000, 'recovery');
    expect(sync.status()).toMatchObject({ state: 'Synced', consecutiveFailures: 0, lastFetch: { ok: true } });
  });

  it('status is whole attempts: never the new revision beside the failures before it', async () => {
    await remote.commit(three);
    const atSwap: SyncStatus[] = [];
    sync = newSync(remote, { onSwap: () => atSwap.push(sync!.status()) });
    expect(await sync.syncOnce()).toBe('synced');
    await rename(remote.bare, `${remote.bare}.away`);
    expect(await sync.syncOnce()).toBe('error');
    expect(await sync.syncOnce()).toBe('error');
    await rename(`${remote.bare}.away`, remote.bare);
    const newer = await remote.commit({ ...three, 'c.yaml': service('c', 'v2') });
    // Read the status at every turn of the event loop while the attempt runs.
    const seen: SyncStatus[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        seen.push(sync.status());
        await new Promise((r) => setImmediate(r));
      }
    })();
    expect(await sync.syncOnce()).toBe('synced');
    polling = false;
    await poll;
    expect(seen.length).toBeGreaterThan(2);
    for (const s of seen) {
      if (s.current?.sha === newer) expect(s, 'status with the new revision').toMatchObject({ state: 'Synced', consecutiveFailures: 0, lastFetch: { ok: true } });
      else expect(s, 'status before the new revision').toMatchObject({ consecutiveFailures: 2, state: 'Error' });
    }
    // onSwap (the controller reloads on it) sees the new revision, whole.
    expect(atSwap.map((s) => [s.current?.sha, s.state, s.consecutiveFailures])).toEqual([
      [atSwap[0]!.current?.sha, 'Synced', 0],
      [newer, 'Synced', 0],
    ]);
  });

  it('never shows credentials embedded in the URL', async () => {
    sync = newSync(remote, { repo: 'https://fog:s3cr3t-pw@127.0.0.1:1/plant.git', gitTimeoutMs: 10_000 });
    expect(await sync.syncOnce()).toBe('error');
    const text = JSON.stringify(sync.status()) + (await readFile(join(remote.root, '.desired.sync.json'), 'utf8'));
    expect(text).not.toContain('s3cr3t');
    expect(sync.status().repo).toBe('https://***@127.0.0.1:1/plant.git');
  });

  it('refuses a target that is a real folder and leaves it as it is', async () => {
    await remote.commit(three);
    await mkdir(target());
    await writeFile(join(target(), 'mine.yaml'), service('mine'));
    sync = newSync(remote);
    await expect(sync.start()).rejects.toThrow(SyncSetupError);
    await expect(sync.start()).rejects.toThrow(/is a real folder, not a sync symlink: it is left untouched \(move it aside/);
    expect(await readdir(target())).toEqual(['mine.yaml']);
    expect(await sync.syncOnce()).toBe('error');
    expect(sync.status().lastError).toMatchObject({ stage: 'target', code: 'target-not-ours' });
    expect((await readSyncStatus(join(remote.root, '.desired.sync.json')))?.state).toBe('Error');
  });
});
