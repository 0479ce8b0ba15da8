import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { formatWindow, parseWindow, windowState, type MaintenanceWindow } from '../../src/api/window.js';
import { fastCheckRuns } from '../support/runs.js';

const numRuns = fastCheckRuns();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function parsed(text: string): MaintenanceWindow {
  const r = parseWindow(text);
  if (!r.ok) throw new Error(`${text}: ${r.message} at ${r.column}`);
  return r.window;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** windowState with instants as ISO strings, for readable expectations. */
function stateAt(texts: string[], at: string): { open: boolean; closesAt?: string; opensAt?: string } {
  const s = windowState(texts.map(parsed), Date.parse(at));
  return s.open ? { open: true, closesAt: iso(s.closesAt) } : { open: false, opensAt: iso(s.opensAt) };
}

describe('parseWindow: accepted forms', () => {
  it.each<[string, number[], number, number, string, string]>([
    ['Mon-Fri 22:00-06:00 Europe/Berlin', [1, 2, 3, 4, 5], 1320, 360, 'Europe/Berlin', 'Mon-Fri 22:00-06:00 Europe/Berlin'],
    ['Sat 00:00-24:00 UTC', [6], 0, 1440, 'UTC', 'Sat 00:00-24:00 UTC'],
    ['mon,WED,fri 08:15-09:45 utc', [1, 3, 5], 495, 585, 'UTC', 'Mon,Wed,Fri 08:15-09:45 UTC'],
    ['Fri-Mon 23:59-00:01 europe/berlin', [0, 1, 5, 6], 1439, 1, 'Europe/Berlin', 'Fri-Mon 23:59-00:01 Europe/Berlin'],
    ['Sat,Sun 10:00-12:00 UTC', [0, 6], 600, 720, 'UTC', 'Sat-Sun 10:00-12:00 UTC'],
    ['Mon-Wed,Tue-Thu,Sun 10:00-12:00 UTC', [0, 1, 2, 3, 4], 600, 720, 'UTC', 'Sun-Thu 10:00-12:00 UTC'],
    ['Sat-Mon,Wed 10:00-12:00 UTC', [0, 1, 3, 6], 600, 720, 'UTC', 'Wed,Sat-Mon 10:00-12:00 UTC'],
    ['* 02:00-03:00 America/New_York', [0, 1, 2, 3, 4, 5, 6], 120, 180, 'America/New_York', 'Daily 02:00-03:00 America/New_York'],
    ['daily 02:00-03:00 UTC', [0, 1, 2, 3, 4, 5, 6], 120, 180, 'UTC', 'Daily 02:00-03:00 UTC'],
    ['Mon-Sun 02:00-03:00 UTC', [0, 1, 2, 3, 4, 5, 6], 120, 180, 'UTC', 'Daily 02:00-03:00 UTC'],
    // A link keeps the name as written (ICU would say America/Los_Angeles).
    ['Tue 01:00-02:00 US/Pacific', [2], 60, 120, 'US/Pacific', 'Tue 01:00-02:00 US/Pacific'],
    ['\t Tue   01:00-02:00\tAsia/Kathmandu  ', [2], 60, 120, 'Asia/Kathmandu', 'Tue 01:00-02:00 Asia/Kathmandu'],
  ])('%j', (text, days, start, end, zone, canonical) => {
    expect(parseWindow(text)).toEqual({ ok: true, window: { text: text.trim(), days, start, end, zone } });
    expect(formatWindow(parsed(text))).toBe(canonical);
    expect(formatWindow(parsed(canonical))).toBe(canonical);
  });
});

describe('parseWindow: errors say what is wrong and where', () => {
  const DAYS = 'use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range Mon-Fri, a list Mon,Wed or *';
  it.each<[string, string, number]>([
    ['Mo 10:00-11:00 UTC', `unknown day "Mo": ${DAYS}`, 0],
    ['Mon,Wedn 10:00-11:00 UTC', `unknown day "Wedn": ${DAYS}`, 4],
    ['Mon-Frii 10:00-11:00 UTC', `unknown day "Frii": ${DAYS}`, 4],
    ['  Mon,,Fri 10:00-11:00 UTC', `missing day in "Mon,,Fri": ${DAYS}`, 6],
    ['Mon-Mon 10:00-11:00 UTC', 'range Mon-Mon names one day: write Mon alone, or * for every day', 0],
    ['Mon 10:00 UTC', 'time range "10:00" is not HH:MM-HH:MM: use 24-hour times like 22:00-06:00', 4],
    ['Mon 9:00-10:00 UTC', 'time range "9:00-10:00" is not HH:MM-HH:MM: use 24-hour times like 22:00-06:00', 4],
    ['Mon 24:00-01:00 UTC', 'start 24:00 is not a time: use 00:00 to 23:59', 4],
    ['Mon 10:60-11:00 UTC', 'start 10:60 is not a time: use 00:00 to 23:59', 4],
    ['Mon 10:00-24:01 UTC', 'end 24:01 is not a time: use 00:01 to 24:00', 10],
    ['Mon 10:00-11:75 UTC', 'end 11:75 is not a time: use 00:01 to 24:00', 10],
    ['Mon 22:00-00:00 UTC', 'end 00:00 is not allowed: write 24:00 for midnight', 10],
    ['Mon 10:00-10:00 UTC', 'start and end are both 10:00: use 00:00-24:00 for a whole day', 4],
    ['Mon 10:00-11:00 Europe/Berlinn', 'unknown time zone "Europe/Berlinn": use an IANA name like Europe/Berlin or UTC', 16],
    ['Mon 10:00-11:00 CEST+1', 'unknown time zone "CEST+1": use an IANA name like Europe/Berlin or UTC', 16],
    ['', 'missing days: a window is DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 22:00-06:00 Europe/Berlin"', 0],
    ['Mon', 'missing time range: a window is DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 22:00-06:00 Europe/Berlin"', 3],
    ['Mon 10:00-11:00 ', 'missing time zone: a window is DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 22:00-06:00 Europe/Berlin"', 16],
    ['Mon 10:00 - 11:00 UTC', 'time range "10:00" is not HH:MM-HH:MM: use 24-hour times like 22:00-06:00', 4],
    ['Mon 10:00-11:00 UTC weekly', 'unexpected "weekly" after the time zone: a window is DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 22:00-06:00 Europe/Berlin"', 20],
  ])('%j', (text, message, column) => {
    expect(parseWindow(text)).toEqual({ ok: false, message, column });
  });

  it('refuses very long text before parsing it', () => {
    const r = parseWindow(`Mon ${' '.repeat(300)}10:00-11:00 UTC`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/at most 200/);
  });

  it('never throws, and a column stays within the text', () => {
    const junk = fc.string({ unit: fc.constantFrom('M', 'o', 'n', 'S', 'u', '-', ',', '*', ':', '0', '1', '2', '4', '5', '9', ' ', 'U', 'T', 'C', '/', 'E'), maxLength: 40 });
    fc.assert(
      fc.property(junk, (text) => {
        const r = parseWindow(text);
        if (!r.ok) {
          expect(r.message.length).toBeGreaterThan(0);
          expect(r.column ?? 0).toBeGreaterThanOrEqual(0);
          expect(r.column ?? 0).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns },
    );
  });
});

describe('windowState: known instants', () => {
  it('an empty list is always open', () => {
    expect(windowState([], Date.parse('2026-03-29T01:00:00Z'))).toEqual({ open: true });
  });

  it('a midnight-crossing window opens on the day named and closes the next morning', () => {
    const w = ['Mon-Fri 22:00-06:00 Europe/Berlin'];
    // Fri 27 Mar 2026, CET (UTC+1).
    expect(stateAt(w, '2026-03-27T20:59:00Z')).toEqual({ open: false, opensAt: '2026-03-27T21:00:00.000Z' });
    expect(stateAt(w, '2026-03-27T21:00:00Z')).toEqual({ open: true, closesAt: '2026-03-28T05:00:00.000Z' });
    expect(stateAt(w, '2026-03-28T04:59:59.999Z')).toEqual({ open: true, closesAt: '2026-03-28T05:00:00.000Z' });
    // Saturday 06:00 closes it; Saturday and Sunday nights are not named, so the next opening is Monday 22:00 CEST.
    expect(stateAt(w, '2026-03-28T05:00:00Z')).toEqual({ open: false, opensAt: '2026-03-30T20:00:00.000Z' });
    // Monday 01:00 local belongs to no window: Sunday is not named.
    expect(stateAt(w, '2026-03-29T23:00:00Z')).toEqual({ open: false, opensAt: '2026-03-30T20:00:00.000Z' });
    // Tue 03:00 CEST: open since Monday 22:00, closes Tuesday 06:00 (Tuesday's own window starts at 22:00, a gap).
    expect(stateAt(w, '2026-03-31T01:00:00Z')).toEqual({ open: true, closesAt: '2026-03-31T04:00:00.000Z' });
  });

  it('Europe/Berlin, spring forward (29 Mar 2026, 02:00 CET -> 03:00 CEST at 01:00Z)', () => {
    // A boundary in the skipped hour takes effect at 03:00 CEST.
    expect(stateAt(['Sun 02:30-04:00 Europe/Berlin'], '2026-03-29T00:59:00Z')).toEqual({ open: false, opensAt: '2026-03-29T01:00:00.000Z' });
    expect(stateAt(['Sun 02:30-04:00 Europe/Berlin'], '2026-03-29T01:00:00Z')).toEqual({ open: true, closesAt: '2026-03-29T02:00:00.000Z' });
    expect(stateAt(['Sun 01:00-02:30 Europe/Berlin'], '2026-03-29T00:30:00Z')).toEqual({ open: true, closesAt: '2026-03-29T01:00:00.000Z' });
    // A window wholly inside the gap does not happen that day.
    expect(stateAt(['Sun 02:15-02:45 Europe/Berlin'], '2026-03-29T00:00:00Z')).toEqual({ open: false, opensAt: '2026-04-05T00:15:00.000Z' });
    // Saturday night: 22:00 CET to 06:00 CEST is seven hours.
    expect(stateAt(['Sat 22:00-06:00 Europe/Berlin'], '2026-03-28T21:00:00Z')).toEqual({ open: true, closesAt: '2026-03-29T04:00:00.000Z' });
    // Daily windows: the offset in force on each day.
    expect(stateAt(['* 12:00-13:00 Europe/Berlin'], '2026-03-28T12:00:00Z')).toEqual({ open: false, opensAt: '2026-03-29T10:00:00.000Z' });
  });

  it('Europe/Berlin, fall back (25 Oct 2026, 03:00 CEST -> 02:00 CET at 01:00Z)', () => {
    // A boundary in the repeated hour takes its first occurrence.
    expect(stateAt(['Sun 02:30-03:30 Europe/Berlin'], '2026-10-25T00:00:00Z')).toEqual({ open: false, opensAt: '2026-10-25T00:30:00.000Z' });
    expect(stateAt(['Sun 02:30-03:30 Europe/Berlin'], '2026-10-25T01:45:00Z')).toEqual({ open: true, closesAt: '2026-10-25T02:30:00.000Z' });
    // Closed at the first 02:30; when the clock reads 02:15 again it stays closed.
    expect(stateAt(['Sun 01:00-02:30 Europe/Berlin'], '2026-10-24T23:00:00Z')).toEqual({ open: true, closesAt: '2026-10-25T00:30:00.000Z' });
    expect(stateAt(['Sun 01:00-02:30 Europe/Berlin'], '2026-10-25T01:15:00Z')).toEqual({ open: false, opensAt: '2026-11-01T00:00:00.000Z' });
    // Saturday night: 22:00 CEST to 06:00 CET is nine hours.
    expect(stateAt(['Sat 22:00-06:00 Europe/Berlin'], '2026-10-24T20:00:00Z')).toEqual({ open: true, closesAt: '2026-10-25T05:00:00.000Z' });
  });

  it('UTC, whole days, and the union of windows that overlap or touch', () => {
    const weekend = ['Sat 00:00-24:00 UTC', 'sun 00:00-24:00 UTC'];
    expect(stateAt(weekend, '2026-03-28T10:00:00Z')).toEqual({ open: true, closesAt: '2026-03-30T00:00:00.000Z' });
    expect(stateAt(weekend, '2026-03-30T00:00:00Z')).toEqual({ open: false, opensAt: '2026-04-04T00:00:00.000Z' });
    expect(stateAt(['Mon 10:00-12:00 UTC', 'Mon 11:00-12:30 UTC', 'Mon 12:30-14:00 UTC'], '2026-03-30T10:00:00Z')).toEqual({ open: true, closesAt: '2026-03-30T14:00:00.000Z' });
    // Windows in different zones: Berlin 13:00-14:00 CEST is 11:00-12:00Z.
    expect(stateAt(['Mon 10:00-11:00 UTC', 'Mon 13:00-14:00 Europe/Berlin'], '2026-03-30T10:30:00Z')).toEqual({ open: true, closesAt: '2026-03-30T12:00:00.000Z' });
  });

  it('"*" every day; no closesAt when the windows never close within 8 days', () => {
    expect(stateAt(['* 06:00-07:00 UTC'], '2026-03-28T07:00:00Z')).toEqual({ open: false, opensAt: '2026-03-29T06:00:00.000Z' });
    expect(stateAt(['* 00:00-24:00 UTC'], '2026-03-28T07:00:00Z')).toEqual({ open: true });
    expect(stateAt(['* 12:00-11:59 UTC'], '2026-03-28T07:00:00Z')).toEqual({ open: true, closesAt: '2026-03-28T11:59:00.000Z' });
  });

  it('is fast enough for a reconcile loop', () => {
    const ws = ['Mon-Fri 22:00-06:00 Europe/Berlin', 'Sat 00:00-24:00 UTC'].map(parsed);
    const start = Date.parse('2026-03-20T00:00:00Z');
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) windowState(ws, start + i * 37 * MINUTE);
    expect((performance.now() - t0) / 500).toBeLessThan(2); // ms per call; about 0.1 here
  });
});

// ---------------------------------------------------------------------------
// Properties against a brute-force reference that shares no code with the
// module: it reads the wall clock minute by minute from Intl and applies the
// rule literally. A boundary at local time L takes effect at the first instant
// whose wall clock reads L or later, so at instant t what counts is the latest
// wall-clock reading so far (after a fall back the clock repeats readings it
// already passed). Two hours back covers it: no zone below turns its clock
// back by more than an hour.

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/Santiago', // changes at midnight: 00:00 is skipped or repeated
  'America/Havana', // changes at midnight too
  'America/St_Johns', // -03:30
  'Australia/Lord_Howe', // 30-minute DST
  'Asia/Kolkata',
  'Asia/Kathmandu', // +05:45
  'Pacific/Chatham', // +12:45 / +13:45
  'Africa/Casablanca', // clocks go back for Ramadan
  'Pacific/Apia', // skipped 30 Dec 2011 altogether
];

/** Instants to cluster around: clock changes of the zones above. */
const ANCHORS = [
  '2026-03-29T01:00:00Z',
  '2026-10-25T01:00:00Z',
  '2026-03-08T07:00:00Z',
  '2026-11-01T06:00:00Z',
  '2026-04-05T03:00:00Z',
  '2026-09-06T04:00:00Z',
  '2026-03-08T05:00:00Z',
  '2026-04-04T15:00:00Z',
  '2026-10-03T15:30:00Z',
  '2026-04-04T13:45:00Z',
  '2026-02-15T02:00:00Z',
  '2026-03-22T02:00:00Z',
  '2011-12-30T10:00:00Z',
].map(Date.parse);

interface Spec {
  days: number[];
  start: number;
  end: number;
  zone: string;
  text: string;
}

const refFormats = new Map<string, Intl.DateTimeFormat>();

/** Wall clock of `zone` at minute-aligned instant t, as minutes since 1970-01-01 00:00 local. */
function wallMinute(zone: string, t: number): number {
  let f = refFormats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    refFormats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
  const minutes = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute)) / MINUTE;
  // Cross-check the weekday Intl names against the one the reference derives below.
  if (p.weekday !== NAMES[weekdayOf(Math.floor(minutes / 1440))]) throw new Error(`weekday mismatch ${p.weekday}`);
  return minutes;
}

