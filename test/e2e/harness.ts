// End-to-end harness: a real `fogctl run` child process against a real local
// fleet, a desired folder made by the test, and the status API to read.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { fetchStatus } from '../../src/controller/status-client.js';
import type { StatusDoc } from '../../src/status/doc.js';

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
  const args = [
    FOGCTL,
    'run',
    '--desired',
    opts.desired,
    '--state-dir',
    opts.stateDir,
    '--cluster',
    opts.cluster ?? 'e2e',
    '--grace',
    opts.grace ?? '4s',
    '--resync',
    opts.resync ?? '2s',
    '--call-timeout',
    '2s',
    ...(opts.extra ?? []),
  ];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, FOG_LOG_FORMAT: 'json', FOG_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
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
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr instanceof Error ? String(lastErr) : JSON.stringify(lastErr)}` : ''}`);
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
  /** The image reference it was created from. */
  image: string;
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
      out.push({
        node: n.name,
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        service: labels['fog.service'] ?? '',
        slot: Number(labels['fog.slot'] ?? -1),
        hash: labels['fog.spec-hash'] ?? '',
        state: c.State,
        image: c.Image,
        labels,
      });
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

/** A command that runs until SIGTERM and exits at once on it. */
export const LOOP_COMMAND = `["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]`;

/** A Service manifest (by default on the fleet's image), without a network; `spec` is more spec lines, indented by two. */
export function serviceManifest(name: string, spec: string, image = 'fog/busybox:latest'): string {
  return `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: ${image}\n  network: none\n${spec}`;
}

/** A replicated Service running LOOP_COMMAND. */
export function loopService(name: string, replicas: number, extra = ''): string {
  // Judged healthy after 1 s of running: the default update.monitor (10 s) would make each rollout batch of these tests 10 s long.
  return serviceManifest(name, `  replicas: ${replicas}\n  command: ${LOOP_COMMAND}\n  update:\n    monitor: 1s\n${extra}`);
}

/**
 * Whether the engines hold exactly what `want` (service → replicas) asks:
 * one running container per slot 0..n-1, each with the spec hash the
 * controller reports, and no managed container of any other service or slot
 * (no orphans, no duplicates) of the controller's cluster. A string says what is wrong.
 */
export async function convergedOn(ctl: Pick<RunningController, 'status'>, nodes: { name: string; socket: string }[], want: Readonly<Record<string, number>>): Promise<true | string> {
  const doc = await ctl.status();
  if (!doc) return 'no status';
  const all = (await containersOn(nodes)).filter((c) => c.labels['fog.cluster'] === doc.cluster);
  for (const c of all) if (!(c.service in want)) return `orphan ${c.name} on ${c.node}`;
  for (const [name, n] of Object.entries(want)) {
    const s = doc.status.services.find((x) => x.name === name);
    if (!s) return `${name} not in status`;
    if (s.ready !== n || s.upToDate !== n || s.desired !== n) return `${name}: desired ${s.desired} ready ${s.ready} upToDate ${s.upToDate}, want ${n}`;
    const mine = all.filter((c) => c.service === name);
    const slots = mine.map((c) => c.slot).sort((a, b) => a - b);
    if (slots.join() !== [...Array(n).keys()].join()) return `${name}: slots ${slots.join() || '(none)'} (${mine.map((c) => `${c.name}@${c.node}:${c.state}`).join(' ')})`;
    const bad = mine.find((c) => c.state !== 'running' || c.hash !== s.specHash);
    if (bad) return `${name}: ${bad.name} on ${bad.node} is ${bad.state} with hash ${bad.hash}, want running ${s.specHash}`;
  }
  return true;
}

/** The controller's last warnings and errors (its JSON log), one short line each: what a failed wait should show. */
export function recentWarnings(logs: string, max = 15): string {
  const out: string[] = [];
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as Record<string, string | number | undefined>;
      if (typeof j.level !== 'number' || j.level < 40) continue;
      const where = ['service', 'node', 'action', 'code'].flatMap((k) => (j[k] !== undefined ? [`${k}=${j[k]}`] : []));
      out.push(`  ${j.msg} ${where.join(' ')}`.slice(0, 300));
    } catch {
      // not a log line
    }
  }
  return out.slice(-max).join('\n');
}

/** Waits for `convergedOn`; the error says what was last wrong, with the controller's last warnings when its log is at hand. */
export async function waitConverged(
  ctl: Pick<RunningController, 'status'> & Partial<Pick<RunningController, 'logs'>>,
  nodes: { name: string; socket: string }[],
  want: Readonly<Record<string, number>>,
  timeoutMs = 20_000,
): Promise<void> {
  let last = '';
  try {
    await waitFor(
      'convergence',
      async () => {
        const r = await convergedOn(ctl, nodes, want);
        if (r !== true) last = r;
        return r === true;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    const warnings = ctl.logs ? recentWarnings(ctl.logs()) : '';
    throw new Error(`${(err as Error).message}; last seen: ${last}${warnings ? `\ncontroller's last warnings:\n${warnings}` : ''}`);
  }
}

export interface EngineEventRecord {
  node: string;
  /** container, or image when asked for (the image's name is in `id` and `name`). */
  type: string;
  /** create, start, die, kill, stop, destroy, … */
  action: string;
  id: string;
  name: string;
  service?: string;
  /** The labels of the container (Docker puts them in every container event's attributes). */
  labels?: Record<string, string>;
  /** The engine's own time of the event, ms since the epoch (from timeNano). */
  engineTime?: number;
  /** Date.now() when the test heard it. */
  at: number;
}

export interface EventRecorder {
  events(): EngineEventRecord[];
  close(): void;
}

/** Records the container (and, when asked, image) events of the given engines, straight from their event streams (not through fog). */
export async function recordEngineEvents(nodes: { name: string; socket: string }[], types: readonly ('container' | 'image')[] = ['container']): Promise<EventRecorder> {
  const got: EngineEventRecord[] = [];
  const streams: NodeJS.ReadableStream[] = [];
  for (const n of nodes) {
    const d = new Docker({ socketPath: n.socket });
    const stream = await d.getEvents({ filters: { type: [...types] } });
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; timeNano?: number };
        const attrs = e.Actor?.Attributes ?? {};
        got.push({
          node: n.name,
          type: e.Type ?? 'container',
          action: (e.Action ?? '').split(':')[0]!,
          id: e.Actor?.ID ?? '',
          name: attrs.name ?? '',
          ...(attrs['fog.service'] ? { service: attrs['fog.service'] } : {}),
          labels: attrs,
          ...(e.timeNano ? { engineTime: e.timeNano / 1e6 } : {}),
          at: Date.now(),
        });
      }
    });
    stream.on('error', () => undefined);
    streams.push(stream);
  }
  return {
    events: () => [...got],
    close: () => {
      for (const s of streams) (s as unknown as { destroy(): void }).destroy();
    },
  };
}

/** Node manifests for every engine of a fleet, into the desired folder. */
export function writeNodeManifests(
  desired: string,
  nodes: readonly { name: string; socket: string }[],
  extra: (name: string) => { labels?: Record<string, string>; devices?: string[] } = () => ({}),
): void {
  for (const n of nodes) {
    const x = extra(n.name);
    writeManifest(desired, `nodes/${n.name}.yaml`, nodeManifest(n.name, n.socket, x.labels ?? {}, x.devices ?? []));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
