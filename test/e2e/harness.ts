// End-to-end harness: a real `fogctl run` child process against a real local
// fleet, a desired folder made by the test, and the status API to read.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { fetchStatus } from '../../src/controller/status-client.js';
import type { StatusDoc } from '../../src/controller/status-doc.js';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const FOGCTL = join(ROOT, 'src/cli/fogctl.mjs');

export function tempDir(prefix: string): string {
  return mkdtempSync(join('/tmp', prefix));
}

export function writeManifest(dir: string, file: string, text: string): void {
  const p = join(dir, file);
  mkdirSync(join(p, '..'), { recursive: true });
  // Write-then-rename, as editors and git do: the watcher never sees half a file.
  writeFileSync(`${p}.tmp~`, text);
  rmSync(p, { force: true });
  writeFileSync(p, text);
  rmSync(`${p}.tmp~`, { force: true });
}

export function nodeManifest(name: string, socket: string, labels: Record<string, string>, devices: string[] = []): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  return `apiVersion: fog/v1
kind: Node
metadata:
  name: ${name}
  labels:
${l || '    {}'}
spec:
  endpoint: unix://${socket}
${devices.length ? `  devices: [${devices.join(', ')}]\n` : ''}`;
}

export interface RunningController {
  proc: ChildProcess;
  socket: string;
  logs: () => string;
  status(): Promise<StatusDoc | undefined>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
}

export function startController(opts: { desired: string; stateDir: string; cluster?: string; grace?: string; resync?: string; extra?: string[] }): RunningController {
  const socket = join(opts.stateDir, 'fogctl.sock');
  const args = [FOGCTL, 'run', '--desired', opts.desired, '--state-dir', opts.stateDir, '--cluster', opts.cluster ?? 'e2e', '--grace', opts.grace ?? '4s', '--resync', opts.resync ?? '2s', '--call-timeout', '2s', ...(opts.extra ?? [])];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, FOG_LOG_FORMAT: 'json', FOG_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    socket,
    logs: () => out,
    async status() {
      const got = await fetchStatus(socket, 2_000);
      return got.ok ? got.doc : undefined;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Poll until `check` returns a value (not undefined/false) or time runs out; the error says what was last seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ManagedContainer {
  node: string;
  id: string;
  name: string;
  service: string;
  slot: number;
  hash: string;
  state: string;
  labels: Record<string, string>;
}

/** What is really on the engines (asked directly, not through the controller). */
export async function containersOn(nodes: { name: string; socket: string }[], all = false): Promise<ManagedContainer[]> {
  const out: ManagedContainer[] = [];
  for (const n of nodes) {
    const d = new Docker({ socketPath: n.socket, timeout: 5_000 });
    const list = await d.listContainers({ all: true });
    for (const c of list) {
      const labels = c.Labels ?? {};
      if (!all && !labels['fog.service']) continue;
      out.push({ node: n.name, id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), service: labels['fog.service'] ?? '', slot: Number(labels['fog.slot'] ?? -1), hash: labels['fog.spec-hash'] ?? '', state: c.State, labels });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function runFogctl(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const p = spawn(process.execPath, [FOGCTL, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolveRun({ code: code ?? 1, stdout, stderr }));
  });
}
