// Liveness by design: every engine is pinged once per interval, the pings of
// the fleet spread evenly over the interval (one fleet-wide timer, a slice of
// the nodes per tick of at least 100 ms), each with a short deadline of its own. A node that
// misses `misses` pings in a row is lost at once; one answer brings it back.
// So a silent node (pulled cable, powered off, hung engine) is noticed within
// interval + misses × timeout, whatever the resync interval, and nothing
// else the engine holds open can delay it.
//
// The fleet's turns are capped at `maxRate` a second (Nomad's
// max_heartbeats_per_second): a fleet larger than maxRate × interval gets a
// longer interval, in steps of 500 ms, so the controller's cost stays flat
// while the bound grows with the fleet (250 a second: 2 s up to 500 nodes,
// 4 s at 1,000). The interval in use is `intervalMs`.
//
// A miss is pinged again at once rather than at the node's next turn: the
// bound is one wait for the turn plus `misses` deadlines. Once lost, a node is
// pinged at its turn only (a refusing engine must not be pinged in a loop).
//
// A turn's ping may be held open by the engine until just before the node's
// next turn (`holdMs`): the engine then answers with a long poll of its
// events (src/docker/engine.ts), so the heartbeat and the events share one
// connection. Its deadline is the hold plus the timeout. A turn that comes
// while the last one's answer is a little late is owed, and sent as soon as
// that answer comes; the member may start its second check then (`hedge`),
// so that a silent node's second miss comes a deadline after its turn found
// the held answer late, not a deadline after that answer's own miss.
//
// The decisions (`answered`, `missed`) are plain functions over a node's
// record; the class around them only keeps time and sends pings.

export interface HeartbeatOptions {
  /** Each node is pinged once per interval, ms. */
  intervalMs: number;
  /** Deadline of one ping, ms. */
  timeoutMs: number;
  /** Pings missed in a row that make a node lost. */
  misses: number;
  /** The controller's monotonic clock, ms. */
  now: () => number;
  /** A turn's ping may be held open until this long before the node's next turn (0: never held). Default 150. */
  holdMarginMs?: number;
  /** At most this many turns a second across the fleet; more nodes than maxRate × interval lengthen the interval (`heartbeatInterval`). 0 or undefined: no cap. */
  maxRate?: number;
  /** The shortest pause between two ticks, ms; more nodes than interval/minTick share a tick. Default 100: a timer wake-up costs ~0.2 ms of CPU on a small VM (an empty 10 ms interval timer alone was 1.8 % of a core), a ping far less, so at 1,000 nodes a tick sends 100. */
  minTickMs?: number;
}

export const DEFAULT_HEARTBEAT = { intervalMs: 2_000, timeoutMs: 500, misses: 2, maxRate: 250 } as const;
/** A capped interval grows in steps of this, so that a node more or less does not move every node's turn. */
const RATE_STEP_MS = 500;

/** The interval for `nodes` nodes: `intervalMs`, or longer when that would be more than `maxRate` turns a second (rounded up to 500 ms). */
export function heartbeatInterval(intervalMs: number, nodes: number, maxRate = 0): number {
  if (!(maxRate > 0) || nodes <= (maxRate * intervalMs) / 1000) return intervalMs;
  return Math.ceil((nodes * 1000) / maxRate / RATE_STEP_MS) * RATE_STEP_MS;
}
const DEFAULT_HOLD_MARGIN_MS = 150;
/** An owed turn this near the next one is left to it. */
const MIN_OWED_HOLD_MS = 200;

/** One node as the heartbeat sees it. */
export interface HeartbeatMember {
  name: string;
  /**
   * One ping with this deadline; `done(err)` when it gets no good answer,
   * `done()` when it does. `holdMs` > 0: the engine may hold the answer that
   * long (a long poll), and the deadline is `holdMs + timeoutMs`; the next
   * turn is `periodMs` later (the member may send its request ahead).
   */
  ping(timeoutMs: number, done: (err?: Error) => void, holdMs: number, periodMs: number): void;
  /** The node just missed its `misses`th ping in a row. */
  /** `silentSince`: when the node last answered (or the first unanswered ping was sent): where its grace period starts. */
  lost(error: string, silentSince: number): void;
  /** A ping was answered; `back` when the node was lost until now. */
  answered(back: boolean): void;
  /**
   * When the engine last showed it was alive in any way (the heartbeat's
   * clock), if known: a held ping's headers, an event, an answer to another
   * call. A miss counts the silence from there, not from the last answer
   * the heartbeat itself took in: a long poll proves the engine alive when
   * it starts, and ends only a turn later.
   */
  heardAt?(): number | undefined;
  /**
   * The node's turn came while its held ping is still out (a late poll): a
   * second check may start now, so that if the held one misses, the re-ping
   * after it is already under way (the member answers that re-ping with it).
   */
  hedge?(timeoutMs: number): void;
}