function weekdayOf(localDay: number): number {
  return (((localDay + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/** Is the latest local reading `reached` inside one of spec's windows? Only windows named for that day or the day before can reach it. */
function inWindow(spec: Spec, reached: number): boolean {
  const today = Math.floor(reached / 1440);
  return [today - 1, today].some((d) => {
    if (!spec.days.includes(weekdayOf(d))) return false;
    const from = d * 1440 + spec.start;
    const to = d * 1440 + (spec.end <= spec.start ? spec.end + 1440 : spec.end);
    return from <= reached && reached < to;
  });
}

/** Reference open/closed for each minute from floor(from) to `to`, in order. */
function* refTrace(specs: Spec[], from: number, to: number): Generator<[number, boolean]> {
  const zones = [...new Set(specs.map((s) => s.zone))];
  const first = Math.floor(from / MINUTE) * MINUTE;
  const reached = new Map(zones.map((z) => [z, -Infinity]));
  for (let t = first - 2 * HOUR; t <= to; t += MINUTE) {
    for (const z of zones) reached.set(z, Math.max(reached.get(z)!, wallMinute(z, t)));
    if (t >= first) yield [t, specs.some((s) => inWindow(s, reached.get(s.zone)!))];
  }
}

/** Reference open/closed at each of the minutes from floor(from) to `to`. */
function refOpen(specs: Spec[], from: number, to = from): boolean[] {
  return [...refTrace(specs, from, to)].map(([, open]) => open);
}

/** Days as the user might write them: items that are a day or a range, in any case; or * / Daily. */
const daysArb: fc.Arbitrary<{ days: number[]; text: string }> = fc.oneof(
  fc.constantFrom('*', 'DAILY', 'daily').map((text) => ({ days: [0, 1, 2, 3, 4, 5, 6], text })),
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 6 }).map((a) => ({ days: [a], text: NAMES[a]! })),
        fc
          .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 6 }))
          .map(([a, n]) => ({ days: Array.from({ length: n + 1 }, (_, i) => (a + i) % 7), text: `${NAMES[a]!}-${NAMES[(a + n) % 7]!}` })),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .chain((items) =>
      fc.array(fc.boolean(), { minLength: items.length, maxLength: items.length }).map((upper) => ({
        days: [...new Set(items.flatMap((i) => i.days))].sort((a, b) => a - b),
        text: items.map((it, k) => (upper[k] ? it.text.toUpperCase() : it.text.toLowerCase())).join(','),
      })),
    ),
);

