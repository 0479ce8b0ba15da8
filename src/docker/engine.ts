// One client per fog node's Docker Engine. Every Docker API call of the
// project lives here, each with a deadline: a hung (SIGSTOPped) daemon accepts
// connections and never answers.
//
// Requests go straight through node:http(s), not through dockerode's modem:
// at 1,000 engines the modem's per-request work (it formats every request's
// options with util.inspect for a debug line) and one AbortSignal.timeout plus
// AbortSignal.any per call were a fifth of the controller's CPU. Each engine
// keeps a few connections alive for its short calls; long calls (stop, pull)
// and the /events stream get connections of their own, so they never hold up
// an observation behind them. A deadline is one timer per call.

import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { FogNode } from '../api/types.js';
import { PingLine, TCP_KEEPALIVE_MS, pollRequest, type PingDone, type PingTarget, type PingTicket } from './ping.js';
import { parseEngineTime } from './time.js';

/**
 * Why a call failed. `config`: the endpoint cannot be used as written (never
 * retried). `timeout`: no answer within the deadline. `connection`: refused,
 * reset, socket missing. `http`: the engine answered with an error status.
 */
export type EngineErrorKind = 'config' | 'timeout' | 'connection' | 'http';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    /** HTTP status for `http`; the errno code (ECONNREFUSED, ...) for `connection`. */
    readonly status?: number,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineOptions {
  /** Deadline of every ordinary call, ms. */
  callTimeoutMs: number;
  /** Deadline of an image pull, ms. Default 5 minutes. */
  pullTimeoutMs?: number;
  /** Told when each call ends (metrics): its duration and, when it failed, how. 4xx answers count as answers, not errors. */
  onCall?: (node: string, seconds: number, error?: EngineErrorKind) => void;
}

/** The container fields of GET /containers/json that we read. */
export interface EngineContainerSummary {
  Id: string;
  Names?: string[];
  Image: string;
  ImageID?: string;
  Labels?: Record<string, string> | null;
  State?: string;
  /** Human text: `Up 3 seconds (healthy)`, `Exited (137) 2 minutes ago`. */
  Status?: string;
}

/** The fields of GET /containers/{id}/json that we read. */
export interface EngineContainer {
  Id: string;
  Name: string;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: string } | null;
  };
  RestartCount: number;
  Config: { Image: string; Labels?: Record<string, string> | null; ExposedPorts?: Record<string, unknown> | null; Tty?: boolean };
  HostConfig: {
    NanoCpus?: number;
    Memory?: number;
    NetworkMode?: string;
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  };
}

export interface EngineInfo {
  Name: string;
  Architecture: string;
  OSType: string;
  NCPU: number;
  MemTotal: number;
  Labels?: string[] | null;
  ServerVersion?: string;
  /** The engine's wall clock, RFC 3339 with nanoseconds. */
  SystemTime: string;
  /** Where the engine keeps images and containers (a path on the engine's host). */
  DockerRootDir?: string;
}

export interface EngineImage {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size?: number;
}

/** One message of an image pull's (or load's) progress stream. */
export interface PullMessage {
  status?: string;
  /** A load's answer: `Loaded image: fog/app:2`. */
  stream?: string;
  /** The layer (or image) the message is about. */
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** One message of GET /events. */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export interface EventStream {
  close(): void;
}

interface CallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  /** Status codes that mean success. */
  ok: readonly number[];
  /** Default: the engine's callTimeoutMs. */
  timeoutMs?: number;
  /** A connection of its own instead of the kept-alive pool (calls that may take long, streams). */
  own?: boolean;
  /** The answer as text, not parsed. */
  raw?: boolean;
  /** Extra request headers (X-Registry-Auth). */
  headers?: Record<string, string>;
}

/** What the clients of one engine share (withOptions makes clients with other deadlines). */
interface Seen {
  /** performance.now() of the last answer. */
  at: number;
  pinger?: PingLine;
  /** The engine's wall clock against ours, from /info. */
  clock?: { offsetMs: number; rttMs: number; at: number; askedAt: number; stale: boolean };
  clockReading?: boolean;
  /** Engine time (ms) the next events poll starts from: the last one's `until`. */
  since?: number;
  /** The polls of the next turns, oldest first, already on the line behind the current one (a tag: that poll's `until`, engine ms). */
  readonly ahead: PingTicket[];
  events?: (e: EngineEvent) => void;
  /** Who waits on the steady turn's poll (one at a time: the heartbeat sends a node's next turn after this one ends), and the callback that tells them. */
  turnDone?: PingDone;
  turnEnded?: PingDone;
  /** A plain ping on a fresh connection, sent while the turn's poll is late (`hedge`), told to whoever attaches. */
  hedge?: { line: PingLine; ticket: PingTicket };
}

