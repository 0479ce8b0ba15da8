// Follows one engine's container events so the controller can re-observe a
// node as soon as something changes there. Events are only a hint: the
// controller's periodic full observe makes a missed one cost nothing.
//
// The stream reconnects with doubling back-off. A stream can also go silent
// without ending (a hung daemon keeps its socket open), so a quiet stream is
// checked with a ping, unless the engine answered some other call meanwhile
// (an idle fleet would otherwise ping every node every stallMs); a ping that
// fails means the engine is lost.

import { performance } from 'node:perf_hooks';
import type { Engine, EngineEvent, EventStream } from '../docker/engine.js';

/** Container actions worth a re-observe (health_status arrives as `health_status: healthy`). */
/** Image actions that change what a node has (a pull, a load, a delete, a tag or untag). */
const IMAGE_ACTIONS = new Set(['pull', 'load', 'import', 'delete', 'tag', 'untag']);
const ACTIONS = ['create', 'start', 'restart', 'die', 'kill', 'oom', 'stop', 'destroy', 'pause', 'unpause', 'rename', 'health_status'];

/** Hands an engine event to `change` or `images` when it is one worth a look. */
export function routeEvent(e: EngineEvent, on: Pick<EventWatchHandlers, 'change' | 'images'>): void {
  if (e.Type === 'container' && ACTIONS.some((a) => e.Action === a || e.Action?.startsWith(`${a}:`))) on.change(e);
  else if (e.Type === 'image' && e.Action !== undefined && IMAGE_ACTIONS.has(e.Action)) on.images?.(e);
}

export interface EventWatchOptions {
  /** First reconnect delay, ms; doubles up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A stream silent this long, with no other answer from the engine either, is checked with a ping. */
  stallMs: number;
}

// Longer than the resync at any usual fleet size: the resync already asks every
// engine, so the stall ping only matters for a stream nobody else checks.
export const DEFAULT_EVENT_WATCH: EventWatchOptions = { backoffBaseMs: 500, backoffMaxMs: 30_000, stallMs: 60_000 };

export interface EventWatchHandlers {
  /** A container changed. */
  change(event: EngineEvent): void;
  /** The node's images changed. */
  images?(event: EngineEvent): void;
  /** The stream (re)connected: events may have been missed before. */
  connected(): void;
  /** The stream dropped; `lost` when the engine also failed a ping. */
  dropped(err: Error, lost: boolean): void;
}

export class EventWatch {
  private stream?: EventStream;
  private retryTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private attempt = 0;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly on: EventWatchHandlers,
    private readonly opts: EventWatchOptions = DEFAULT_EVENT_WATCH,
  ) {}

  start(): void {
    if (this.closed || this.stream) return;
    const stream = this.engine.watchEvents(
      (e) => routeEvent(e, this.on),
      () => (this.attempt = 0),
      (err) => this.lostOrDropped(stream, err ?? new Error('event stream ended')),
    );
    this.stream = stream;
    // The headers of /events come before any event: probe right away so a
    // reconnect is reported as soon as the engine answers.
    this.engine.ping().then(
      () => {
        if (this.stream === stream) {
          this.attempt = 0;
          this.on.connected();
        }
      },
      () => undefined,
    );
    this.stallTimer = setInterval(() => this.checkStall(stream), this.opts.stallMs);
    this.stallTimer.unref();
  }

  close(): void {
    this.closed = true;
    this.teardown();
    clearTimeout(this.retryTimer);
  }

  private checkStall(stream: EventStream): void {
    if (performance.now() - this.engine.lastAnswerAt < this.opts.stallMs) return;
    this.engine.ping().then(
      () => undefined,
      (err: unknown) => {
        if (this.stream === stream) this.drop(err as Error, true);
      },
    );
  }

  /** The stream ended: the engine is lost only if it does not answer a ping either. */
  private lostOrDropped(stream: EventStream, err: Error): void {
    if (this.stream !== stream) return;
    this.teardown();
    this.engine.ping().then(
      () => this.drop(err, false),
      (pingErr: unknown) => this.drop(pingErr as Error, true),
    );
  }

  private drop(err: Error, lost: boolean): void {
    if (this.closed) return;
    this.teardown();
    this.on.dropped(err, lost);
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** this.attempt);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.start(), delay);
    this.retryTimer.unref();
  }

  private teardown(): void {
    clearInterval(this.stallTimer);
    this.stream?.close();
    this.stream = undefined;
  }
}
