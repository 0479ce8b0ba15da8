// fogctl validate, run as a user runs it: a real process, real exit codes.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function fogctl(...args: string[]) {
  const r = spawnSync(process.execPath, ['src/cli/fogctl.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fogctl validate', () => {
  it('exits 0 on the example fleet, with a summary on stderr', () => {
    const r = fogctl('validate', 'desired/');
    expect(r.stderr).toMatch(/^\d+ objects valid, no errors\n$/);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('exits 1 on the corpus, one file:line:col: message line per error', () => {
    const r = fogctl('validate', 'test/corpus/bad');
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(40);
    for (const line of lines) expect(line).toMatch(/^test\/corpus\/bad\/[\w.-]+\.yaml:\d+:\d+: \S/);
    expect(r.stdout).toContain('test/corpus/bad/unknown-field-replica.yaml:8:3: unknown field "replica" in spec, did you mean "replicas"?\n');
    expect(r.stderr).toMatch(/^\d+ objects? valid, \d+ errors in \d+ files\n$/);
  });

  it('prints JSON with -o json', () => {
    const r = fogctl('validate', '-o', 'json', 'desired/nodes', 'test/corpus/bad/replicas-string.yaml');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; objects: { kind: string; name: string; file: string; line: number }[]; errors: unknown[] };
    expect(out.valid).toBe(false);
    expect(out.objects).toContainEqual({ kind: 'Node', name: 'gateway-1', file: 'desired/nodes/gateway-1.yaml', line: 3 });
    expect(out.errors).toEqual([
      { file: 'test/corpus/bad/replicas-string.yaml', line: 8, col: 13, code: 'schema', message: 'spec.replicas must be an integer >= 0, got "two"', object: 'Service/svc' },
    ]);
  });

  it('explains itself', () => {
    const top = fogctl('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('validate');
    const help = fogctl('validate', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('file:line:col: message');
    expect(help.stdout).toContain('Examples:');
  });
});
