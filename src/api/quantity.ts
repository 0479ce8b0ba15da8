// Quantities, durations and versions: total parsers (never throw) and
// comparisons. Owned by the "constraint/quantity" work item; signatures fixed.
//
// Errors read as the tail of a sentence ("must be a CPU quantity like ...,
// got "lots"") so the loader can put the field's path in front of them.
// Every regex below is anchored and built from disjoint character classes
// without nested quantifiers, and inputs are capped at MAX_INPUT characters,
// so the work is linear and bounded for any input.

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Longer strings are refused before any parsing. */
const MAX_INPUT = 1024;

const CPU_HINT = 'must be a CPU quantity like 0.5, 2 or 500m';
const MEMORY_HINT = 'must be a memory quantity like 512Mi, 1.5Gi or 1000000 (units k M G T P, Ki Mi Gi Ti Pi)';
const DURATION_HINT = 'must be a duration like 500ms, 10s, 1m30s or 2h (a bare number means seconds)';

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const DECIMAL = /^(?:\d+(?:\.\d+)?|\.\d+)$/;
const CPU = /^(\d+(?:\.\d+)?|\.\d+)(m?)$/;
const MEMORY = /^(\d*)(?:\.(\d+))?([A-Za-z]*)$/;
const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)/y;

function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/** A short, safe rendering of any value for an error message (never throws). */
function describe(input: unknown): string {
  switch (typeof input) {
    case 'string':
      return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(input);
    case 'undefined':
      return 'nothing';
    case 'object':
      return input === null ? 'null' : Array.isArray(input) ? 'a list' : 'an object';
    default:
      return `a ${typeof input}`;
  }
}

function tooLong<T>(s: string): Parsed<T> {
  return fail(`must be at most ${MAX_INPUT} characters, got ${s.length}`);
}

/** `2`, `0.5`, `"500m"`, `"1.5"` → millicores. Allowed: a number >= 0 or a decimal string with optional `m`. */
export function parseCpu(input: unknown): Parsed<number> {
  let value: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return fail(`${CPU_HINT}, got ${describe(input)}`);
    value = Math.round(input * 1000);
  } else if (typeof input === 'string') {
    if (input.length > MAX_INPUT) return tooLong(input);
    const m = CPU.exec(input);
    if (m === null) return fail(`${CPU_HINT}, got ${describe(input)}`);
    value = Math.round(Number(m[1]) * (m[2] === 'm' ? 1 : 1000));
  } else {
    return fail(`${CPU_HINT}, got ${describe(input)}`);
  }
  if (!(value <= Number.MAX_SAFE_INTEGER)) return fail(`is too large a CPU quantity, got ${describe(input)}`);
  return { ok: true, value };
}

/** `"256Mi"`, `"1Gi"`, `"512M"`, `"1000"`, 1024 → bytes. Suffixes: k, M, G, T (1000s), Ki, Mi, Gi, Ti (1024s). */
export function parseMemory(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return fail(`${MEMORY_HINT}, got ${describe(input)}`);
    if (!Number.isInteger(input)) return fail(`must be a whole number of bytes, or a string with a unit like 1.5Gi, got ${input}`);
    if (input > Number.MAX_SAFE_INTEGER) return fail(`is too large a memory quantity, got ${input}`);
    return { ok: true, value: input };
  }
  if (typeof input !== 'string') return fail(`${MEMORY_HINT}, got ${describe(input)}`);
  if (input.length > MAX_INPUT) return tooLong(input);
  const m = MEMORY.exec(input);
  const intDigits = m?.[1] ?? '';
  const fracDigits = m?.[2];
  if (m === null || (intDigits === '' && fracDigits === undefined)) return fail(`${MEMORY_HINT}, got ${describe(input)}`);
  const unit = m[3] ?? '';
  let mult: number;
  if (unit === '') {
    if (fracDigits !== undefined) return fail(`must be a whole number of bytes, or have a unit like 1.5Gi, got ${describe(input)}`);
    mult = 1;
  } else {
    const known = MEMORY_UNITS[unit];
    if (known === undefined || !Object.hasOwn(MEMORY_UNITS, unit)) return fail(memoryUnitError(unit, input));
    mult = known;
  }
  // Whole and fractional parts are scaled separately so exact inputs stay exact.
  const whole = Number(intDigits || '0') * mult;
  const frac = fracDigits === undefined ? 0 : Math.round(Number(`0.${fracDigits}`) * mult);
  const value = whole + frac;
  if (!(value <= Number.MAX_SAFE_INTEGER)) return fail(`is too large a memory quantity, got ${describe(input)}`);
  return { ok: true, value };
}

/** A disk quantity (`"512Mi"`, `"2Gi"`) → bytes: the memory syntax, with errors that say disk. */
export function parseDisk(input: unknown): Parsed<number> {
  const r = parseMemory(input);
  return r.ok ? r : fail(r.error.replace(/memory quantity/g, 'disk quantity'));
}

