// npm run build: the TypeScript under src/ compiled to plain JavaScript in
// dist/ (tsc with tsconfig.build.json), the dashboard's static files copied
// beside it, and dist/build-info.json recording the commit (for `fogctl
// version`). Plain Node, no tsx: it runs from `npm ci` (the prepare script).

import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${r.status}); dist/ is incomplete. Fix the type errors above and run npm run build again.\n`);
  process.exit(1);
}
cpSync(`${root}src/status/dashboard/ui`, `${dist}/status/dashboard/ui`, { recursive: true });
chmodSync(`${dist}/cli/bin.js`, 0o755);

const git = (...args) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
const head = git('rev-parse', 'HEAD');
const commit = head.status === 0 ? head.stdout.trim() : 'unknown';
const dirty = commit !== 'unknown' && git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
writeFileSync(`${dist}/build-info.json`, `${JSON.stringify({ commit, dirty, builtAt: new Date().toISOString() })}\n`);
process.stderr.write(`build: dist/ from commit ${commit.slice(0, 12)}${dirty ? ' (with uncommitted changes)' : ''}\n`);
