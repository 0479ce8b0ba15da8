// One hollow Docker Engine: containers are records, not processes. This is the
// model behind the HTTP surface (server.ts): every state change goes through
// here and emits the events dockerd 20.10 emits for it, in the same order.
//
// What dockerd does that matters to a controller is kept: names are unique
// (409), start of a running container is 304, stop of a stopped one 304,
// kill answers die with 137, restart policies restart a dead container after
// 100 ms doubling (RestartCount counts them), a device missing on the host
// fails at start with dockerd's message, health moves starting → healthy.

import { randomBytes } from 'node:crypto';
import { normaliseRef } from '../../src/api/image-ref.js';

export interface HollowNodeConfig {
  name: string;
  /** Engine labels, as `dockerd --label k=v`. */
  labels: Readonly<Record<string, string>>;
  ncpu: number;
  memTotal: number;
  /** Host device paths that exist on this node. */
  devices: readonly string[];
  /** Images present (repo:tag). */
  images: readonly string[];
  /** Images a pull succeeds for (repo:tag); others fail like a missing repository. Default: any. */
  pullable?: (ref: string) => boolean;
  /** Architecture as `uname -m` reports it. Default x86_64. */
  architecture?: string;
  /** First health check passes after this many ms; default: the container's own interval. */
  healthyAfterMs?: number;
}

/** A container that dies by itself: `afterMs` after each start, with `exitCode`. */
export interface DieRule {
  afterMs: number;
  exitCode: number;
  /** Only containers whose labels match (all pairs). Default: every container. */
  labels?: Readonly<Record<string, string>>;
}

export type Status = 'created' | 'running' | 'restarting' | 'exited' | 'dead' | 'paused' | 'removing';

export interface HollowContainer {
  id: string;
  name: string;
  created: number; // epoch ms
  image: string;
  imageId: string;
  config: Record<string, unknown> & { Labels: Record<string, string>; Image: string };
  hostConfig: Record<string, unknown>;
  status: Status;
  exitCode: number;
  error: string;
  startedAt?: string;
  finishedAt?: string;
  restartCount: number;
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Pending timers: restart back-off, death, health. */
  timers: Set<NodeJS.Timeout>;
  /** The next restart delay of the policy, ms (100 doubling, as dockerd). */
  backoff: number;
  /** docker stop (or kill by the user after stop) keeps policies from restarting it. */
  manuallyStopped: boolean;
}

