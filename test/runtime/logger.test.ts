// The foreground log: one readable line per event with --log-format pretty
// (what a terminal gets by default), one JSON object per line when stderr is
// not a terminal or with --log-format json, the level from --log-level, and
// bad values refused with the flag's name and what it takes.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FOGCTL, ROOT, tempDir } from '../e2e/harness.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `fogctl run` on a missing desired folder (no engines needed) until it has warned, then SIGTERM; its stderr. */
function runUntilWarned(...flags: string[]): Promise<{ code: number | null; stderr: string }> {
  const dir = tempDir('fog-log-');
  dirs.push(dir);
  const p = spawn(process.execPath, [FOGCTL, 'run', '--desired', join(dir, 'missing'), '--state-dir', join(dir, 's'), ...flags], {
    cwd: ROOT,
    env: { ...process.env, FOG_LOG_FORMAT: '', FOG_LOG_LEVEL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let asked = false;
  p.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    // The warning comes from the first pass, which may run before `run` has set its signal handlers: give it a moment.
    if (!asked && /does not exist/.test(stderr)) {
      asked = true;
      setTimeout(() => p.kill('SIGTERM'), 500);
    }
  });
  const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    }),
  );
}

describe('the foreground log', () => {
  it('--log-format pretty: one line per event, time, level, component and message', async () => {
    const r = await runUntilWarned('--log-format', 'pretty');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): /);
    expect(lines.find((l) => l.includes('does not exist'))).toMatch(/^\[[\d:.]+\] WARN: controller: desired folder \S+ does not exist: keeping every object as it was .* \{"folder":"\S+"\}$/);
    expect(lines.at(-1)).toMatch(/INFO: stopping; containers are left running \{"signal":"SIGTERM"\}$/);
  });

  it('JSON when stderr is not a terminal (and with --log-format json); --log-level filters', async () => {
    for (const flags of [[], ['--log-format', 'json']]) {
      const r = await runUntilWarned(...flags);
      const objs = r.stderr
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(objs.some((o) => o.msg === 'controller started' && o.level === 30)).toBe(true);
    }
    const warn = await runUntilWarned('--log-level', 'warn', '--log-format', 'json');
    const levels = warn.stderr
      .trimEnd()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((l) => l >= 40)).toBe(true);
  });

  it('refuses a bad --log-level or --log-format, naming the values', async () => {
    const level = await runUntilWarned('--log-level', 'loud');
    expect(level.code).toBe(1);
    expect(level.stderr).toBe('error: --log-level loud: must be one of trace, debug, info, warn, error, fatal, silent\n');
    const format = await runUntilWarned('--log-format', 'xml');
    expect(format.code).toBe(1);
    expect(format.stderr).toBe('error: --log-format xml: must be one of auto, json, pretty\n');
  });
});