/** Every field present from the start: the heartbeat reads and writes it at every turn, and one shape keeps those accesses monomorphic. */
const newSeen = (): Seen => ({
  at: Number.NEGATIVE_INFINITY,
  pinger: undefined,
  clock: undefined,
  clockReading: false,
  since: undefined,
  ahead: [],
  events: undefined,
  turnDone: undefined,
  turnEnded: undefined,
  hedge: undefined,
});

/**
 * Polls sent ahead in one write, when none is left on the line for the next
 * turn: a turn is then one read, and a write every POLLS_AHEAD turns (a
 * system call costs ~10 µs on a small VM; 1,000 engines, 500 turns a second:
 * 2.27 % against 1.86 % of a core for the bare cycle, idle 0.95 %).
 */
const POLLS_AHEAD = 4;

/** A turn shorter than this is pinged, not polled. */
const MIN_HOLD_MS = 200;
/** A poll's `until` is a multiple of this on the engine's clock (so it ends up to this much before the turn asked for). */
const POLL_GRID_MS = 100;
/** Each poll starts this much before the previous one's `until`. */
const POLL_OVERLAP_MS = 50;
/** The first poll replays this far back from the /info that gave the clock. */
const POLL_FIRST_SINCE_MS = 1_000;
/** A poll ending this much before its `until` on our clock puts the clock offset in doubt. */
const CLOCK_SLACK_MS = 250;
/**
 * A poll ending this much after its `until` on our clock moves the offset to
 * what that end says. An /info read while the fleet starts (1,000 engines
 * at once) can take most of a second, and half of it is the offset's error:
 * with the polls ending ~200 ms after the turns they were meant to end
 * before, at 1,000 hollow nodes nearly every turn was owed (and hedged).
 */
const CLOCK_LATE_MS = 50;
/** A clock in doubt is read again at most this often. */
const CLOCK_RETRY_MS = 10_000;
/** A clock reading older than this is replaced by any new one. */
const CLOCK_KEEP_MS = 10 * 60_000;
const EVENT_FILTERS = encodeURIComponent('{"type":["container","image"]}');
/** A poll already on the line serves a turn that wants its end within this of its `until`; otherwise it is dropped for a fresh one. */
const REALIGN_MS = 250;
/** Engine ms floored to the polls' grid. */
const onGrid = (ms: number) => Math.floor(ms / POLL_GRID_MS) * POLL_GRID_MS;

