// The package as a gateway gets it: `npm pack` (which builds dist/ through
// the prepare script), `npm install --omit=dev` of the tarball in a temporary
// folder, and the installed `fogctl` (compiled JavaScript, no tsx, no dev
// toolchain) validating manifests and running as the systemd unit runs it:
// following a git branch into its state directory, reconciling it onto a real
// engine, serving status and /metrics, stopping cleanly on SIGTERM. The unit
// itself passes `systemd-analyze verify` (with ExecStart pointed at this
// install) and its offline security review.

import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/controller/status-client.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { loopService, nodeManifest, ROOT, tempDir, waitFor } from './harness.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
let dir: string;
let bin: string;
let fleet: Fleet | undefined;

beforeAll(async () => {
  dir = tempDir('fog-install-');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 << 20, timeout: 300_000 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name": "gateway", "private": true}\n');
  await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(dir, packed.filename)], { cwd: app, maxBuffer: 16 << 20, timeout: 300_000 });
  bin = join(app, 'node_modules/.bin/fogctl');
}, 600_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fogctl = (...args: string[]) => spawnSync(bin, args, { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, FOG_LOG_FORMAT: 'json' } });

describe('npm pack → npm install --omit=dev', () => {
  it('installs compiled JavaScript and the runtime dependencies only', () => {
    const mods = join(dir, 'app/node_modules');
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild', 'eslint', 'dockerode']) expect(existsSync(join(mods, dev)), `${dev} installed`).toBe(false);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(mods, dep)), `${dep} missing`).toBe(true);
    const installed = join(mods, 'fogctl');
    expect(readdirSync(join(installed, 'dist/cli'))).toContain('bin.js');
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(installed, 'deploy/fogctl.service'))).toBe(true);
    expect(existsSync(join(installed, 'dist/status/dashboard/ui/app.js'))).toBe(true);
  });

  it('fogctl version names the version and the commit it was built from', () => {
    const head = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const r = fogctl('version', '-o', 'json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: pkg.version, commit: head, build: 'dist' });
    expect(fogctl('version').stdout).toMatch(new RegExp(`^fogctl ${pkg.version.replace(/\./g, '\\.')} \\(commit ${head.slice(0, 12)}`));
  });

  it('fogctl validate checks the examples', () => {
    const r = fogctl('validate', join(ROOT, 'desired'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/objects valid, no errors/);
    const bad = fogctl('validate', join(ROOT, 'test/corpus/bad'));
    expect(bad.status).toBe(1);
  });

  it('fogctl run follows a git branch onto a real engine, as the systemd unit runs it, and stops on SIGTERM', async () => {
    fleet = await startFleet([{ name: 'inst-1' }]);
    const node = fleet.nodes[0]!;
    // The branch: a bare repository and one commit with the node and a service under fleet/.
    const bare = join(dir, 'fleet.git');
    const work = join(dir, 'work');
    const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'user.name=Plant', '-c', 'user.email=ops@plant.local', '-c', 'init.defaultBranch=main', ...args], { cwd });
    await git(dir, 'init', '--quiet', '--bare', bare);
    await git(dir, 'init', '--quiet', work);
    mkdirSync(join(work, 'fleet/nodes'), { recursive: true });
    writeFileSync(join(work, 'fleet/nodes/inst-1.yaml'), nodeManifest(node.name, node.socket, {}));
    writeFileSync(join(work, 'fleet/ticker.yaml'), loopService('ticker', 1));
    await git(work, 'add', '-A');
    await git(work, 'commit', '--quiet', '-m', 'fleet');
    await git(work, 'push', '--quiet', bare, 'HEAD:main');
    const sha = (await git(work, 'rev-parse', 'HEAD')).stdout.trim();

    // The unit's ExecStart, with its directories under the temporary folder.
    const unit = readFileSync(join(dir, 'app/node_modules/fogctl/deploy/fogctl.service'), 'utf8');
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit)!;
    const stateDir = join(dir, 'var/lib/fogctl');
    const runDir = join(dir, 'run/fogctl');
    mkdirSync(stateDir, { recursive: true });
    const env: Record<string, string> = { FOG_REPO: bare, FOG_REF: 'main', FOG_PATH: 'fleet', FOG_ARGS: '--cluster inst --grace 5s' };
    const args = exec[2]!
      .replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => env[(a ?? b)!]!)
      .replaceAll('/var/lib/fogctl', stateDir)
      .replaceAll('/run/fogctl', runDir)
      .split(/\s+/);
    expect(args.slice(0, 1)).toEqual(['run']);
    const p = spawn(bin, args, { cwd: dir, env: { ...process.env, HOME: stateDir, FOG_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stderr.on('data', (d: Buffer) => (log += d.toString()));
    p.stdout.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      const socket = join(runDir, 'fogctl.sock');
      const doc = await waitFor(
        'ticker running from the branch',
        async () => {
          const got = await fetchStatus(socket, 2_000);
          const s = got.ok ? got.doc.status.services.find((x) => x.name === 'ticker') : undefined;
          return s?.ready === 1 && got.ok ? got.doc : undefined;
        },
        90_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\ncontroller log:\n${log.slice(-3000)}`);
      });
      expect(doc.cluster).toBe('inst');
      expect((doc.sync as { current?: { sha: string } }).current?.sha).toBe(sha);
      const metrics = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: socket, path: '/metrics' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
      expect(metrics).toContain(`fog_gitops_last_applied_commit_info{commit="${sha}"} 1`);
      expect(metrics).toContain('fog_gitops_sync_state{state="Synced"} 1');
      expect(metrics).toContain('fog_service_replicas_ready{service="ticker"} 1');
      // JSON log lines (FOG_LOG_FORMAT=json, as the unit sets it), one object per line.
      for (const line of log.trim().split('\n')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    } finally {
      p.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

describe('deploy/fogctl.service', () => {
  it('passes systemd-analyze verify and its security review, hardened and restarting on failure', () => {
    const unit = readFileSync(join(ROOT, 'deploy/fogctl.service'), 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'StateDirectory=fogctl', 'Restart=on-failure', 'User=fogctl']) expect(unit).toContain(`\n${line}\n`);
    // verify checks that ExecStart's program exists and is executable: point it at this install.
    const file = join(dir, 'fogctl.service');
    writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`));
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr.trim()).toBe('');
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', file], { encoding: 'utf8' });
    const exposure = /Overall exposure level for fogctl\.service: ([\d.]+)/.exec(security.stdout);
    expect(exposure, security.stdout + security.stderr).not.toBeNull();
    // systemd rates 0-10 (10 = unprotected); under 2 is "OK".
    expect(Number(exposure![1])).toBeLessThan(2);
  });
});
