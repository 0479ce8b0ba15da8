// The pure parts of sync: the gate, the back-off and URL redaction, as tables.

import { describe, expect, it } from 'vitest';
import type { LoadError } from '../../src/api/types.js';
import { backoffDelay, DEFAULT_POLICY, judgeRevision, redactUrl, type Candidate } from '../../src/sync/index.js';

const err: LoadError = { file: 'line1/b.yaml', line: 7, col: 13, code: 'schema', message: 'spec.replicas must be an integer >= 0, got "two"', object: 'Service/b' };
const cand = (services: string[], over: Partial<Candidate> = {}): Candidate => ({ services, errors: [], pathExists: true, path: 'line1', ...over });

describe('judgeRevision', () => {
  const cases: [string, Candidate, string[] | undefined, Partial<typeof DEFAULT_POLICY>, boolean, string][] = [
    ['first revision', cand(['a']), undefined, {}, false, 'ok'],
    ['invalid beats everything', cand(['a'], { errors: [err, err] }), ['a'], { allowEmpty: true }, true, 'invalid'],
    ['empty folder', cand([]), ['a'], {}, false, 'empty'],
    ['empty first revision', cand([]), undefined, {}, false, 'empty'],
    ['missing path', cand([], { pathExists: false }), ['a'], {}, false, 'empty'],
    ['empty allowed', cand([]), ['a', 'b', 'c'], { allowEmpty: true }, false, 'ok'],
    ['half removed', cand(['a', 'b']), ['a', 'b', 'c', 'd'], {}, false, 'ok'],
    ['more than half removed', cand(['a']), ['a', 'b', 'c'], {}, false, 'prune-blocked'],
    ['… confirmed', cand(['a']), ['a', 'b', 'c'], {}, true, 'ok'],
    ['… ratio raised', cand(['a']), ['a', 'b', 'c'], { maxPruneRatio: 0.7 }, false, 'ok'],
    ['renames are removals', cand(['x', 'y']), ['a', 'b'], {}, false, 'prune-blocked'],
    ['additions only', cand(['a', 'b', 'c']), ['a'], { maxPruneRatio: 0 }, false, 'ok'],
  ];
  it.each(cases)('%s', (_name, candidate, current, policy, confirmed, want) => {
    const v = judgeRevision(candidate, current, { ...DEFAULT_POLICY, ...policy }, confirmed);
    expect(v.ok ? 'ok' : v.reason).toBe(want);
  });

  it('says where the first error is and how many more there are', () => {
    const v = judgeRevision(cand(['a'], { errors: [err, { ...err, line: 9 }] }), ['a'], DEFAULT_POLICY, false);
    expect(v).toMatchObject({ ok: false, message: 'line1/b.yaml:7:13: spec.replicas must be an integer >= 0, got "two" (and 1 more)', errors: [err, { ...err, line: 9 }] });
  });

  it('names what a blocked prune would remove', () => {
    const v = judgeRevision(cand(['a']), ['c', 'a', 'b'], DEFAULT_POLICY, false);
    expect(v).toMatchObject({ ok: false, removed: ['b', 'c'], message: 'would remove 2 of 3 services (b, c), more than 50% at once' });
  });

  it('names the missing path', () => {
    const v = judgeRevision(cand([], { pathExists: false }), ['a'], DEFAULT_POLICY, false);
    expect(v.ok ? '' : v.message).toBe('path line1 does not exist in this revision: refusing to remove every service (check --path and the branch, or pass --allow-empty)');
  });
});

describe('backoffDelay', () => {
  it.each([
    [0, 30_000, 300_000, 30_000],
    [1, 30_000, 300_000, 60_000],
    [2, 30_000, 300_000, 120_000],
    [3, 30_000, 300_000, 240_000],
    [4, 30_000, 300_000, 300_000],
    [1000, 30_000, 300_000, 300_000],
    [3, 600_000, 300_000, 600_000],
  ])('after %i failures, interval %i, cap %i: %i', (failures, interval, cap, want) => {
    expect(backoffDelay(failures, interval, cap)).toBe(want);
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://user:pass@git.plant.local/fog.git', 'https://***@git.plant.local/fog.git'],
    ["fatal: unable to access 'https://tok@github.com/x/y.git/': 403", "fatal: unable to access 'https://***@github.com/x/y.git/': 403"],
    ['ssh://git@host:2222/fog.git', 'ssh://***@host:2222/fog.git'],
    ['git@host:fog.git', 'git@host:fog.git'],
    ['file:///srv/fog.git', 'file:///srv/fog.git'],
  ])('%s', (input, want) => {
    expect(redactUrl(input)).toBe(want);
  });
});
