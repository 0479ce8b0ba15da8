// Maintenance windows: "Mon-Fri 22:00-06:00 Europe/Berlin" (spec.update.windows).
// Pure: no clock, no I/O. The caller passes the instant; time zones come from
// the JS global Intl (formatters are cached per zone, nothing else is kept).
//
// A window that names day D opens at D start and closes at D end, or at end on
// D+1 when end <= start. Both boundaries are local wall-clock times of the
// window's zone; a boundary that does not exist (spring forward) takes effect
// at the first instant after the gap, one that exists twice (fall back) at its
// first occurrence. In other words a boundary at local time L is the first
// instant t whose wall clock reads L or later.

export interface MaintenanceWindow {
  /** The text as written, trimmed. */
  readonly text: string;
  /** 0 = Sun .. 6 = Sat, sorted, unique. */
  readonly days: readonly number[];
  /** Minutes from 00:00, 0..1439. */
  readonly start: number;
  /** Minutes from 00:00, 1..1440; <= start means the next day. */
  readonly end: number;
  /** IANA name as written (ICU's capitalisation when only the case differs). */
  readonly zone: string;
}

export type WindowParse = { ok: true; window: MaintenanceWindow } | { ok: false; message: string; column?: number };

export type WindowState = { open: true; closesAt?: number } | { open: false; opensAt?: number };

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_HINT = 'use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range Mon-Fri, a list Mon,Wed or *';
const SHAPE = 'a window is DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 22:00-06:00 Europe/Berlin"';
const TIMES = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/;
const MAX_TEXT = 200;

const MINUTE = 60_000;
const DAY = 86_400_000;
/** opensAt and closesAt are reported only this far ahead. */
const HORIZON = 8 * DAY;

function fail(message: string, column: number): WindowParse {
  return { ok: false, message, column };
}

/** Parses `DAYS HH:MM-HH:MM ZONE`; never throws. Errors name the bad part and what is allowed, and locate it. */
export function parseWindow(text: string): WindowParse {
  if (text.length > MAX_TEXT) return fail(`window is ${text.length} characters long, at most ${MAX_TEXT} allowed`, MAX_TEXT);
  const words = [...text.matchAll(/\S+/g)].map((m) => ({ word: m[0], at: m.index }));
  const missing = (what: string) => fail(`missing ${what}: ${SHAPE}`, text.length);
  // Each part is checked in order, so that an error names the first thing wrong.
  const [d, t, z, extra] = words;
  if (d === undefined) return missing('days');
  const days = parseDays(d.word, d.at);
  if (!Array.isArray(days)) return days;

  if (t === undefined) return missing('time range');
  const m = TIMES.exec(t.word);
  if (m === null) return fail(`time range ${JSON.stringify(t.word)} is not HH:MM-HH:MM: use 24-hour times like 22:00-06:00`, t.at);
  const [sh, sm, eh, em] = m.slice(1).map(Number) as [number, number, number, number];
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (sh > 23 || sm > 59) return fail(`start ${t.word.slice(0, 5)} is not a time: use 00:00 to 23:59`, t.at);
  if (em > 59 || end > 1440) return fail(`end ${t.word.slice(6)} is not a time: use 00:01 to 24:00`, t.at + 6);
  if (end === 0) return fail('end 00:00 is not allowed: write 24:00 for midnight', t.at + 6);
  if (start === end) return fail(`start and end are both ${t.word.slice(0, 5)}: use 00:00-24:00 for a whole day`, t.at);

  if (z === undefined) return missing('time zone');
  let zone: string;
  try {
    const resolved = new Intl.DateTimeFormat(undefined, { timeZone: z.word }).resolvedOptions().timeZone;
    zone = resolved.toLowerCase() === z.word.toLowerCase() ? resolved : z.word;
  } catch {
    return fail(`unknown time zone ${JSON.stringify(z.word)}: use an IANA name like Europe/Berlin or UTC`, z.at);
  }
  if (extra !== undefined) return fail(`unexpected ${JSON.stringify(extra.word)} after the time zone: ${SHAPE}`, extra.at);
  return { ok: true, window: { text: text.trim(), days, start, end, zone } };
}

