// The heartbeat's own line to an engine: one kept-alive connection that
// carries nothing but `HEAD /_ping`, one at a time. Written on a bare socket,
// not through node:http: at 1,000 engines and one ping per engine per second
// the http client's per-request work (request object, header formatting,
// parser, agent bookkeeping) was most of the heartbeat's CPU, while a fixed
// request and a status line to read cost a write and a read. HEAD has no body:
// the answer ends with its headers, on dockerd and on the hollow engines.
//
// Its own connection, so that calls a hung engine holds open (the pool's
// connections, the event stream) never hold a ping up; a ping that times out
// destroys the connection, and the next one opens a fresh one.

import { writeSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

/** Where the ping line connects: a unix socket, or host/port with TLS material when it has some. */
export type PingTarget = { socketPath: string } | { host: string; port: number; tls?: tls.ConnectionOptions };

/** Kernel TCP keep-alive idle time on engine connections. Node 20 (libuv 1.46) sets only TCP_KEEPIDLE; probe interval and count stay the kernel's (75 s × 9), so keep-alive alone notices a dead peer after minutes: the heartbeat is the bound. */
export const TCP_KEEPALIVE_MS = 1_000;

const REQUEST = Buffer.from('HEAD /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: fog-heartbeat\r\n\r\n', 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
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
    const deadline = l.due(stall);
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

export class PingLine {
  private socket?: net.Socket;
  private buf?: Buffer;
  /** The ping in flight: told how it ended. */
  private done?: PingDone;
  /** performance.now() after which the ping in flight has missed. */
  private deadline = 0;
  private timeoutMs = 0;
  private closed = false;
  /** In the deadline check's list (module state, see `waiting`). */
  watched = false;
  /** TLS: the descriptor carries ciphertext, so only the stream may write. */
  private readonly tls: boolean;
  /** The connected plain socket's descriptor, -1 until connected (and always on TLS): read once per connection, not per ping. */
  private fd = -1;

  constructor(
    private readonly target: PingTarget,
    /** Called on every answer (any status): proof the engine is alive. */
    private readonly onAnswer: () => void = () => undefined,
  ) {
    this.tls = 'tls' in target && target.tls !== undefined;
  }

  /** Sends one ping; `done()` on `200`, `done(err)` on anything else or after `timeoutMs`. One at a time. A callback, not a promise: at 1,000 engines a ping a second each, the promises were a measurable part of the heartbeat. */
  ping(timeoutMs: number, done: PingDone): void {
    if (this.done) return done(new PingError('connection', 'a ping is already in flight'));
    if (this.closed) return done(new PingError('connection', 'ping line closed'));
    this.done = done;
    this.deadline = performance.now() + timeoutMs;
    this.timeoutMs = timeoutMs;
    watchDeadline(this, this.deadline);
    const socket = this.socket ?? this.open();
    // Before the connection is up, write() queues: the deadline covers the handshake too.
    const direct = this.writeDirect(socket);
    if (direct < REQUEST.length) socket.write(direct === 0 ? REQUEST : REQUEST.subarray(direct));
  }

  /**
   * The request written straight to the connected socket's descriptor (one
   * write(2), nothing allocated), as node:net itself first tries; the bytes
   * written, 0 when that cannot be done (still connecting, TLS, bytes queued
   * in the stream, or the kernel would block), and the stream writes them.
   * At 500 pings a second the stream's per-write objects were most of what
   * the heartbeat still allocated.
   */
  private writeDirect(socket: net.Socket): number {
    if (this.fd < 0 || socket.writableLength > 0) return 0;
    try {
      return writeSync(this.fd, REQUEST);
    } catch {
      return 0;
    }
  }

  /** Shared deadline timer: moves the deadline by `stall` ms of this process's own delay; the deadline, or +Infinity when no ping is out (the line leaves the watch). */
  due(stall: number): number {
    if (!this.done) return Number.POSITIVE_INFINITY;
    this.deadline += stall;
    return this.deadline;
  }

  /** The deadline passed and the sockets were read since: a miss, unless the answer came meanwhile. */
  expire(): void {
    if (this.done && performance.now() >= this.deadline) this.fail(new PingError('timeout', `no answer to ping within ${this.timeoutMs} ms`));
  }

  close(): void {
    this.closed = true;
    this.fail(new PingError('connection', 'ping line closed'));
    if (this.socket) this.drop(this.socket);
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
   * first.
   */
  private read(socket: net.Socket, chunk: Buffer, n: number): void {
    if (socket !== this.socket) return;
    let buf = chunk;
    let len = n;
    if (this.buf) {
      buf = Buffer.concat([this.buf, chunk.subarray(0, n)]);
      len = buf.length;
    }
    const end = buf.indexOf(HEADER_END);
    if (end < 0 || end + HEADER_END.length > len) {
      if (len >= MAX_HEADER) this.lost(socket, new PingError('http', 'unreadable answer to ping'));
      // Kept past this call: a copy, not a view of the shared buffer.
      else this.buf = Buffer.from(buf.subarray(0, len));
      return;
    }
    this.buf = undefined;
    this.onAnswer();
    const done = this.done;
    // Bytes after a HEAD answer, an answer nobody asked for, or a server closing: start afresh next time.
    if (len > end + HEADER_END.length || !done || hasClose(buf, end)) this.drop(socket);
    if (!done) return;
    this.done = undefined;
    // `HTTP/1.1 200 OK`: bytes 9-11 are the status.
    if (buf[9] === 0x32 && buf[10] === 0x30 && buf[11] === 0x30 && buf[12] === 0x20) done();
    else done(new PingError('http', `ping answered ${buf.toString('latin1', 9, 12)}`));
  }

  private lost(socket: net.Socket, err: PingError): void {
    if (socket !== this.socket) return;
    this.drop(socket);
    this.fail(err);
  }

  private fail(err: PingError): void {
    const done = this.done;
    if (!done) return;
    this.done = undefined;
    // After a timeout the line may still deliver the late answer: start afresh.
    if (err.kind === 'timeout' && this.socket) this.drop(this.socket);
    done(err);
  }

  private drop(socket: net.Socket): void {
    if (this.socket === socket) {
      this.socket = undefined;
      this.buf = undefined;
      this.fd = -1;
    }
    socket.destroy();
  }
}