/** What the heartbeat knows of one node. */
export interface Liveness {
  /** Pings missed in a row. */
  misses: number;
  lost: boolean;
  /** Controller time of the last answer; undefined: none yet. */
  lastAnswer?: number;
  /** Controller time the first ping of the current streak of misses was sent. */
  missingSince?: number;
}

export const ALIVE: Liveness = { misses: 0, lost: false };

/** An answer: misses forgotten; `back` when the node had been lost. */
export function answered(s: Liveness, now: number): { next: Liveness; back: boolean } {
  return { next: { misses: 0, lost: false, lastAnswer: now }, back: s.lost };
}

/**
 * A ping sent at `sentAt` missed at `now`. `lost` (with the text for the
 * node's error) when this miss makes `misses` in a row and the node was not
 * lost already.
 */
export function missed(s: Liveness, sentAt: number, now: number, misses: number, why: string): { next: Liveness; lost?: string } {
  const missingSince = s.missingSince ?? sentAt;
  const next: Liveness = { ...s, misses: s.misses + 1, missingSince };
  if (s.lost || next.misses < misses) return { next };
  const silentFor = ((now - (s.lastAnswer ?? missingSince)) / 1000).toFixed(1);
  return { next: { ...next, lost: true }, lost: `no answer to ping for ${silentFor}s (${next.misses} missed in a row; last: ${why})` };
}

/** Slice j of a round split into `slices`: the nodes [from, to) of `count`, an even share (node i is always in the same slice). */
export function roundSlice(count: number, slices: number, j: number): { from: number; to: number } {
  return { from: Math.floor((j * count) / slices), to: Math.floor(((j + 1) * count) / slices) };
}

interface Slot {
  member: HeartbeatMember;
  live: Liveness;
  /** Controller time of the newest answer; kept apart from `live` so a steady answer allocates nothing (at 1,000 nodes, 500 answers a second). */
  lastAnswer?: number;
  /** A ping is out, sent at `sentAt`. */
  busy: boolean;
  sentAt: number;
  /** A turn (this scheduled time) came while the ping was out: sent when it ends. */
  owedAt?: number;
  /** Told how this slot's ping ended: made once per slot, not per ping. */
  settle: (err?: Error) => void;
  /** Taken out by `set`: a late answer changes nothing. */
  gone: boolean;
}

export class Heartbeat {
  private readonly slots = new Map<string, Slot>();
  /** The slots in ping order (a turn is an array index, not a lookup by name). */
  private order: Slot[] = [];
  /** The slice of the round the next tick sends, of `slices`. */
  private slice = 0;
  private slices = 0;
  private roundStart = 0;
  /** The interval in use: the configured one, or longer for a fleet above the rate cap. */
  private interval: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Pings sent (answered or not), for the bench and tests. */
  sent = 0;

  constructor(private readonly opts: HeartbeatOptions) {
    this.interval = opts.intervalMs;
  }

  /** Each node's turn comes once per this many ms (the configured interval, or longer above the rate cap). */
  get intervalMs(): number {
    return this.interval;
  }

  /** The nodes to ping from now on; a node that stays keeps its record. */
  set(members: readonly HeartbeatMember[]): void {
    const wanted = new Map(members.map((m) => [m.name, m]));
    for (const [name, slot] of this.slots) {
      if (wanted.get(name) === slot.member) continue;
      slot.gone = true;
      this.slots.delete(name);
    }
    for (const m of members) {
      if (this.slots.has(m.name)) continue;
      const slot: Slot = { member: m, live: ALIVE, busy: false, sentAt: 0, settle: () => undefined, gone: false };
      slot.settle = (err) => this.settle(slot, err);
      this.slots.set(m.name, slot);
    }
    this.order = members.map((m) => this.slots.get(m.name)!);
    if (!this.stopped) this.schedule();
  }

  /** The heartbeat's record of a node, for status and tests. */
  liveness(name: string): Liveness | undefined {
    const slot = this.slots.get(name);
    return slot && withLastAnswer(slot);
  }

