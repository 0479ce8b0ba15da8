// What the fleet and real-engine benchmarks share: a `fogctl run` child
// process (with its file limit raised), its /proc figures, the status API,
// medians, and a clean-up list that runs even when a benchmark fails.

import type { IncomingMessage } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchStatus } from '../../src/controller/status-client.js';
import type { StatusDoc } from '../../src/status/doc.js';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
/**
 * The controller the benchmarks run: the compiled build (dist/, made by
 * `npm run build`; hack/bench/main.ts builds it first), as a gateway runs it.
 * FOG_BENCH_FOGCTL=source runs the TypeScript through tsx instead, for comparison.
 */
export const FOGCTL = process.env.FOG_BENCH_FOGCTL === 'source' ? join(ROOT, 'src/cli/fogctl.mjs') : join(ROOT, 'dist/cli/bin.js');
/** The node flags of the executable's `#!/usr/bin/env -S node …` line: what an installed fogctl runs with, so the benchmarks run it so too. */
export function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node\s+(.*)$/.exec(first);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}
/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on Linux everywhere we run). */
const CLK_TCK = 100;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Clean-ups run last-in first-out; each one's failure is reported, never stops the others. */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (err) {
        process.stderr.write(`bench: clean-up failed: ${(err as Error).message}\n`);
      }
    }
  }
}

/** A short temp dir (unix sockets are at most 108 bytes), removed by `cleanup`. */
export function tempDir(prefix: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  // Write then rename, as editors do: the watcher never reads half a file.
  writeFileSync(`${path}.tmp~`, text);
  rmSync(path, { force: true });
  writeFileSync(path, text);
  rmSync(`${path}.tmp~`, { force: true });
}

export interface ControllerProc {
  proc: ChildProcess;
  pid: number;
  socket: string;
  startedAt: number;
  logs(): string;
  status(timeoutMs?: number): Promise<StatusDoc | undefined>;
  /** Resident set, MB (/proc/PID/status VmRSS). */
  rssMb(): number;
  /** utime + stime, seconds. */
  cpuSeconds(): number;
  /** Open sockets (/proc/PID/fd). */
  sockets(): number;
  stop(): Promise<void>;
}

export interface ControllerArgs {
  desired: string;
  stateDir: string;
  grace: string;
  resync?: string;
  callTimeout?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Extra fogctl run flags, e.g. --ha-etcd. */
  runFlags?: string[];
}

/** `fogctl run` as a child, through `sh` so that `ulimit -n` can be raised to the hard limit first. */
export function startController(a: ControllerArgs, cleanup: Cleanup): ControllerProc {
  const socket = join(a.stateDir, 'fogctl.sock');
  const args = [
    ...shebangFlags(FOGCTL),
    ...(a.nodeFlags ?? []),
    FOGCTL,
    'run',
    '--desired',
    a.desired,
    '--state-dir',
    a.stateDir,
    '--cluster',
    'bench',
    '--grace',
    a.grace,
    '--resync',
    a.resync ?? '10s',
    '--call-timeout',
    a.callTimeout ?? '5s',
    '--log-level',
    'warn',
    ...(a.runFlags ?? []),
  ];
  const startedAt = performance.now();
  const proc = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args], {
    cwd: ROOT,
    env: { ...process.env, FOG_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // FOG_BENCH_LOG=FILE: every controller's output is appended there too (to see what happened after the fact).
  const logFile = process.env.FOG_BENCH_LOG;
  const keep = (d: Buffer) => {
    if (logFile) appendFileSync(logFile, d);
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const stop = async () => {
    if (alive()) proc.kill('SIGTERM');
    const t = setTimeout(() => alive() && proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  cleanup.add(stop);
  const pid = proc.pid!;
  return {
    proc,
    pid,
    socket,
    startedAt,
    logs: () => out,
    status: async (timeoutMs = 10_000) => {
      const got = await fetchStatus(socket, timeoutMs);
      return got.ok ? got.doc : undefined;
    },
    rssMb: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : Number.NaN;
    },
    cpuSeconds: () => {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK_TCK;
    },
    sockets: () => {
      let n = 0;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
        } catch {
          // closed meanwhile
        }
      }
      return n;
    },
    stop,
  };
}

/** Polls the status API until every service has all its replicas ready; undefined on timeout. */
export async function waitConverged(
  c: ControllerProc,
  want: { services: number; replicas: number },
  timeoutMs: number,
  everyMs = 1_000,
  onTick?: (ready: number) => void,
): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (c.proc.exitCode !== null) throw new Error(`the controller exited with ${c.proc.exitCode}:\n${c.logs().slice(-3000)}`);
    const doc = await c.status().catch(() => undefined);
    if (doc) {
      const services = doc.status.services;
      const ready = services.reduce((n, s) => n + Math.min(s.ready, s.desired), 0);
      onTick?.(ready);
      if (services.length >= want.services && ready >= want.replicas && services.every((s) => s.ready >= s.desired)) return performance.now();
    }
    await sleep(everyMs);
  }
  return undefined;
}

/** CPU of a process over a window with nothing changing, % of one core. */
export async function idleCpuPct(c: ControllerProc, windowMs: number): Promise<number> {
  const cpu0 = c.cpuSeconds();
  const t0 = performance.now();
  await sleep(windowMs);
  return ((c.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100;
}

/** Calls `each` with every JSON object of a Docker event stream (one per line), as they arrive. */
export function onJsonLines<T>(stream: IncomingMessage, each: (value: T) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
      const line = buf.slice(0, nl).trim();
      if (line) each(JSON.parse(line) as T);
    }
  });
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A container start seen on an engine's event feed. */
export interface Started {
  node: string;
  id: string;
  name: string;
  service: string;
  slot: string;
  at: number;
}

/** Resolves waiters on the first start that matches; the feeds push what they see. */
export class StartWaiter {
  private readonly waiters = new Set<{ pred: (s: Started) => boolean; resolve: (s: Started) => void }>();

  push(s: Started): void {
    for (const w of this.waiters) {
      if (!w.pred(s)) continue;
      this.waiters.delete(w);
      w.resolve(s);
    }
  }

  /** Call before acting, so a start that comes at once is not missed. */
  next(pred: (s: Started) => boolean, timeoutMs: number): Promise<Started> {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (s: Started) => (clearTimeout(t), resolve(s)) };
      const t = setTimeout(() => (this.waiters.delete(w), reject(new Error(`no matching container start within ${timeoutMs} ms`))), timeoutMs);
      this.waiters.add(w);
    });
  }
}

/** The Started record of a `start` event (Docker's shape, from a real or a hollow engine). */
export function startedOf(node: string, e: { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } }): Started | undefined {
  if (e.Type !== 'container' || e.Action !== 'start') return undefined;
  const a = e.Actor?.Attributes ?? {};
  return { node, id: e.Actor?.ID ?? '', name: a.name ?? '', service: a['fog.service'] ?? '', slot: a['fog.slot'] ?? '', at: performance.now() };
}