/** The events since `since` (a little before: see heartbeat) until `until`, engine ms. */
const pollPath = (since: number, until: number) => `/events?since=${unixSeconds(since - POLL_OVERLAP_MS)}&until=${unixSeconds(until)}&filters=${EVENT_FILTERS}`;
/** Docker's `seconds.nanoseconds` from ms since the epoch. */
const unixSeconds = (ms: number) => {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String(whole % 1000).padStart(3, '0')}000000`;
};

/**
 * A batch's requests are written in place into one buffer that every engine
 * shares (a batch is written out before the next is made): from batch to
 * batch only the digits of `since` and `until` change. Built as strings, the
 * 60 batches a second of 1,000 engines were a third of what the idle
 * controller allocated, and garbage is what wakes the collector and its
 * threads. A time whose seconds are not 10 digits (an engine clock before
 * 2001, or after 2286) makes the batch text as before.
 */
const ONE_POLL = pollRequest(pollPath(1e12 + POLL_OVERLAP_MS, 1e12));
const SINCE_AT = ONE_POLL.indexOf('since=') + 'since='.length;
const UNTIL_AT = ONE_POLL.indexOf('until=') + 'until='.length;
const POLL_BATCH = Buffer.concat(Array.from({ length: POLLS_AHEAD }, () => ONE_POLL));
const tenDigitSeconds = (ms: number) => ms >= 1e12 && ms < 1e13;

/** `ms` as `unixSeconds` writes it, over the 10 + 1 + 3 digits at `at` (the nanoseconds' zeros stay). */
function writeUnixSeconds(buf: Buffer, at: number, ms: number): void {
  const whole = Math.floor(ms);
  let sec = Math.floor(whole / 1000);
  let milli = whole - sec * 1000;
  for (let i = at + 9; i >= at; i--, sec = Math.floor(sec / 10)) buf[i] = 0x30 + (sec % 10);
  for (let i = at + 13; i > at + 10; i--, milli = Math.floor(milli / 10)) buf[i] = 0x30 + (milli % 10);
}

/** The requests of the POLLS_AHEAD polls after the one ending at `from` (engine ms), the first until `firstUntil`, then one a period. Exported for tests. */
export function pollBatch(from: number, firstUntil: number, periodMs: number): Buffer {
  const lastUntil = firstUntil + (POLLS_AHEAD - 1) * periodMs;
  if (!tenDigitSeconds(from - POLL_OVERLAP_MS) || !tenDigitSeconds(lastUntil)) {
    const text: Buffer[] = [];
    for (let j = 0, since = from, until = firstUntil; j < POLLS_AHEAD; j++, since = until, until += periodMs) text.push(pollRequest(pollPath(since, until)));
    return Buffer.concat(text);
  }
  for (let j = 0, since = from, until = firstUntil; j < POLLS_AHEAD; j++, since = until, until += periodMs) {
    writeUnixSeconds(POLL_BATCH, j * ONE_POLL.length + SINCE_AT, since - POLL_OVERLAP_MS);
    writeUnixSeconds(POLL_BATCH, j * ONE_POLL.length + UNTIL_AT, until);
  }
  return POLL_BATCH;
}

/** Connections kept open per engine for short calls; the observer and the executor share them. */
const POOL_SOCKETS = 4;
/**
 * An idle pooled connection is closed after this long (dockerd keeps idle
 * connections open), so an idle engine holds only its event stream and
 * heartbeat line. Busy engines keep theirs: a rollout or a convergence calls
 * far more often than this. The automatic resync (5 min at 1,000 nodes) then
 * opens one connection per list call, ~3 a second at 1,000 nodes. (With a
 * 30 s resync this was 330 s, to keep one connection per idle engine for its
 * next list call: 567 new sockets in 25 s between two heap snapshots had kept
 * V8's full collections going.)
 */
const POOL_IDLE_MS = 15_000;

/** Where requests go: unix socket or host/port, http or https with the client certificate. */
interface Transport {
  request: typeof http.request;
  target: http.RequestOptions;
  /** Kept-alive connections for short calls. */
  pool: http.Agent;
  /** TLS options for a connection outside the pool. */
  tls: https.AgentOptions;
  /** The heartbeat's own connection goes here. */
  ping: PingTarget;
}

function transport(node: string, o: Docker.DockerOptions): Transport {
  // keepAliveMsecs: the agent sets it as the kernel's TCP keep-alive idle time on pooled sockets.
  const poolOpts: http.AgentOptions = { keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS, maxSockets: POOL_SOCKETS, maxFreeSockets: POOL_SOCKETS, timeout: POOL_IDLE_MS, scheduling: 'lifo' };
  if (o.socketPath !== undefined) {
    return { request: http.request, target: { socketPath: o.socketPath }, pool: new http.Agent(poolOpts), tls: {}, ping: { socketPath: o.socketPath } };
  }
  const target = { host: o.host, port: o.port };
  if (o.protocol === 'https') {
    const tls: https.AgentOptions = { ...(o.ca ? { ca: o.ca } : {}), ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}) };
    return { request: https.request, target, pool: new https.Agent({ ...poolOpts, ...tls }), tls, ping: { host: String(o.host), port: Number(o.port), tls } };
  }
  // Never plain HTTP with TLS material at hand: that would be a silent downgrade.
  if (o.protocol !== 'http' || o.ca || o.cert || o.key) {
    throw new EngineError('config', `node ${node}: no usable protocol (${String(o.protocol)}) for ${o.host}:${o.port}`);
  }
  return { request: http.request, target, pool: new http.Agent(poolOpts), tls: {}, ping: { host: String(o.host), port: Number(o.port) } };
}

/** How the engine is reached (dockerode's option shape): parsed from a Node's spec, TLS files read. */
export function dockerOptions(node: Pick<FogNode, 'metadata' | 'spec'>): Docker.DockerOptions {
  const { endpoint, tls, insecure } = node.spec;
  const name = node.metadata.name;
  if (endpoint.startsWith('unix://')) {
    const socketPath = endpoint.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new EngineError('config', `node ${name}: endpoint ${endpoint} must be unix:///absolute/path`);
    return { socketPath };
  }
  if (!endpoint.startsWith('tcp://')) {
    throw new EngineError('config', `node ${name}: endpoint ${endpoint} is neither unix:// nor tcp://`);
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EngineError('config', `node ${name}: endpoint ${endpoint} is not a valid tcp:// address`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (tls) {
    let files: { ca: Buffer; cert: Buffer; key: Buffer };
    try {
      files = { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    } catch (err) {
      throw new EngineError('config', `node ${name}: cannot read TLS files: ${(err as Error).message}`);
    }
    // protocol set explicitly: a client must never pick http because a file is missing.
    return { host, port: url.port || 2376, protocol: 'https', ...files };
  }
  if (!insecure) {
    throw new EngineError(
      'config',
      `node ${name}: ${endpoint} has no tls (ca, cert, key); refusing plain tcp to a Docker Engine (anyone on the network could run containers). Add spec.tls, or spec.insecure: true to allow it`,
    );
  }
  return { host, port: url.port || 2375, protocol: 'http' };
}

/** A Docker Engine client with a deadline on every call. */
export class Engine {
  private constructor(
    readonly node: string,
    private readonly via: Transport,
    private readonly opts: EngineOptions,
    private readonly seen: Seen,
  ) {}

  /** A client for `node` reached with dockerode's connection options. */
  static connect(node: string, options: Docker.DockerOptions, opts: EngineOptions): Engine {
    return new Engine(node, transport(node, options), opts, newSeen());
  }

  /** The client for a Node manifest; throws EngineError('config') for an endpoint it must not use. */
  static forNode(node: FogNode, opts: EngineOptions): Engine {
    return Engine.connect(node.metadata.name, dockerOptions(node), opts);
  }

  /** The same connection with other deadlines. */
  withOptions(opts: Partial<EngineOptions>): Engine {
    return new Engine(this.node, this.via, { ...this.opts, ...opts }, this.seen);
  }

  get callTimeoutMs(): number {
    return this.opts.callTimeoutMs;
  }

  /** performance.now() of the engine's last answer (any status, or event stream data): proof it is alive. */
  get lastAnswerAt(): number {
    return this.seen.at;
  }

  /** How long ago the engine last answered (anything), ms; Infinity when it never has. */
  get silentForMs(): number {
    return performance.now() - this.seen.at;
  }

  async ping(): Promise<void> {
    await this.call({ method: 'GET', path: '/_ping', ok: [200] });
  }

  /**
   * The heartbeat, on a kept-alive connection of its own
   * (src/docker/ping.ts) with its own deadline, so that the pool of a hung
   * engine cannot hold it up. `done()` when answered, `done(err)` with a
   * PingError ('timeout', 'connection' or 'http') otherwise.
   *
   * With `holdMs` (the time until the node's next turn), `periodMs` (the
   * time between turns) and someone following the events (`followEvents`),
   * a turn is answered by a long poll of the engine's events:
   * `GET /events?since=…&until=…`, `until` `holdMs` from now on the engine's
   * clock (on a 100 ms grid of it), ended by the engine then. The turns'
   * polls are sent ahead, POLLS_AHEAD in one write, behind the one in
   * flight (HTTP/1.1 pipelining): dockerd starts it the moment the one before ends, so the
   * polls chain with nothing lost between them, and that end and the next
   * poll's headers come in one read. `since` is the previous `until` (a
   * little before it), for a poll that starts afresh: dockerd replays what it
   * still holds from there. Every poll must end within `timeoutMs` after its
   * `until`, waited on or not, or the line is lost. A turn with nothing
   * ahead on the line (the first, after a miss, a lost node, a clock not
   * known or in doubt) is `HEAD /_ping`, answered at once, with this turn's
   * and the next turns' polls sent behind it.
   */
  heartbeat(timeoutMs: number, done: PingDone, holdMs = 0, periodMs = 0): void {
    const seen = this.seen;
    const line = (seen.pinger ??= this.newLine());
    const next = seen.ahead[0];
    const clock = seen.clock;
    const hedge = seen.hedge;
    seen.hedge = undefined;
    const polling = holdMs >= MIN_HOLD_MS && periodMs > 0 && seen.events !== undefined && clock !== undefined && !clock.stale && seen.since !== undefined;
    const now = Date.now();
    const wanted = clock ? now + clock.offsetMs + holdMs : 0;
    if (polling && next && !next.dead && Math.abs(next.tag - wanted) <= REALIGN_MS) {
      // The steady turn: the poll sent ahead for it, running since the one before it ended (a late one did end: no hedge needed).
      hedge?.line.close();
      seen.ahead.shift();
      this.attachTurn(next, done);
      // The next batch starts where this poll ends (no gap), its ends on the turns as the clock reads now (an offset corrected since the last batch moves them).
      if (seen.ahead.length === 0) this.sendPolls(line, next.tag, Math.max(onGrid(wanted + periodMs), next.tag + MIN_HOLD_MS), periodMs, timeoutMs);
      return;
    }
    seen.ahead.length = 0;
    if (clock?.stale) this.refreshClock();
    if (hedge) {
      // After a late poll's miss: the ping already sent on a fresh connection answers this turn, and that connection is the line from now on.
      line.close();
      seen.pinger = hedge.line;
      // Told after this turn, as an answer comes, even when it has come already.
      queueMicrotask(() => hedge.line.attach(hedge.ticket, done));
      return;
    }
    // A fresh start (or a lost node, or no clock): a ping answers this turn at
    // once; behind it, polls carry the events until this turn's end and the next.
    if (line.pending > 0) line.reset();
    line.ping(timeoutMs, done);
    if (!polling) return;
    const until = onGrid(wanted);
    const since = Math.min(seen.since!, until - MIN_HOLD_MS);
    if (until - clock.offsetMs - now < MIN_HOLD_MS) return;
    // This turn's poll (its answer is the ping's), then the next turns'.
    const first = line.poll(pollPath(since, until), this.pollDeadline(until, timeoutMs), timeoutMs, until);
    if (first) this.sendPolls(line, until, until + periodMs, periodMs, timeoutMs);
  }

  /** A heartbeat line to this engine: every answer is a sign of life, a poll's lines are events, its end moves `since`. */
  private newLine(): PingLine {
    const seen = this.seen;
    return new PingLine(
      this.via.ping,
      () => (seen.at = performance.now()),
      (text) => this.eventLine(text),
      (t) => this.pollEnded(t),
    );
  }

  /**
   * The turn's poll is late (its node's next turn came before its end): a
   * plain ping on a fresh connection now, so that if the poll misses, the
   * second check a loss needs has been running since, rather than starting
   * then. Its answer is a sign of life, and serves the re-ping after the
   * miss; when the poll ends after all, it is dropped.
   */
  hedge(timeoutMs: number): void {
    const seen = this.seen;
    if (seen.hedge || !seen.pinger) return;
    const line = this.newLine();
    seen.hedge = { line, ticket: line.sendPing(timeoutMs) };
  }

  /**
   * The polls of the next POLLS_AHEAD turns after the one ending at `from`,
   * in one write behind what is on the line: the engine starts each the
   * moment the one before it ends, so that end and the next poll's headers
   * come in one read (a turn is one read, as a ping's answer).
   */
  private sendPolls(line: PingLine, from: number, firstUntil: number, periodMs: number, timeoutMs: number): void {
    line.polls(pollBatch(from, firstUntil, periodMs), POLLS_AHEAD, this.pollDeadline(firstUntil, timeoutMs), firstUntil, periodMs, timeoutMs, this.seen.ahead);
  }

  /** ms from now within which a poll until `until` (engine ms) must end: `until` on our clock, plus the timeout. */
  private pollDeadline(until: number, timeoutMs: number): number {
    return Math.max(0, until - (this.seen.clock?.offsetMs ?? 0) - Date.now()) + timeoutMs;
  }

  /** A steady turn waits on `t`; one callback per engine (`turnEnded`), not a closure per turn: 500 turns a second at 1,000 nodes. */
  private attachTurn(t: PingTicket, done: PingDone): void {
    const seen = this.seen;
    seen.turnDone = done;
    seen.turnEnded ??= (err) => {
      const told = seen.turnDone;
      seen.turnDone = undefined;
      if (err?.kind === 'timeout') this.staleClock();
      told?.(err);
    };
    seen.pinger!.attach(t, seen.turnEnded);
  }

  /** A poll ended at its `until` (its tag): the next fresh poll starts from there; far too early, and the clock is in doubt. */
  private pollEnded(t: PingTicket): void {
    this.seen.since = Math.max(this.seen.since ?? t.tag, t.tag);
    const clock = this.seen.clock;
    if (!clock) return;
    const now = Date.now();
    const early = t.tag - clock.offsetMs - now;
    if (early > CLOCK_SLACK_MS) this.staleClock();
    // Late: the engine's timer ended it at `until` on its clock, so its clock then read `until` and ours at most `now`: the offset is at least `until - now`, and the reading is better than an /info whose round trip was long.
    else if (early < -CLOCK_LATE_MS) this.seen.clock = { ...clock, offsetMs: t.tag - now };
  }

  /** Events the heartbeat's long polls bring go to `sink` (container and image events); undefined: none, and the heartbeat only pings. */
  followEvents(sink: ((e: EngineEvent) => void) | undefined): void {
    this.seen.events = sink;
  }

  private eventLine(text: string): void {
    let event: EngineEvent;
    try {
      event = JSON.parse(text) as EngineEvent;
    } catch {
      return; // a malformed line is skipped; the next full observe corrects any miss
    }
    this.seen.events?.(event);
  }

  /** The engine's clock is in doubt: ping until /info has been read again. */
  private staleClock(): void {
    if (this.seen.clock) this.seen.clock = { ...this.seen.clock, stale: true };
    this.refreshClock();
  }

  private refreshClock(): void {
    const c = this.seen.clock;
    const now = Date.now();
    if (this.seen.clockReading || (c && now - c.askedAt < CLOCK_RETRY_MS)) return;
    if (c) this.seen.clock = { ...c, askedAt: now };
    this.seen.clockReading = true;
    this.info()
      .catch(() => undefined)
      .finally(() => (this.seen.clockReading = false));
  }

  /** Closes the heartbeat's connection (pooled connections close themselves when idle). */
  close(): void {
    this.seen.pinger?.close();
    this.seen.pinger = undefined;
    this.seen.hedge?.line.close();
    this.seen.hedge = undefined;
  }

  /** /info; its SystemTime, bracketed by our clock, also gives the engine clock's offset (for the heartbeat's polls). */
  async info(): Promise<EngineInfo> {
    const sent = Date.now();
    const info = await this.call<EngineInfo>({ method: 'GET', path: '/info', ok: [200] });
    this.sampleClock(info.SystemTime, sent, Date.now());
    return info;
  }

  /**
   * One reading of the engine's clock: SystemTime taken halfway through the
   * call, so the error is at most half its round trip. A slow answer does
   * not replace a quick one (unless the one kept is in doubt or old).
   */
  private sampleClock(systemTime: string | undefined, sent: number, got: number): void {
    const engineNow = parseEngineTime(systemTime);
    if (engineNow === undefined) return;
    const rttMs = got - sent;
    const c = this.seen.clock;
    if (c && !c.stale && rttMs > 2 * c.rttMs + 5 && got - c.at < CLOCK_KEEP_MS) return;
    this.seen.clock = { offsetMs: engineNow - (sent + got) / 2, rttMs, at: got, askedAt: got, stale: false };
    // The first poll replays from here: what the read that asked this took in is older.
    this.seen.since ??= engineNow - POLL_FIRST_SINCE_MS;
  }

  listContainers(): Promise<EngineContainerSummary[]> {
    return this.call({ method: 'GET', path: '/containers/json', query: { all: true }, ok: [200] });
  }

  /** The same list unparsed (JSON of EngineContainerSummary[]): a caller can compare it with the last one before paying for parsing. */
  listContainersText(): Promise<string> {
    return this.call({ method: 'GET', path: '/containers/json', query: { all: true }, ok: [200], raw: true });
  }

  /** Containers (running or not) carrying every one of `labels` (`key=value`). */
  listContainersLabelled(labels: readonly string[]): Promise<EngineContainerSummary[]> {
    return this.call({ method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: labels }) }, ok: [200] });
  }

  /**
   * GET /containers/{id}/logs with timestamps, on a connection of its own:
   * resolves with the response once the engine answers (within the call
   * deadline); the body is Docker's multiplexed stream (or raw for a TTY
   * container) and, with `follow`, stays open until the container stops or
   * the caller destroys it.
   */
  containerLogs(id: string, o: { follow: boolean; since?: number; tail?: number }): Promise<IncomingMessage> {
    const timeoutMs = this.opts.callTimeoutMs;
    const query: Record<string, string | number | boolean> = { stdout: true, stderr: true, timestamps: true, follow: o.follow, tail: o.tail ?? 'all' };
    if (o.since !== undefined) query.since = o.since;
    return new Promise((resolve, reject) => {
      const req = this.send({ method: 'GET', path: `/containers/${encodeURIComponent(id)}/logs`, query, ok: [200], own: true });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new EngineError('timeout', `no answer from the logs of ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(toEngineError(err));
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode === 200) return resolve(res);
        readBody(res, (text) => reject(httpError(res.statusCode ?? 0, res.headers['content-type'], text)));
      });
    });
  }

  listImages(): Promise<EngineImage[]> {
    return this.call({ method: 'GET', path: '/images/json', ok: [200] });
  }

  /** DELETE /images/{ref} without force: refused (409) while a container uses it or, by id, while several tags name it. */
  async removeImage(ref: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/images/${encodeURIComponent(ref)}`, query: { force: false, noprune: false }, ok: [200] });
  }

  /** undefined when there is no such container. */
  async inspectContainer(idOrName: string): Promise<EngineContainer | undefined> {
    try {
      return await this.call({ method: 'GET', path: `/containers/${encodeURIComponent(idOrName)}/json`, ok: [200] });
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createContainer(name: string, body: object): Promise<string> {
    const res = await this.call<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body, ok: [200, 201] });
    return res.Id;
  }

  /** 'already' when it was running (304). */
  startContainer(id: string): Promise<'started' | 'already'> {
    return this.notModified({ method: 'POST', path: `/containers/${encodeURIComponent(id)}/start`, ok: [204] }, 'started');
  }

  /** Drops a network's endpoint for `container` (by name) even when the engine has no such container: `docker network disconnect --force`. */
  async disconnectEndpoint(network: string, container: string): Promise<void> {
    await this.call({ method: 'POST', path: `/networks/${encodeURIComponent(network)}/disconnect`, body: { Container: container, Force: true }, ok: [200] });
  }

  /** Waits up to `timeoutSec` for the process to exit, then kills it; 'already' when it was not running. */
  stopContainer(id: string, timeoutSec: number): Promise<'stopped' | 'already'> {
    return this.notModified(
      { method: 'POST', path: `/containers/${encodeURIComponent(id)}/stop`, query: { t: timeoutSec }, ok: [204], timeoutMs: this.opts.callTimeoutMs + timeoutSec * 1000, own: true },
      'stopped',
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/containers/${encodeURIComponent(id)}`, query: { force: false }, ok: [204] });
  }

  /**
   * Pulls `ref` (with `registryAuth`, an X-Registry-Auth value) and tells each
   * progress message as it arrives (layers and bytes: see PullMessage); an
   * error inside the stream rejects with EngineError('http', 500). One
   * deadline for the whole pull (pullTimeoutMs).
   */
  pullImage(ref: string, registryAuth?: string, onMessage: (m: PullMessage) => void = () => undefined): Promise<void> {
    const { repo, tag } = splitImageRef(ref);
    return this.jsonLines(
      { method: 'POST', path: '/images/create', query: { fromImage: repo, tag }, ok: [200], ...(registryAuth !== undefined ? { headers: { 'X-Registry-Auth': registryAuth } } : {}) },
      this.opts.pullTimeoutMs ?? 300_000,
      onMessage,
    );
  }

  /** GET /images/{name}/get: the image as a tar stream, read as it comes (never held whole). The caller ends it. */
  async exportImage(ref: string): Promise<IncomingMessage> {
    const { res } = await this.open({ method: 'GET', path: `/images/${encodeURIComponent(ref)}/get`, ok: [200] }, this.opts.callTimeoutMs);
    return res;
  }

  /** POST /images/load with `tar` piped in as it comes; one deadline for the whole load (pullTimeoutMs). */
  loadImage(tar: Readable, onMessage: (m: PullMessage) => void = () => undefined): Promise<void> {
    return this.jsonLines({ method: 'POST', path: '/images/load', query: { quiet: true }, ok: [200] }, this.opts.pullTimeoutMs ?? 300_000, onMessage, tar);
  }

  /** A call whose answer is Docker's JSON-lines progress stream, each message told as it comes; `{error}` in it rejects. */
  private async jsonLines(spec: CallSpec, timeoutMs: number, onMessage: (m: PullMessage) => void, body?: Readable): Promise<void> {
    const { req, res } = await this.open(spec, timeoutMs, body);
    await new Promise<void>((resolve, reject) => {
      let failed: EngineError | undefined;
      const timer = setTimeout(() => {
        req.destroy();
        reject(new EngineError('timeout', `${spec.path} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.seen.at = performance.now();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line || failed) continue;
          let msg: PullMessage;
          try {
            msg = JSON.parse(line) as PullMessage;
          } catch {
            continue;
          }
          if (msg.error !== undefined) failed = new EngineError('http', msg.errorDetail?.message ?? msg.error, 500);
          else onMessage(msg);
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (failed) reject(failed);
        else resolve();
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(toEngineError(err));
      });
      res.on('close', () => {
        clearTimeout(timer);
        if (!res.complete) reject(failed ?? new EngineError('connection', `connection closed while reading ${spec.path}`));
      });
    });
  }

  /**
   * A request on a connection of its own, `body` piped in (chunked) when given;
   * resolves once the engine answers with a status in `spec.ok` (the caller
   * reads and ends the response), rejects on another status or no answer within `timeoutMs`.
   */
  private open(spec: CallSpec, timeoutMs: number, body?: Readable): Promise<{ req: http.ClientRequest; res: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        ...(body === undefined ? { 'Content-Length': 0 } : { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' }),
        ...spec.headers,
      };
      const req = this.via.request({ ...this.via.target, agent: false, ...this.via.tls, method: spec.method, path: spec.path + queryString(spec.query), headers });
      req.once('socket', (s) => s.setKeepAlive(true, TCP_KEEPALIVE_MS));
      const timer = setTimeout(() => {
        req.destroy();
        reject(new EngineError('timeout', `no answer from ${spec.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(toEngineError(err));
      });
      req.on('response', (res) => {
        this.seen.at = performance.now();
        // With a body, the answer comes when the body is in: the deadline is the caller's from here.
        clearTimeout(timer);
        if (spec.ok.includes(res.statusCode ?? 0)) return resolve({ req, res });
        readBody(res, (text) => reject(httpError(res.statusCode ?? 0, res.headers['content-type'], text)));
      });
      if (body === undefined) req.end();
      else {
        body.on('error', (err) => req.destroy(toEngineError(err)));
        body.pipe(req);
      }
    });
  }

  /**
   * Follows GET /events filtered to containers and images. `onEnd` is called once when
   * the stream ends or fails for any reason other than close().
   */
  watchEvents(onEvent: (e: EngineEvent) => void, onData: () => void, onEnd: (err?: Error) => void): EventStream {
    let closed = false;
    let ended = false;
    const end = (err?: Error) => {
      if (ended || closed) return;
      ended = true;
      clearTimeout(connectTimer);
      req.destroy();
      onEnd(err);
    };
    const timeoutMs = this.opts.callTimeoutMs;
    const req = this.send({ method: 'GET', path: '/events', query: { filters: '{"type":["container","image"]}' }, ok: [200], own: true });
    // Until the headers arrive the call has the ordinary deadline; afterwards silence is normal.
    const connectTimer = setTimeout(() => end(new EngineError('timeout', `no answer from /events within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => end(toEngineError(err)));
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      this.seen.at = performance.now();
      if (res.statusCode !== 200) {
        readBody(res, (text) => end(httpError(res.statusCode ?? 0, res.headers['content-type'], text)));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.seen.at = performance.now();
        onData();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as EngineEvent);
          } catch {
            // a malformed line is skipped; the next full observe corrects any miss
          }
        }
      });
      res.on('end', () => end(new EngineError('connection', 'event stream ended')));
      res.on('error', (err) => end(toEngineError(err)));
      res.on('close', () => end(new EngineError('connection', 'event stream closed')));
    });
    return {
      close: () => {
        closed = true;
        clearTimeout(connectTimer);
        req.destroy();
      },
    };
  }

  private async notModified<T extends string>(spec: CallSpec, done: T): Promise<T | 'already'> {
    try {
      await this.call(spec);
      return done;
    } catch (err) {
      if (err instanceof EngineError && err.status === 304) return 'already';
      throw err;
    }
  }

  /** The one place a request is made; the caller ends it. */
  private send(spec: CallSpec): http.ClientRequest {
    const qs = queryString(spec.query);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    // An explicit length, also 0: a chunked empty body makes dockerd try to parse one (start rejects it).
    const headers: http.OutgoingHttpHeaders = body === undefined ? { 'Content-Length': 0 } : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (spec.headers !== undefined) Object.assign(headers, spec.headers);
    const req = this.via.request({
      ...this.via.target,
      ...(spec.own ? { agent: false, ...this.via.tls } : { agent: this.via.pool }),
      method: spec.method,
      path: spec.path + qs,
      headers,
    });
    // Connections outside the pool get the kernel's keep-alive too (the agent sets it on its own).
    if (spec.own) req.once('socket', (s) => s.setKeepAlive(true, TCP_KEEPALIVE_MS));
    req.end(body);
    return req;
  }

  /** A call with its deadline: one timer, cleared on the answer. A GET that failed on a kept-alive connection the engine had closed meanwhile is sent once more, on a new one. */
  private call<T>(spec: CallSpec & { raw?: boolean }, retried = false): Promise<T> {
    const timeoutMs = spec.timeoutMs ?? this.opts.callTimeoutMs;
    const onCall = retried ? undefined : this.opts.onCall;
    const t0 = onCall && performance.now();
    return new Promise<T>((resolve, reject) => {
      const req = this.send(spec);
      let done = false;
      const finish = (err: unknown, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (onCall) {
          const kind = err === undefined ? undefined : err instanceof EngineError ? err.kind : 'connection';
          onCall(this.node, (performance.now() - t0!) / 1000, kind === 'http' && (err as EngineError).status! < 500 ? undefined : kind);
        }
        if (err === undefined) return resolve(value as T);
        const code = (err as { code?: string }).code;
        if (!retried && spec.method === 'GET' && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) return resolve(this.call<T>({ ...spec, own: true }, true));
        reject(toEngineError(err));
      };
      const timer = setTimeout(() => {
        finish(new EngineError('timeout', `no answer within ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        this.seen.at = performance.now();
        res.on('error', (err) => finish(err));
        res.on('close', () => res.complete || finish(new EngineError('connection', `connection closed while reading ${spec.path}`)));
        readBody(res, (text) => {
          const status = res.statusCode ?? 0;
          if (!spec.ok.includes(status)) return finish(httpError(status, res.headers['content-type'], text));
          if (spec.raw || !isJson(res.headers['content-type']) || text === '') return finish(undefined, text as T);
          try {
            finish(undefined, JSON.parse(text) as T);
          } catch (err) {
            finish(new EngineError('http', `unreadable answer from ${spec.path}: ${(err as Error).message}`, status));
          }
        });
      });
    });
  }
}

const queryString = (q: CallSpec['query']) => (q ? `?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString()}` : '');

const isJson = (type: string | undefined) => type !== undefined && type.includes('json');

function readBody(res: IncomingMessage, then: (text: string) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => then(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
}

/** An error status: dockerd's `{"message": ...}` when there is one, as dockerode reported it. */
function httpError(status: number, type: string | undefined, text: string): EngineError {
  let message = text.trim();
  if (isJson(type)) {
    try {
      const json = JSON.parse(text) as { message?: unknown } | null;
      if (json && typeof json.message === 'string') message = json.message.trim();
    } catch {
      // the text as it came
    }
  }
  return new EngineError('http', message || `HTTP ${status}`, status);
}

function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const e = err as Error & { code?: string; name?: string };
  if (e.code !== undefined && TLS_ERROR.test(e.code)) {
    return new EngineError(
      'connection',
      `TLS handshake failed (${e.code}): ${e.message}. Check the Node's spec.tls: ca must be the CA that signed the engine's certificate, that certificate must name the endpoint's host, and cert/key must be signed by a CA the engine trusts`,
      undefined,
      e.code,
    );
  }
  return new EngineError('connection', e.message || String(err), undefined, e.code);
}

/** Node's codes for a failed certificate check, on either side. */
const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** `repo[:tag][@digest]` → fromImage/tag as the API wants them (a port in the registry is not a tag). */
export function splitImageRef(ref: string): { repo: string; tag: string } {
  if (ref.includes('@')) return { repo: ref, tag: '' };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}
