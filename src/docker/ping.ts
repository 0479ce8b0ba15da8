// The heartbeat's own line to an engine: one kept-alive connection that
// carries nothing but `HEAD /_ping`, one at a time. Written on a bare socket,
// not through node:http: at 1,000 engines and one ping per engine per second
// the http client's per-request work (request object, header formatting,
// parser, agent bookkeeping) was most of the heartbeat's CPU, while a fixed
// request and a status line to read cost a write and a read. HEAD has no body:
// the answer ends with its headers, on dockerd and on the hollow engines.
//
// Its own connection, so that calls a hung engine holds open (the pool's
// connections) never hold a ping up; a ping that times out destroys the
// connection, and the next one opens a fresh one.
//
// The same line carries the engine's events as long polls (`poll`): a
// `GET /events?since=…&until=…` whose end at `until` is the heartbeat's
// answer, and whose chunks in between are the events, one JSON per line. So
// an idle engine holds one connection, not a ping line and an event stream.

import { writeSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

/** Where the ping line connects: a unix socket, or host/port with TLS material when it has some. */
export type PingTarget = { socketPath: string } | { host: string; port: number; tls?: tls.ConnectionOptions };

/** Kernel TCP keep-alive idle time on engine connections. Node 20 (libuv 1.46) sets only TCP_KEEPIDLE; probe interval and count stay the kernel's (75 s × 9), so keep-alive alone notices a dead peer after minutes: the heartbeat is the bound. */
export const TCP_KEEPALIVE_MS = 1_000;

const REQUEST = Buffer.from('HEAD /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: fog-heartbeat\r\n\r\n', 'latin1');
/** The request `GET path` as the line writes it (latin1). */
export const pollRequest = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: fog-heartbeat\r\n\r\n`, 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const CHUNKED = Buffer.from(': chunked\r\n', 'latin1');
/**
 * `Connection: close` among the headers (which end at `end`), as dockerd and
 * Node write it (`C` or `c`): one scan for the rest of the name, backwards
 * from the end of the headers, so that it never reads past them (the shared
 * read buffer holds stale bytes after them).
 */
const CLOSE = Buffer.from('onnection: close\r\n', 'latin1');
const hasClose = (buf: Buffer, end: number) => {
  const at = buf.lastIndexOf(CLOSE, end);
  return at >= 2 && buf[at - 2] === 0x0a && (buf[at - 1] === 0x43 || buf[at - 1] === 0x63);
};
/**
 * A chunk's size line (hex digits, then perhaps `;extensions`) read from the
 * bytes in place, -1 when it is not one: every poll's end is one, and a
 * string per end was garbage at 250 ends a second.
 */
function hexSize(buf: Buffer, at: number, eol: number): number {
  let size = 0;
  let i = at;
  for (; i < eol && i - at < 12; i++) {
    const c = buf[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) break;
    size = size * 16 + d;
  }
  return i === at || (i < eol && buf[i] !== 0x3b && buf[i] !== 0x20) ? -1 : size;
}
/** A status line and headers longer than this are not an engine's ping answer. */
const MAX_HEADER = 16 * 1024;

export class PingError extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection' | 'http',
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'PingError';
  }
}

/** Told once how a ping ended: nothing when answered `200`, the error otherwise. */
export type PingDone = (err?: PingError) => void;

/**
 * Deadlines of all lines' pings, watched by one shared one-shot timer set for
 * the earliest deadline: at 1,000 engines a timer per ping (set, then cleared
 * on the answer) showed in the heartbeat's profile, and a 50 ms polling timer
 * woke the process 10-20 times a second for answers that had all come; wake-ups
 * are what costs on a small VM. The heartbeat sends a slice of pings per
 * tick, all with the same timeout, so the timer fires about twice a second,
 * when the oldest ping of a tick is due: by then its answer came (the timer
 * then finds nothing to fail and moves on to the next deadline).
 *
 * `waiting` holds the lines that had a ping out since the last check, each
 * at most once (its `watched` flag); the check drops those whose ping ended.
 * An array, not a Set: a Set gaining and losing 500 members a second rebuilt
 * its table again and again, a fifth of what the heartbeat allocated (heap
 * profile at 1,000 idle engines), and garbage is what makes the collector run.
 */
const waiting: (PingLine | undefined)[] = [];
/** Lines in `waiting` (the array is never shortened: shrinking it and growing it again reallocated it). */
let waitingCount = 0;
let deadlineTimer: NodeJS.Timeout | undefined;
/** performance.now() the timer is set for. */
let armedFor = Number.POSITIVE_INFINITY;
/** A timer this late means this process was stalled (a big reconcile, a GC), not the engines. */
const STALL_MS = 50;

function watchDeadline(line: PingLine, deadline: number): void {
  if (!line.watched) {
    line.watched = true;
    waiting[waitingCount++] = line;
  }
  if (deadline < armedFor) arm(deadline);
}

function arm(at: number): void {
  clearTimeout(deadlineTimer);
  armedFor = at;
  deadlineTimer = setTimeout(checkDeadlines, Math.max(1, Math.ceil(at - performance.now())));
  deadlineTimer.unref();
}

/**
 * A ping is missed only when the engine was late, not this process: when the
 * timer fires late (an event-loop stall) the lost time is added to every
 * deadline, and an expiry is confirmed after the loop has read the sockets
 * once more (setImmediate runs after the poll phase; timers run before it,
 * so an answer that arrived during the stall is still unread here).
 */
function checkDeadlines(): void {
  const now = performance.now();
  const late = now - armedFor;
  deadlineTimer = undefined;
  armedFor = Number.POSITIVE_INFINITY;
  const stall = late > STALL_MS ? late : 0;
  let expired: PingLine[] | undefined;
  let next = Number.POSITIVE_INFINITY;
  let kept = 0;
  for (let i = 0; i < waitingCount; i++) {
    const l = waiting[i]!;
    const deadline = l.due(stall, now);
    if (deadline === Number.POSITIVE_INFINITY) {
      l.watched = false;
      continue;
    }
    waiting[kept++] = l;
    if (deadline <= now) (expired ??= []).push(l);
    else if (deadline < next) next = deadline;
  }
  for (let i = kept; i < waitingCount; i++) waiting[i] = undefined;
  waitingCount = kept;
  if (expired) {
    const lines = expired;
    setImmediate(() => lines.forEach((l) => l.expire()));
  }
  if (next < Number.POSITIVE_INFINITY) arm(next);
}

/**
 * Answers are read into one buffer shared by every line (node:net's
 * `onread`): the socket hands each read straight to `read`, without the
 * stream machinery or a new Buffer per answer. `read` runs synchronously, so
 * one buffer serves all lines; the rare answer split over two reads is
 * copied out.
 */
const READ_BUFFER = Buffer.alloc(MAX_HEADER);

/**
 * A request on the line. A poll may be sent before anyone waits on it
 * (pipelined behind the one in flight: it then starts the moment that one
 * ends, and its headers come in the same read as that end); `attach` gives it
 * its deadline and whom to tell. `dead` once the line dropped it unanswered.
 * Once its end has been told, it is the line's again (`spareTickets`).
 */
export interface PingTicket {
  kind: 'ping' | 'poll';
  done?: PingDone;
  /** performance.now() after which it has missed (and the line with it): set when sent. */
  deadline: number;
  timeoutMs: number;
  /** The sender's own mark (a poll's `until`), handed back to `onEnd`. */
  tag: number;
  /** It ended before anyone attached: how. */
  ended?: { err?: PingError };
  dead: boolean;
}

/**
 * Tickets whose end has been told, for the next requests: a poll sent four
 * turns ahead lives 16 s at 1,000 nodes, long enough to be promoted out of
 * V8's young generation, and the tickets were a quarter of what the idle
 * controller promoted (heap sampling, 1,000 hollow nodes); promoted garbage is
 * what makes the full, slow collections come. So a ticket is the line's
 * again once its `done` has been called: whoever holds it must not read it
 * after that.
 */
const spareTickets: PingTicket[] = [];
const MAX_SPARE_TICKETS = 4_096;
const spare = (t: PingTicket) => {
  if (spareTickets.length < MAX_SPARE_TICKETS) spareTickets.push(t);
};
/** `ended` of a ticket answered well (one object for all). */
const ENDED: { err?: PingError } = Object.freeze({});

export class PingLine {
  private socket?: net.Socket;
  private buf?: Buffer;
  /** Requests sent and not yet answered, oldest first: the head's answer is the one being read. */
  private readonly queue: PingTicket[] = [];
  private closed = false;
  /** In the deadline check's list (module state, see `waiting`). */
  watched = false;
  /** TLS: the descriptor carries ciphertext, so only the stream may write. */
  private readonly tls: boolean;
  /** The connected plain socket's descriptor, -1 until connected (and always on TLS): read once per connection, not per ping. */
  private fd = -1;
  /** Where the head's answer is: its status line and headers, or a poll's chunks. */
  private phase: 'head' | 'chunk-size' | 'chunk-data' = 'head';
  /** Bytes of the current chunk (with its CRLF) still to come. */
  private chunkLeft = 0;
  /** The start of an event line split over chunks or reads. */
  private partial?: Buffer;
  /** The server asked to close once this answer ends. */
  private closeAfter = false;

  constructor(
    private readonly target: PingTarget,
    /** Called on every answer (any status) and at a poll's end: proof the engine is alive. */
    private readonly onAnswer: () => void = () => undefined,
    /** Each line a poll brings (one event, JSON). */
    private readonly onLine: (line: string) => void = () => undefined,
    /** Each poll the engine ended (answered or not waited on yet). */
    private readonly onEnd: (t: PingTicket) => void = () => undefined,
  ) {
    this.tls = 'tls' in target && target.tls !== undefined;
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Sends one ping; `done()` on `200`, `done(err)` on anything else or after `timeoutMs`. Only on an idle line. A callback, not a promise: at 1,000 engines a ping a second each, the promises were a measurable part of the heartbeat. */
  ping(timeoutMs: number, done: PingDone): void {
    if (this.queue.length > 0) return done(new PingError('connection', 'a ping is already in flight'));
    if (this.closed) return done(new PingError('connection', 'ping line closed'));
    this.attach(this.sendPing(timeoutMs), done);
  }

  /** One ping on an idle, open line (a fresh one) whose end waits for whoever attaches (`attach`), later. */
  sendPing(timeoutMs: number): PingTicket {
    const t = this.enqueue('ping', timeoutMs, timeoutMs, 0);
    this.write(REQUEST);
    return t;
  }

  /**
   * Sends one long poll `GET path` (an `/events` query with an `until`),
   * behind what is in flight: each line of its body goes to `onLine` as it
   * comes, and `onEnd` when the engine ends it (its `until`). It must end
   * within `deadlineMs` from now (`timeoutMs`: the grace after `until` the
   * error names), waited on or not: a poll that does not end is silence, and
   * the line is lost with it. Undefined when the line is closed.
   */
  poll(path: string, deadlineMs: number, timeoutMs: number, tag: number): PingTicket | undefined {
    if (this.closed) return undefined;
    const t = this.enqueue('poll', deadlineMs, timeoutMs, tag);
    this.write(pollRequest(path));
    return t;
  }

  /**
   * `count` polls as `poll`, whose requests the caller put in `requests`, in
   * one write (pipelined in this order): poll j's tag is `firstTag` + j ×
   * `periodMs` and its deadline as far after the first's (the turns are
   * evenly spaced). Their tickets are appended to `into`. `requests` is not
   * kept: the caller may write the next batch into it. False when the line
   * is closed.
   */
  polls(requests: Buffer, count: number, firstDeadlineMs: number, firstTag: number, periodMs: number, timeoutMs: number, into: PingTicket[]): boolean {
    if (this.closed) return false;
    for (let j = 0; j < count; j++) into.push(this.enqueue('poll', firstDeadlineMs + j * periodMs, timeoutMs, firstTag + j * periodMs));
    this.write(requests);
    return true;
  }

  /** Whom to tell how `t` ends: `done()` when the engine ends it, `done(err)` on another status, a lost connection or a missed deadline. At once when it ended already. */
  attach(t: PingTicket, done: PingDone): void {
    const ended = t.ended;
    if (ended) {
      spare(t);
      return done(ended.err);
    }
    if (t.dead) return done(new PingError('connection', 'connection closed by the engine'));
    t.done = done;
  }

  /** A request's ticket, queued behind those in flight, its deadline watched; the request is written next. */
  private enqueue(kind: 'ping' | 'poll', deadlineMs: number, timeoutMs: number, tag: number): PingTicket {
    const deadline = performance.now() + deadlineMs;
    let t = spareTickets.pop();
    if (t) {
      t.kind = kind;
      t.done = undefined;
      t.deadline = deadline;
      t.timeoutMs = timeoutMs;
      t.tag = tag;
      t.ended = undefined;
      t.dead = false;
    }
    // Every field set here, so that all tickets share one shape (250 a second at 1,000 engines).
    else t = { kind, done: undefined, deadline, timeoutMs, tag, ended: undefined, dead: false };
    this.queue.push(t);
    watchDeadline(this, t.deadline);
    return t;
  }

  private write(request: Buffer): void {
    const socket = this.socket ?? this.open();
    // Before the connection is up, write() queues: the deadlines cover the handshake too.
    const direct = this.writeDirect(socket, request);
    // The stream keeps what it is given until it is written: a copy, for a caller may reuse its buffer.
    if (direct < request.length) socket.write(Buffer.from(request.subarray(direct)));
  }

  /** Drops the connection and whatever is in flight on it (told as lost): the next request opens a fresh one. */
  reset(): void {
    if (this.socket) this.lost(this.socket, new PingError('connection', 'line reset'));
  }

  /**
   * The request written straight to the connected socket's descriptor (one
   * write(2), nothing allocated), as node:net itself first tries; the bytes
   * written, 0 when that cannot be done (still connecting, TLS, bytes queued
   * in the stream, or the kernel would block), and the stream writes them.
   * At 500 pings a second the stream's per-write objects were most of what
   * the heartbeat still allocated.
   */
  private writeDirect(socket: net.Socket, request: Buffer): number {
    if (this.fd < 0 || socket.writableLength > 0) return 0;
    try {
      return writeSync(this.fd, request);
    } catch {
      return 0;
    }
  }

  /**
   * Shared deadline timer: the deadlines that fell due during a stall of
   * `stall` ms of this process's own (or are due within as long after it)
   * move by that much; the earliest, or +Infinity when nothing is out (the
   * line leaves the watch). Later ones stay: by then the loop has read what
   * came during the stall, and polls sent turns ahead would otherwise take
   * every stall of the turns between (at 1,000 nodes a pass of ~100 ms is a
   * stall), which put off a silent node's miss by a second in the bench.
   */
  due(stall: number, now: number): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.queue.length; i++) {
      const t = this.queue[i]!;
      if (stall > 0 && t.deadline <= now + stall) t.deadline += stall;
      if (t.deadline < earliest) earliest = t.deadline;
    }
    return earliest;
  }

  /** A deadline passed and the sockets were read since: a miss, unless the answer came meanwhile. */
  expire(): void {
    const now = performance.now();
    const late = this.queue.find((t) => now >= t.deadline);
    if (late && this.socket) this.lost(this.socket, new PingError('timeout', `no answer to ping within ${late.timeoutMs} ms`));
  }

  close(): void {
    this.closed = true;
    if (this.socket) this.lost(this.socket, new PingError('connection', 'ping line closed'));
  }

  private open(): net.Socket {
    const t = this.target;
    let socket: net.Socket;
    const onread = { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => (this.read(socket, buf as Buffer, n), true) };
    if ('socketPath' in t) socket = net.connect({ path: t.socketPath, onread });
    else if (t.tls) {
      // TLS reads go through the stream (node:tls does not document onread).
      socket = tls.connect({ ...t.tls, host: t.host, port: t.port, ...(net.isIP(t.host) ? {} : { servername: t.host }) });
      socket.on('data', (chunk: Buffer) => this.read(socket, chunk, chunk.length));
    } else socket = net.connect({ host: t.host, port: t.port, onread });
    if (!('socketPath' in t)) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    }
    this.socket = socket;
    this.buf = undefined;
    this.partial = undefined;
    this.phase = 'head';
    this.closeAfter = false;
    if (!this.tls) {
      socket.once('connect', () => {
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
        if (this.socket === socket && typeof fd === 'number') this.fd = fd;
      });
    }
    socket.on('error', (err: NodeJS.ErrnoException) => this.lost(socket, new PingError('connection', err.message, err.code)));
    socket.on('close', () => this.lost(socket, new PingError('connection', 'connection closed by the engine')));
    return socket;
  }

  /**
   * `n` bytes at the start of `chunk` (the shared buffer: only valid during
   * this call, and stale past `n`). A whole answer in one read, the steady
   * case, is looked at in place: no view, no copy (a Buffer view per answer
   * was a quarter of the heartbeat's garbage). In the shared buffer a match
   * past `n` is stale, and the first match is never one: the bytes read come
   * first. What a read leaves unfinished (a split answer, a chunk's size
   * line) is copied out and read again with the next bytes; one read can
   * hold a poll's end and the headers of the poll pipelined behind it.
   */
  private read(socket: net.Socket, chunk: Buffer, n: number): void {
    if (socket !== this.socket) return;
    let buf = chunk;
    let len = n;
    if (this.buf) {
      buf = Buffer.concat([this.buf, chunk.subarray(0, n)]);
      len = buf.length;
    }
    this.buf = undefined;
    let at = 0;
    while (at < len && this.socket === socket) {
      const next = this.phase === 'head' ? this.readHead(socket, buf, at, len) : this.readChunk(socket, buf, at, len);
      if (next === at) break;
      at = next;
    }
    if (at < len && this.socket === socket) {
      if (len - at >= MAX_HEADER) return this.lost(socket, new PingError('http', 'unreadable answer to ping'));
      // Kept past this call: a copy, not a view of the shared buffer.
      this.buf = Buffer.from(buf.subarray(at, len));
    }
  }

  /** The status line and headers at `at`: where they end, or `at` when they are not all in. */
  private readHead(socket: net.Socket, buf: Buffer, at: number, len: number): number {
    const end = buf.indexOf(HEADER_END, at);
    if (end < 0 || end + HEADER_END.length > len) return at;
    this.onAnswer();
    const head = this.queue[0];
    // An answer nobody asked for: start afresh.
    if (!head) {
      this.drop(socket);
      return len;
    }
    const after = end + HEADER_END.length;
    // `HTTP/1.1 200 OK`: bytes 9-11 are the status.
    const ok = buf[at + 9] === 0x32 && buf[at + 10] === 0x30 && buf[at + 11] === 0x30 && buf[at + 12] === 0x20;
    if (head.kind === 'poll') {
      if (!ok) {
        // Its body is not read: the connection goes, and whatever was pipelined behind it.
        const err = new PingError('http', `events poll answered ${buf.toString('latin1', at + 9, at + 12)}`);
        this.settle(err);
        this.lost(socket, err);
        return len;
      }
      if (buf.lastIndexOf(CHUNKED, end) < at) {
        this.lost(socket, new PingError('http', 'events answer is not chunked'));
        return len;
      }
      if (hasClose(buf, end)) this.closeAfter = true;
      this.phase = 'chunk-size';
      return after;
    }
    const close = hasClose(buf, end);
    this.settle(ok ? undefined : new PingError('http', `ping answered ${buf.toString('latin1', at + 9, at + 12)}`));
    // A server closing, or bytes after a HEAD answer with nothing pipelined: start afresh next time.
    if (close || (len > after && this.queue.length === 0)) {
      this.drop(socket);
      return len;
    }
    return after;
  }

  /** A poll's body at `at`: a chunk's size line, or (part of) its data; where it got to. */
  private readChunk(socket: net.Socket, buf: Buffer, at: number, len: number): number {
    if (this.phase === 'chunk-size') {
      const eol = buf.indexOf(CRLF, at);
      if (eol < 0 || eol + CRLF.length > len) return at;
      const size = hexSize(buf, at, eol);
      if (size < 0) {
        this.lost(socket, new PingError('http', 'unreadable events answer'));
        return len;
      }
      if (size > 0) {
        this.phase = 'chunk-data';
        this.chunkLeft = size + CRLF.length;
        return eol + CRLF.length;
      }
      // The last chunk, then the CRLF that ends the answer (no trailers).
      if (eol + 2 * CRLF.length > len) return at;
      this.onAnswer();
      this.phase = 'head';
      this.partial = undefined;
      const close = this.closeAfter;
      this.settle(undefined);
      if (close) {
        this.drop(socket);
        return len;
      }
      return eol + 2 * CRLF.length;
    }
    const end = Math.min(len, at + this.chunkLeft);
    this.chunkLeft -= end - at;
    // Lines end with `\n` inside the data; the chunk's own CRLF only ever trails a line.
    let from = at;
    for (let nl = buf.indexOf(0x0a, from); nl >= 0 && nl < end; nl = buf.indexOf(0x0a, from)) {
      const piece = buf.subarray(from, nl);
      const line = this.partial ? Buffer.concat([this.partial, piece]) : piece;
      this.partial = undefined;
      const text = line.toString('utf8').trim();
      if (text !== '') this.onLine(text);
      from = nl + 1;
      if (this.socket !== socket) return len;
    }
    if (from < end) {
      const rest = buf.subarray(from, this.chunkLeft === 0 ? end - CRLF.length : end);
      if (rest.length > 0) this.partial = this.partial ? Buffer.concat([this.partial, rest]) : Buffer.from(rest);
    }
    if (this.chunkLeft === 0) this.phase = 'chunk-size';
    return end;
  }

  /** The head request ended (`err` or not): told now, or kept for whoever attaches. */
  private settle(err: PingError | undefined): void {
    const t = this.queue.shift();
    if (!t) return;
    if (t.kind === 'poll' && !err) this.onEnd(t);
    const done = t.done;
    t.done = undefined;
    if (done) {
      spare(t);
      done(err);
    } else t.ended = err ? { err } : ENDED;
  }

  /** The connection is gone: everything in flight on it is told `err` (or dies unanswered). */
  private lost(socket: net.Socket, err: PingError): void {
    if (socket === this.socket) this.drop(socket, err);
  }

  private drop(socket: net.Socket, err = new PingError('connection', 'connection closed by the engine')): void {
    if (this.socket === socket) {
      this.socket = undefined;
      this.buf = undefined;
      this.partial = undefined;
      this.fd = -1;
      this.phase = 'head';
      this.closeAfter = false;
      // Whatever was still in flight on it will not be answered there.
      for (const t of this.queue.splice(0)) {
        t.dead = true;
        const done = t.done;
        t.done = undefined;
        done?.(err);
      }
    }
    socket.destroy();
  }
}