function memoryUnitError(unit: string, input: string): string {
  if (unit === 'm') return `must be a memory quantity: "m" means milli (as in Kubernetes); write M (10^6) or Mi (2^20), got ${describe(input)}`;
  const first = unit[0] ?? '';
  const prefix = first === 'k' || first === 'K' ? 'k' : first.toUpperCase();
  if ('kMGTP'.includes(prefix) && (unit.length === 1 || /^[kKmMgGtTpP]i?[bB]$/.test(unit))) {
    const decimal = prefix;
    const binary = `${prefix === 'k' ? 'K' : prefix}i`;
    return `must be a memory quantity: unit "${unit}" is not allowed; write ${binary} (powers of 1024) or ${decimal} (powers of 1000), got ${describe(input)}`;
  }
  return `${MEMORY_HINT}, got ${describe(input)}`;
}

/** `"500ms"`, `"10s"`, `"2m"`, `"1h"`, `"1m30s"`, a number = seconds → ms. */
export function parseDuration(input: unknown): Parsed<number> {
  let value: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return fail(`${DURATION_HINT}, got ${describe(input)}`);
    value = Math.round(input * 1000);
  } else if (typeof input === 'string') {
    if (input.length > MAX_INPUT) return tooLong(input);
    if (DECIMAL.test(input)) {
      value = Math.round(Number(input) * 1000);
    } else {
      // Go-style sequence of number+unit parts, e.g. 1h30m or 1m30s500ms.
      let total = 0;
      let i = 0;
      while (i < input.length) {
        DURATION_PART.lastIndex = i;
        const m = DURATION_PART.exec(input);
        if (m === null) return fail(`${DURATION_HINT}, got ${describe(input)}`);
        total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? 0);
        i = DURATION_PART.lastIndex;
      }
      if (i === 0) return fail(`${DURATION_HINT}, got ${describe(input)}`);
      value = Math.round(total);
    }
  } else {
    return fail(`${DURATION_HINT}, got ${describe(input)}`);
  }
  if (!(value <= Number.MAX_SAFE_INTEGER)) return fail(`is too long a duration, got ${describe(input)}`);
  return { ok: true, value };
}

/** millicores → `"500m"` or `"2"`. */
export function formatCpu(millicores: number): string {
  if (!Number.isFinite(millicores) || millicores < 0) return String(millicores);
  const m = Math.round(millicores);
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

const BINARY_DESC: readonly (readonly [string, number])[] = [
  ['Pi', 2 ** 50],
  ['Ti', 2 ** 40],
  ['Gi', 2 ** 30],
  ['Mi', 2 ** 20],
  ['Ki', 2 ** 10],
];
const DECIMAL_DESC: readonly (readonly [string, number])[] = [
  ['P', 1e15],
  ['T', 1e12],
  ['G', 1e9],
  ['M', 1e6],
  ['k', 1e3],
];

/** bytes → `"512Mi"`, `"1Gi"`, `"1.5Gi"`, `"100"`. */
export function formatMemory(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return String(bytes);
  const b = Math.round(bytes);
  if (b < 1024) return String(b);
  // Exact in the largest binary unit (at most 2 decimals: x.25, x.5, x.75)?
  const bi = BINARY_DESC.findIndex(([, u]) => b >= u);
  const [bunit, bsize] = BINARY_DESC[bi] ?? ['Ki', 1024];
  if (b % (bsize / 4) === 0) return `${b / bsize}${bunit}`;
  // Exact in the largest decimal unit with at most 2 decimals (1G, 1.5G)?
  const dec = DECIMAL_DESC.find(([, u]) => b >= u);
  if (dec !== undefined && b % (dec[1] / 100) === 0) return `${b / dec[1]}${dec[0]}`;
  // Exact in a smaller unit, while that stays readable (1025Ki, 1081k, not 8043176Ki).
  for (const [u, size] of BINARY_DESC) if (b % (size / 4) === 0 && b / size < 10_000) return `${b / size}${u}`;
  for (const [u, size] of DECIMAL_DESC) if (b % (size / 100) === 0 && b / size < 10_000) return `${b / size}${u}`;
  // Otherwise approximate in the largest binary unit, 2 decimals.
  let fixed = (b / bsize).toFixed(2);
  // Rounding up must not leave the safe range parseMemory accepts.
  if (Number(fixed) * bsize > Number.MAX_SAFE_INTEGER) fixed = (Math.floor((b / bsize) * 100) / 100).toFixed(2);
  if (fixed === '1024.00' && bi > 0) return `1${BINARY_DESC[bi - 1]?.[0] ?? bunit}`;
  return `${fixed.replace(/\.?0+$/, '')}${bunit}`;
}

/** ms → `"10s"`, `"1m30s"`, `"500ms"`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  rest -= s * 1000;
  return (h ? `${h}h` : '') + (m ? `${m}m` : '') + (s ? `${s}s` : '') + (rest ? `${rest}ms` : '');
}

// ---------------------------------------------------------------------------
// compareValues: hot (called from constraint evaluation), so it scans the
// strings in place and allocates nothing.

const C0 = 48; // '0'
const C9 = 57; // '9'
const DOT = 46;
const LOWER_V = 118;

function isDigit(c: number): boolean {
  return c >= C0 && c <= C9;
}

/**
 * 0: not version-shaped; 1: plain digits (`10`); 2: dotted or v-prefixed
 * (`1.4`, `1.4.2`, `v2`). Shape: optional `v`, digits, then `.digits` repeats.
 */
function versionShape(s: string): 0 | 1 | 2 {
  const n = s.length;
  let i = 0;
  let marked = false;
  if (n > 0 && s.charCodeAt(0) === LOWER_V) {
    i = 1;
    marked = true;
  }
  for (;;) {
    const start = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === start) return 0;
    if (i === n) return marked ? 2 : 1;
    if (s.charCodeAt(i) !== DOT) return 0;
    marked = true;
    i++;
  }
}