export interface EngineEvent {
  status: string;
  id: string;
  from: string;
  Type: 'container' | 'image';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

/** An answer that is an error: status and dockerd's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 60_000;
/** dockerd resets the back-off when a container ran this long. */
const RESTART_RESET_MS = 10_000;
const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's time format: RFC 3339 with nanoseconds, trailing zeros dropped. */
export function dockerTime(ms: number = Date.now()): string {
  const iso = new Date(ms).toISOString(); // ...T12:00:00.123Z
  const nanos = `${iso.slice(20, 23)}${String(process.hrtime()[1] % 1_000_000).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${nanos ? `.${nanos}` : ''}Z`;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const imageId = (ref: string) => `sha256:${Buffer.from(normaliseRef(ref)).toString('hex').padEnd(64, '0').slice(0, 64)}`;

export class HollowEngine {
  readonly containers = new Map<string, HollowContainer>();
  private readonly byName = new Map<string, string>();
  readonly images: Set<string>;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  /** The newest events, oldest first, as dockerd keeps them for `since` (256). */
  readonly recent: EngineEvent[] = [];
  dieRules: DieRule[] = [];

  constructor(readonly config: HollowNodeConfig) {
    this.images = new Set(config.images.map(normaliseRef));
  }

  onEvent(fn: (e: EngineEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // --- lookup ---------------------------------------------------------------

  /** By full id, name (with or without `/`) or a unique id prefix, as dockerd. */
  find(ref: string): HollowContainer {
    const direct = this.containers.get(ref) ?? this.containers.get(this.byName.get(ref.replace(/^\//, '')) ?? '');
    if (direct) return direct;
    const matches = ref.length > 0 ? [...this.containers.values()].filter((c) => c.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new ApiError(400, `multiple IDs found with provided prefix: ${ref}`);
    throw new ApiError(404, `No such container: ${ref}`);
  }

  // --- lifecycle --------------------------------------------------------------

  create(name: string | undefined, body: Record<string, unknown>): HollowContainer {
    const image = typeof body.Image === 'string' ? body.Image : '';
    if (!image) throw new ApiError(400, 'No command specified');
    if (name !== undefined && name !== '' && !NAME_RE.test(name)) throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const hostConfig = (body.HostConfig ?? {}) as Record<string, unknown>;
    const nano = Number(hostConfig.NanoCpus ?? 0);
    if (nano > this.config.ncpu * 1e9 || (nano > 0 && nano < 1e7)) {
      throw new ApiError(400, `Range of CPUs is from 0.01 to ${this.config.ncpu.toFixed(2)}, as there are only ${this.config.ncpu} CPUs available`);
    }
    const memory = Number(hostConfig.Memory ?? 0);
    if (memory > 0 && memory < 6 * 1024 * 1024) throw new ApiError(400, 'Minimum memory limit allowed is 6MB');
    const ref = normaliseRef(image);
    if (!this.images.has(ref)) throw new ApiError(404, `No such image: ${ref}`);
    const id = hex(32);
    const cname = name ? name.replace(/^\//, '') : `hollow_${id.slice(0, 8)}`;
    const taken = this.byName.get(cname);
    if (taken)
      throw new ApiError(409, `Conflict. The container name "/${cname}" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.`);
    const { HostConfig: _h, ...config } = body;
    // Go's omitempty: zero durations and counts of a healthcheck are not echoed back.
    if (config.Healthcheck && typeof config.Healthcheck === 'object') config.Healthcheck = Object.fromEntries(Object.entries(config.Healthcheck).filter(([, v]) => v !== 0));
    const c: HollowContainer = {
      id,
      name: cname,
      created: Date.now(),
      image,
      imageId: imageId(ref),
      config: { Hostname: id.slice(0, 12), Env: [], Cmd: null, ...config, Image: image, Labels: { ...((body.Labels as Record<string, string> | null) ?? {}) } },
      hostConfig: {
        NetworkMode: 'default',
        Memory: 0,
        NanoCpus: 0,
        CpuShares: 0,
        Devices: [],
        Binds: null,
        PortBindings: {},
        ...hostConfig,
        RestartPolicy: { Name: '', MaximumRetryCount: 0, ...(hostConfig.RestartPolicy as object | undefined) },
      },
      status: 'created',
      exitCode: 0,
      error: '',
      restartCount: 0,
      timers: new Set(),
      backoff: RESTART_BASE_MS,
      manuallyStopped: false,
    };
    this.containers.set(id, c);
    this.byName.set(cname, id);
    this.emit(c, 'create');
    return c;
  }

  /** 'already' when it runs (304). */
  start(ref: string): 'started' | 'already' {
    const c = this.find(ref);
    if (c.status === 'running') return 'already';
    if (c.status === 'removing' || c.status === 'dead') throw new ApiError(409, `container ${c.id} is marked for removal and cannot be started`);
    this.clearTimers(c);
    for (const d of (c.hostConfig.Devices as Array<{ PathOnHost?: string }> | undefined) ?? []) {
      const path = d.PathOnHost ?? '';
      if (!this.config.devices.includes(path)) {
        // dockerd leaves the container created, with the error recorded.
        c.error = `error gathering device information while adding custom device "${path}": no such file or directory`;
        throw new ApiError(500, c.error);
      }
    }
    c.manuallyStopped = false;
    this.run(c);
    return 'started';
  }

  /** 'already' when it was not running (304). */
  stop(ref: string): 'stopped' | 'already' {
    const c = this.find(ref);
    if (c.status === 'restarting') {
      // dockerd cancels the pending restart; the container stays exited.
      c.manuallyStopped = true;
      this.clearTimers(c);
      c.status = 'exited';
      this.emit(c, 'stop');
      return 'stopped';
    }
    if (c.status !== 'running' && c.status !== 'paused') return 'already';
    c.manuallyStopped = true;
    // A hollow process exits on SIGTERM at once, with 128 + 15.
    this.emit(c, 'kill', { signal: '15' });
    this.exit(c, 143);
    this.emit(c, 'stop');
    return 'stopped';
  }

  kill(ref: string, signal = 'SIGKILL'): void {
    const c = this.find(ref);
    if (c.status !== 'running') throw new ApiError(409, `Cannot kill container: ${ref}: Container ${c.id} is not running`);
    const num = signalNumber(signal);
    // dockerd marks a container killed through the API as stopped by hand: no restart policy applies.
    c.manuallyStopped = true;
    this.emit(c, 'kill', { signal: String(num) });
    // Only KILL and TERM end a hollow process; other signals are ignored, as by a PID 1 without handlers.
    if (num === 9 || num === 15) this.exit(c, 128 + num);
  }

  /** A crash (not an API call): the container's process ends with `exitCode`. */
  die(ref: string, exitCode: number): void {
    const c = this.find(ref);
    if (c.status !== 'running') throw new ApiError(409, `Container ${c.id} is not running`);
    this.exit(c, exitCode);
  }

  remove(ref: string, force: boolean): void {
    const c = this.find(ref);
    if (c.status === 'running' || c.status === 'restarting' || c.status === 'paused') {
      if (!force) {
        throw new ApiError(409, `You cannot remove a ${c.status === 'restarting' ? 'restarting' : 'running'} container ${c.id}. Stop the container before attempting removal or force remove`);
      }
      c.manuallyStopped = true;
      if (c.status === 'running') {
        this.emit(c, 'kill', { signal: '9' });
        this.exit(c, 137);
      }
    }
    this.clearTimers(c);
    this.containers.delete(c.id);
    this.byName.delete(c.name);
    this.emit(c, 'destroy');
  }

  /** Stops every timer: the node's process state is gone (used when the fleet stops). */
  shutdown(): void {
    for (const c of this.containers.values()) this.clearTimers(c);
    this.listeners.clear();
  }

  pull(repo: string, tag: string): void {
    const ref = normaliseRef(tag && !repo.includes('@') ? `${repo}:${tag}` : repo);
    if (this.config.pullable && !this.config.pullable(ref)) {
      throw new ApiError(404, `pull access denied for ${ref.replace(/:[^:/]*$/, '')}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`);
    }
    this.images.add(ref);
    this.emitImage(ref, 'pull');
  }

  // --- internals --------------------------------------------------------------

  private run(c: HollowContainer): void {
    c.status = 'running';
    c.exitCode = 0;
    c.error = '';
    c.startedAt = dockerTime();
    const started = Date.now();
    this.emit(c, 'start');
    const hc = c.config.Healthcheck as { Test?: string[]; Interval?: number } | undefined;
    if (hc?.Test && hc.Test[0] !== 'NONE' && hc.Test.length > 1) {
      c.health = 'starting';
      const interval = hc.Interval ? hc.Interval / 1e6 : 30_000;
      this.later(c, this.config.healthyAfterMs ?? interval, () => this.probe(c, hc.Test!, interval));
    } else delete c.health;
    const rule = this.dieRules.find((r) => Object.entries(r.labels ?? {}).every(([k, v]) => c.config.Labels[k] === v));
    if (rule) this.later(c, rule.afterMs, () => this.exit(c, rule.exitCode));
    // The back-off restarts from the base once a container has run long enough.
    this.later(c, RESTART_RESET_MS, () => void (Date.now() - started >= RESTART_RESET_MS && (c.backoff = RESTART_BASE_MS)));
  }

  /** One health check, as dockerd runs it: an exec (three events), then the status when it changes. */
  private probe(c: HollowContainer, test: readonly string[], interval: number): void {
    const [entry, ...args] = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test.slice(1);
    const execID = hex(32);
    const action = `${entry} ${args.join(' ')}`;
    this.emit(c, `exec_create: ${action}`, { execID });
    this.emit(c, `exec_start: ${action}`, { execID });
    this.emit(c, 'exec_die', { execID, exitCode: '0' });
    if (c.health !== 'healthy') {
      c.health = 'healthy';
      this.emit(c, 'health_status: healthy');
    }
    this.later(c, interval, () => this.probe(c, test, interval));
  }

  private exit(c: HollowContainer, exitCode: number): void {
    this.clearTimers(c);
    c.exitCode = exitCode;
    c.finishedAt = dockerTime();
    if (c.health) c.health = 'unhealthy';
    delete c.health;
    this.emit(c, 'die', { exitCode: String(exitCode) });
    const policy = c.hostConfig.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
    const name = policy?.Name ?? '';
    const wants =
      !c.manuallyStopped && (name === 'always' || name === 'unless-stopped' || (name === 'on-failure' && exitCode !== 0 && (!policy?.MaximumRetryCount || c.restartCount < policy.MaximumRetryCount)));
    if (!wants) {
      c.status = 'exited';
      return;
    }
    c.status = 'restarting';
    const delay = c.backoff;
    c.backoff = Math.min(RESTART_MAX_MS, c.backoff * 2);
    this.later(c, delay, () => {
      c.restartCount++;
      this.run(c);
    });
  }

  private later(c: HollowContainer, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      c.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    c.timers.add(t);
  }

  private clearTimers(c: HollowContainer): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers.clear();
  }

  private emit(c: HollowContainer, action: string, extra: Record<string, string> = {}): void {
    // dockerd puts the labels first, then image and name (and the action's own attributes).
    this.publish({ from: c.image, Type: 'container', Action: action, Actor: { ID: c.id, Attributes: { ...c.config.Labels, ...extra, image: c.image, name: c.name } } });
  }

  private emitImage(ref: string, action: string): void {
    this.publish({ from: '', Type: 'image', Action: action, Actor: { ID: ref, Attributes: { name: ref } } });
  }

  private publish(e: Pick<EngineEvent, 'from' | 'Type' | 'Action' | 'Actor'>): void {
    const now = Date.now();
    const event: EngineEvent = {
      status: e.Action,
      id: e.Actor.ID,
      ...e,
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1e6 + (process.hrtime()[1] % 1e6),
    };
    if (e.Type === 'image') delete (event as Partial<EngineEvent>).from;
    this.recent.push(event);
    if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    for (const l of this.listeners) l(event);
  }
}

export { ZERO_TIME };

/** Events dockerd keeps for `GET /events?since=…` (daemon/events: eventsLimit). */
const RECENT_EVENTS = 256;

const SIGNALS: Readonly<Record<string, number>> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, USR1: 10, USR2: 12, TERM: 15 };

export function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) return Number(signal);
  const n = SIGNALS[signal.toUpperCase().replace(/^SIG/, '')];
  if (n === undefined) throw new ApiError(400, `Invalid signal: ${signal}`);
  return n;
}
