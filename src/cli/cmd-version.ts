// fogctl version: the package version and the commit it was built from.
// `npm run build` writes dist/build-info.json; run from the sources (tsx),
// the commit is asked of git at the package root.

import type { Command } from 'commander';
import { Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  /** The git commit (40 hex) the code was built from, `unknown` outside a checkout. */
  commit: string;
  /** Uncommitted changes in the checkout at build time. */
  dirty: boolean;
  /** `dist` for the compiled build, `source` when running the TypeScript through tsx. */
  build: 'dist' | 'source';
  node: string;
}

// src/cli/ and dist/cli/ are both two levels below the package root.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The commit of the checkout at `root`, asked of git (undefined when it is not one or git is missing). */
export function gitCommit(root: string): { commit: string; dirty: boolean } | undefined {
  const head = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', timeout: 5_000 });
  if (head.status !== 0) return undefined;
  const status = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', timeout: 5_000 });
  return { commit: head.stdout.trim(), dirty: status.status === 0 && status.stdout.trim() !== '' };
}

export function buildInfo(): BuildInfo {
  const pkg = readJson(new URL('../../package.json', import.meta.url));
  const version = typeof pkg?.version === 'string' ? pkg.version : 'unknown';
  const built = readJson(new URL('../build-info.json', import.meta.url));
  if (built && typeof built.commit === 'string') return { version, commit: built.commit, dirty: built.dirty === true, build: 'dist', node: process.version };
  const git = gitCommit(ROOT);
  return { version, commit: git?.commit ?? 'unknown', dirty: git?.dirty ?? false, build: 'source', node: process.version };
}

export function versionLine(b: BuildInfo): string {
  const commit = b.commit === 'unknown' ? 'commit unknown' : `commit ${b.commit.slice(0, 12)}${b.dirty ? ' (with uncommitted changes)' : ''}`;
  return `fogctl ${b.version} (${commit}, ${b.build === 'dist' ? 'built' : 'from source'}, node ${b.node})`;
}

export function registerVersion(program: Command, setCode: (c: number) => void): void {
  program
    .command('version')
    .description('Print the version and the commit this fogctl was built from')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((flags: { output: 'text' | 'json' }) => {
      const b = buildInfo();
      process.stdout.write(flags.output === 'json' ? `${JSON.stringify(b, null, 2)}\n` : `${versionLine(b)}\n`);
      setCode(0);
    });
}