/** Times anywhere in the day, or in the small hours where clocks change. */
const startArb = fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 0, max: 240 }));
const endArb = fc.oneof(fc.integer({ min: 1, max: 1440 }), fc.integer({ min: 1, max: 240 }));
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
const blank = fc.constantFrom(' ', '  ', '\t');

const specArb: fc.Arbitrary<Spec> = fc
  .record({ d: daysArb, start: startArb, end: endArb, zone: fc.constantFrom(...ZONES), gap1: blank, gap2: blank })
  .filter((r) => r.start !== r.end)
  .map(({ d, start, end, zone, gap1, gap2 }) => ({ days: d.days, start, end, zone, text: `${d.text}${gap1}${hhmm(start)}-${hhmm(end)}${gap2}${zone}` }));

const instantArb = fc.oneof(
  fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2037, 0, 1) }),
  fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: -3 * DAY, max: 3 * DAY })).map(([a, d]) => a + d),
);

describe('parseWindow and formatWindow: properties', () => {
  it('parses what users write, and the canonical form round-trips', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const w = parsed(spec.text);
        expect(w).toEqual({ text: spec.text, days: spec.days, start: spec.start, end: spec.end, zone: spec.zone });
        const canonical = formatWindow(w);
        const again = parsed(canonical);
        expect({ ...again, text: w.text }).toEqual(w);
        expect(formatWindow(again)).toBe(canonical);
      }),
      { numRuns },
    );
  });
});