  /** When the node last answered (controller clock), without building its record: the status asks this for every node at every read. */
  lastAnswer(name: string): number | undefined {
    return this.slots.get(name)?.lastAnswer;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A round is split into `slices` (one per node, or one per minTickMs when
   * there are more nodes), and slice j is sent at roundStart + j/slices of the
   * interval, a timer set for that time each tick: a node is always in the same
   * slice, so it is pinged once per interval, never later. (Ticks of a
   * setInterval, each sending the nodes whose turn came, drifted against the
   * round: a node could move to the next tick, one tick after a whole interval,
   * and its grace period, counted from its last answer, start that much early.)
   */
  private schedule(): void {
    const n = this.order.length;
    const interval = heartbeatInterval(this.opts.intervalMs, n, this.opts.maxRate);
    const slices = n === 0 ? 0 : Math.max(1, Math.min(n, Math.floor(interval / (this.opts.minTickMs ?? 100))));
    if (slices === this.slices && interval === this.interval && (this.timer || n === 0)) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.slices = slices;
    this.interval = interval;
    if (n === 0) return;
    this.roundStart = this.opts.now();
    this.slice = 0;
    this.tick();
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const intervalMs = this.interval;
    const { from, to } = roundSlice(this.order.length, this.slices, this.slice);
    const turn = this.roundStart + (this.slice * intervalMs) / this.slices;
    for (let i = from; i < to; i++) this.turn(this.order[i]!, turn);
    if (++this.slice >= this.slices) {
      this.slice = 0;
      // A new round; after a stall (a blocked event loop) start from now rather than catch up in a burst.
      const now = this.opts.now();
      this.roundStart = now - this.roundStart < 2 * intervalMs ? this.roundStart + intervalMs : now;
    }
    const at = this.roundStart + (this.slice * intervalMs) / this.slices;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.opts.now()));
    this.timer.unref();
  }

  /** The node's turn, scheduled for `turn`: its ping, held until just before its next turn unless it is lost. */
  private turn(slot: Slot, turn: number): void {
    if (slot.busy) {
      slot.owedAt = turn;
      slot.member.hedge?.(this.opts.timeoutMs);
      return;
    }
    const hold = slot.live.lost ? 0 : turn + this.interval - (this.opts.holdMarginMs ?? DEFAULT_HOLD_MARGIN_MS) - this.opts.now();
    // Too near the next turn to be worth a request: that turn sends it.
    if (hold < MIN_OWED_HOLD_MS && slot.owedAt !== undefined) return;
    this.send(slot, Math.max(0, hold));
  }

  private send(slot: Slot, holdMs = 0): void {
    if (slot.gone || slot.busy || this.stopped) return;
    slot.busy = true;
    this.sent++;
    slot.sentAt = this.opts.now();
    slot.member.ping(this.opts.timeoutMs, slot.settle, holdMs, holdMs > 0 ? this.interval : 0);
  }

  private settle(slot: Slot, err?: Error): void {
    slot.busy = false;
    if (slot.gone || this.stopped) return;
    const now = this.opts.now();
    if (err === undefined) {
      slot.lastAnswer = now;
      // The steady case (alive, no misses) changes nothing but the time.
      if (slot.live.misses === 0 && !slot.live.lost) slot.member.answered(false);
      else {
        const { next, back } = answered(slot.live, now);
        slot.live = next;
        slot.member.answered(back);
      }
      const owed = slot.owedAt;
      if (owed !== undefined) {
        this.turn(slot, owed);
        slot.owedAt = undefined;
      }
      return;
    }
    slot.owedAt = undefined;
    const heard = slot.member.heardAt?.();
    if (heard !== undefined && heard <= now && heard > (slot.lastAnswer ?? Number.NEGATIVE_INFINITY)) slot.lastAnswer = heard;
    const { next, lost } = missed(withLastAnswer(slot), slot.sentAt, now, this.opts.misses, err.message);
    slot.live = next;
    if (lost !== undefined) slot.member.lost(lost, next.lastAnswer ?? next.missingSince ?? slot.sentAt);
    // Not lost yet: ask again now, so a silent node is lost within one turn plus `misses` deadlines.
    else if (!next.lost) this.send(slot);
  }
}

/** The slot's record with its newest answer time. */
function withLastAnswer(slot: Slot): Liveness {
  return slot.lastAnswer === slot.live.lastAnswer ? slot.live : { ...slot.live, lastAnswer: slot.lastAnswer };
}