/** Component-wise numeric comparison of two version-shaped strings; missing components are 0. */
function compareVersions(a: string, b: string): number {
  let i = a.length > 0 && a.charCodeAt(0) === LOWER_V ? 1 : 0;
  let j = b.length > 0 && b.charCodeAt(0) === LOWER_V ? 1 : 0;
  while (i < a.length || j < b.length) {
    // Skip leading zeros, then the longer run of digits is the larger number.
    while (i < a.length && a.charCodeAt(i) === C0) i++;
    while (j < b.length && b.charCodeAt(j) === C0) j++;
    let ie = i;
    while (ie < a.length && isDigit(a.charCodeAt(ie))) ie++;
    let je = j;
    while (je < b.length && isDigit(b.charCodeAt(je))) je++;
    const la = ie - i;
    const lb = je - j;
    if (la !== lb) return la < lb ? -1 : 1;
    for (let k = 0; k < la; k++) {
      const ca = a.charCodeAt(i + k);
      const cb = b.charCodeAt(j + k);
      if (ca !== cb) return ca < cb ? -1 : 1;
    }
    i = ie + 1; // past the dot (or past the end)
    j = je + 1;
  }
  return 0;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * A plain number or a quantity (`-3`, `2.5`, `500m`, `512Mi`, `1G`) → its
 * value, or NaN. Units: m (milli), k M G T P, Ki Mi Gi Ti Pi.
 */
function quantityValue(s: string): number {
  const n = s.length;
  let i = 0;
  let neg = false;
  if (n > 0 && s.charCodeAt(0) === 45 /* - */) {
    neg = true;
    i = 1;
  }
  let mantissa = 0;
  let digits = 0;
  let fracDigits = 0;
  let seenDot = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      mantissa = mantissa * 10 + (c - C0);
      digits++;
      if (seenDot) fracDigits++;
    } else if (c === DOT && !seenDot) {
      seenDot = true;
    } else {
      break;
    }
  }
  if (digits === 0) return NaN;
  let mult = 1;
  const rest = n - i;
  if (rest > 0) {
    const u = s.charCodeAt(i);
    if (rest === 1) {
      mult = u === 109 /* m */ ? 1e-3 : u === 107 /* k */ ? 1e3 : u === 77 ? 1e6 : u === 71 ? 1e9 : u === 84 ? 1e12 : u === 80 ? 1e15 : NaN;
    } else if (rest === 2 && s.charCodeAt(i + 1) === 105 /* i */) {
      mult = u === 75 /* K */ ? 2 ** 10 : u === 77 ? 2 ** 20 : u === 71 ? 2 ** 30 : u === 84 ? 2 ** 40 : u === 80 ? 2 ** 50 : NaN;
    } else {
      return NaN;
    }
  }
  // Exact for short inputs (what labels hold); long digit runs are rare and
  // go through Number(), which rounds correctly.
  let v: number;
  if (mantissa <= Number.MAX_SAFE_INTEGER && fracDigits < POW10.length) {
    v = mantissa / (POW10[fracDigits] ?? 1);
  } else {
    v = Number(s.slice(neg ? 1 : 0, i));
  }
  v *= mult;
  if (!Number.isFinite(v)) return NaN;
  return neg ? -v : v;
}

/**
 * Compare two constraint values the way the constraint language does:
 * both numbers/quantities → numerically; both dotted versions (1.4.2) →
 * component-wise numerically; otherwise → string order. Returns <0, 0, >0.
 */
export function compareValues(a: string, b: string): number {
  if (a === b) return 0;
  // Versions first: when both are version-shaped and at least one has a dot
  // or a leading `v`, 1.10 > 1.9 (not 1.1 < 1.9). Plain digits on both sides
  // fall through to the numeric rule.
  const va = versionShape(a);
  if (va !== 0) {
    const vb = versionShape(b);
    if (vb !== 0 && (va === 2 || vb === 2)) return compareVersions(a, b);
  }
  const na = quantityValue(a);
  if (na === na) {
    const nb = quantityValue(b);
    if (nb === nb) return na < nb ? -1 : na > nb ? 1 : 0;
  }
  return a < b ? -1 : 1;
}