describe('windowState: properties against the brute-force reference', () => {
  const windowsArb = fc.array(specArb, { minLength: 1, maxLength: 3 });

  it('open agrees with the reference; opensAt / closesAt is the next minute where that flips', () => {
    fc.assert(
      fc.property(windowsArb, instantArb, (specs, now) => {
        const ws = specs.map((s) => parsed(s.text));
        const st = windowState(ws, now);
        expect(st.open).toBe(refOpen(specs, now)[0]);
        const at = st.open ? st.closesAt : st.opensAt;
        if (at === undefined) return;
        expect(at).toBeGreaterThan(now);
        expect(at - now).toBeLessThanOrEqual(8 * DAY);
        expect(at % MINUTE).toBe(0);
        expect(windowState(ws, at).open).toBe(!st.open);
        expect(windowState(ws, at - MINUTE).open).toBe(st.open);
        expect(refOpen(specs, at - MINUTE, at)).toEqual([st.open, !st.open]);
      }),
      { numRuns },
    );
  });

  it('nothing flips before opensAt / closesAt, and nothing within 8 days when it is left out (minute by minute)', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 1, maxLength: 2 }), instantArb, (specs, now) => {
        const st = windowState(
          specs.map((s) => parsed(s.text)),
          now,
        );
        const at = st.open ? st.closesAt : st.opensAt;
        let flip: number | undefined;
        for (const [t, open] of refTrace(specs, now, now + 8 * DAY)) {
          if (t > now && open !== st.open) {
            flip = t;
            break;
          }
        }
        expect(iso(at)).toBe(iso(flip));
      }),
      { numRuns: Math.max(50, Math.ceil(numRuns / 10)) },
    );
  });
});
