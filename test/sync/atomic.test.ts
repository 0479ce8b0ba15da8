// The property that makes sync safe for a watching controller: whatever the
// moment, a reader of the target sees exactly one commit's tree, never a
// mixture. Many rapid commits each replace every file with a set tagged by
// the commit, while a concurrent reader lists and reads through the symlink.

import fc from 'fast-check';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRemote, newSync, service } from './fixture.js';

/** Commit i: services s<k> for the chosen k, each tagged c<i>, plus a marker file rev-<i>.txt. */
function treeOf(i: number, picks: readonly number[]): Record<string, string> {
  const files: Record<string, string> = { [`rev-${i}.txt`]: `${i}\n` };
  for (const k of picks) files[`s${k}.yaml`] = service(`s${k}`, `c${i}`);
  return files;
}

const sameTree = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

describe('atomic swap', () => {
  it('a concurrent reader never observes a mixture of two commits', async () => {
    const picksArb = fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(fc.array(picksArb, { minLength: 12, maxLength: 18 }), async (commits) => {
        const remote = await makeRemote();
        const trees = commits.map((p, i) => treeOf(i, p));
        const sync = newSync(remote, { intervalMs: 10, policy: { maxPruneRatio: 1 } });
        const target = join(remote.root, 'desired');
        try {
          await remote.commit(trees[0]!);
          await sync.start();
          let done = false;
          const seen = new Set<number>();
          let observations = 0;
          let retired = 0;
          const reader = (async () => {
            while (!done) {
              // A listing through the symlink is one commit's set of names.
              const names = (await readdir(target)).sort();
              const byNames = trees.findIndex((t) => JSON.stringify(Object.keys(t).sort()) === JSON.stringify(names));
              expect(byNames, `listing ${names.join(',')}`).toBeGreaterThanOrEqual(0);
              // Resolved once, the whole tree (names and contents) is one commit's.
              const root = await realpath(target);
              try {
                const files: Record<string, string> = {};
                for (const n of await readdir(root)) files[n] = await readFile(join(root, n), 'utf8');
                const i = trees.findIndex((t) => sameTree(t, files));
                expect(i, `tree ${JSON.stringify(files)}`).toBeGreaterThanOrEqual(0);
                seen.add(i);
                observations++;
              } catch (err) {
                // Only acceptable failure: the revision was retired while being read.
                if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
                retired++;
              }
            }
          })();
          reader.catch(() => (done = true));
          for (const tree of trees.slice(1)) if (!done) await remote.commit(tree);
          const last = trees.length - 1;
          const deadline = Date.now() + 5_000;
          while (!done && !seen.has(last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          done = true;
          await reader;
          expect(seen.has(last)).toBe(true);
          expect(seen.size).toBeGreaterThanOrEqual(2);
          expect(observations).toBeGreaterThan(retired);
        } finally {
          await sync.stop();
          await remote.cleanup();
        }
      }),
      // Each run makes real commits: no shrinking, the failing sequence is printed as is.
      { numRuns: 3, endOnFailure: true },
    );
  });
});