/** `*`, `Daily`, or a comma list of days and ranges (ranges may wrap: Fri-Mon). */
function parseDays(word: string, at: number): number[] | WindowParse {
  if (word === '*' || word.toLowerCase() === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  const set = new Set<number>();
  let itemAt = at;
  const unknown = (name: string, at: number) => fail(`${name === '' ? `missing day in ${JSON.stringify(word)}` : `unknown day ${JSON.stringify(name)}`}: ${DAYS_HINT}`, at);
  for (const item of word.split(',')) {
    const dash = item.indexOf('-');
    const firstName = dash < 0 ? item : item.slice(0, dash);
    const first = dayIndex(firstName);
    if (first === undefined) return unknown(firstName, itemAt);
    let last = first;
    if (dash >= 0) {
      const found = dayIndex(item.slice(dash + 1));
      if (found === undefined) return unknown(item.slice(dash + 1), itemAt + dash + 1);
      if (found === first) return fail(`range ${item} names one day: write ${DAY_NAMES[first]!} alone, or * for every day`, itemAt);
      last = found;
    }
    for (let day = first; ; day = (day + 1) % 7) {
      set.add(day);
      if (day === last) break;
    }
    itemAt += item.length + 1;
  }
  return [...set].sort((a, b) => a - b);
}

function dayIndex(name: string): number | undefined {
  const i = DAY_NAMES.findIndex((n) => n.toLowerCase() === name.toLowerCase());
  return i < 0 ? undefined : i;
}

/** Canonical text: `Daily`, or days Monday-first with runs of two or more as ranges (a run may wrap Sun-Mon). */
export function formatWindow(w: MaintenanceWindow): string {
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return `${formatDays(w.days)} ${hhmm(w.start)}-${hhmm(w.end)} ${w.zone}`;
}

function formatDays(days: readonly number[]): string {
  const has = (d: number) => days.includes(((d % 7) + 7) % 7);
  if ([0, 1, 2, 3, 4, 5, 6].every(has)) return 'Daily';
  const items: string[] = [];
  // Monday-first (1..7, 7 = Sun); a run is started by a day whose previous day is absent.
  for (let d = 1; d <= 7; d++) {
    if (!has(d) || has(d - 1)) continue;
    let last = d;
    while (has(last + 1)) last++;
    items.push(last === d ? DAY_NAMES[d % 7]! : `${DAY_NAMES[d % 7]!}-${DAY_NAMES[last % 7]!}`);
  }
  return items.join(',');
}

/**
 * Where instant `wallMs` (Unix ms) stands relative to a set of windows (from parseWindow).
 * Empty list = always open. Windows that overlap or touch form one open period:
 * closesAt is when that period ends, opensAt when the next one starts; each is
 * left out when more than 8 days ahead. `wallMs` must be finite (Intl throws a
 * RangeError otherwise). About 0.1 ms per zone: no time-dependent caching.
 */
export function windowState(windows: readonly MaintenanceWindow[], wallMs: number): WindowState {
  if (windows.length === 0) return { open: true };
  const timelines = new Map<string, Timeline>();
  const spans: [number, number][] = [];
  for (const w of windows) {
    let tl = timelines.get(w.zone);
    if (tl === undefined) timelines.set(w.zone, (tl = timeline(w.zone, wallMs)));
    const today = Math.floor((wallMs + offsetOf(tl, wallMs)) / DAY);
    const endMinutes = w.end <= w.start ? w.end + 1440 : w.end;
    // A span ends by the end of the day after its own, so days before today-1 are over; days after today+9 start beyond the horizon.
    for (let d = today - 1; d <= today + 9; d++) {
      if (!w.days.includes((((d + 4) % 7) + 7) % 7)) continue; // 1970-01-01 was a Thursday
      const open = instantOf(tl, d * DAY + w.start * MINUTE);
      const close = instantOf(tl, d * DAY + endMinutes * MINUTE);
      if (close > open) spans.push([open, close]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  // `end` grows through the spans that contain wallMs and those that touch them.
  let end = wallMs;
  let next: number | undefined;
  for (const [open, close] of spans) {
    if (open > end) {
      next = open;
      break;
    }
    if (close > end) end = close;
  }
  if (end > wallMs) return end - wallMs <= HORIZON ? { open: true, closesAt: end } : { open: true };
  return next !== undefined && next - wallMs <= HORIZON ? { open: false, opensAt: next } : { open: false };
}

/** A zone's UTC offsets around one instant: offset[i] holds from from[i] (from[0] = -Infinity). */
interface Timeline {
  from: number[];
  offset: number[];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    if (formatters.size >= 1000) formatters.clear();
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, f);
  }
  return f;
}

/** Local wall clock minus UTC at instant t, in ms. */
function offsetAt(f: Intl.DateTimeFormat, t: number): number {
  const v: Record<string, number> = {};
  for (const p of f.formatToParts(t)) v[p.type] = Number(p.value);
  return Date.UTC(v.year!, v.month! - 1, v.day, v.hour, v.minute, v.second) - Math.floor(t / 1000) * 1000;
}

/**
 * Offsets from 3 days before `at` to 12 days after, sampled daily; each change
 * is then found to the minute by bisection. Assumes at most one change per day,
 * true of every zone's rules in use.
 */
function timeline(zone: string, at: number): Timeline {
  const f = formatter(zone);
  const base = Math.floor(at / MINUTE) * MINUTE;
  const tl: Timeline = { from: [-Infinity], offset: [offsetAt(f, base - 3 * DAY)] };
  for (let k = -2; k <= 12; k++) {
    let lo = base + (k - 1) * DAY;
    let hi = base + k * DAY;
    const before = tl.offset[tl.offset.length - 1]!;
    let after = offsetAt(f, hi);
    if (after === before) continue;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      const o = offsetAt(f, mid);
      if (o === before) lo = mid;
      else [hi, after] = [mid, o];
    }
    tl.from.push(hi);
    tl.offset.push(after);
  }
  return tl;
}

function offsetOf(tl: Timeline, t: number): number {
  let i = tl.from.length - 1;
  while (tl.from[i]! > t) i--;
  return tl.offset[i]!;
}

/** The first instant whose wall clock reads `local` (ms since 1970-01-01 00:00 local) or later. */
function instantOf(tl: Timeline, local: number): number {
  let best = Infinity;
  for (let i = 0; i < tl.from.length; i++) {
    const t = Math.max(tl.from[i]!, local - tl.offset[i]!);
    if (t < (tl.from[i + 1] ?? Infinity) && t < best) best = t;
  }
  return best;
}
