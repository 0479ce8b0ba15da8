import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fastCheckRuns } from '../support/runs.js';
import { compareValues, formatCpu, formatDuration, formatMemory, parseCpu, parseDuration, parseMemory, type Parsed } from '../../src/api/quantity.js';

const numRuns = fastCheckRuns();

function ok(value: number): Parsed<number> {
  return { ok: true, value };
}

function errorOf(r: Parsed<number>): string {
  if (r.ok) throw new Error(`expected an error, got ${r.value}`);
  return r.error;
}

// A decimal string with exactly `frac` fractional digits for n / 10^frac.
function decimal(n: bigint, frac: number): string {
  if (frac === 0) return n.toString();
  const s = n.toString().padStart(frac + 1, '0');
  return `${s.slice(0, -frac)}.${s.slice(-frac)}`;
}

/** Exact rational a/10^ka * ma < b/10^kb * mb, without floating point. */
function exactLess(a: { n: bigint; k: number; m: bigint }, b: { n: bigint; k: number; m: bigint }): boolean {
  return a.n * a.m * 10n ** BigInt(b.k) < b.n * b.m * 10n ** BigInt(a.k);
}

const MEMORY_UNITS: Record<string, bigint> = {
  '': 1n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
};

/** Memory quantities across all units, small enough to stay below 2^53. */
const memoryQuantity = fc
  .record({ n: fc.bigInt({ min: 0n, max: 5000n }), k: fc.integer({ min: 0, max: 3 }), unit: fc.constantFrom(...Object.keys(MEMORY_UNITS)) })
  .map(({ n, k, unit }) => {
    const kk = unit === '' ? 0 : k; // plain bytes are whole
    return { n, k: kk, m: MEMORY_UNITS[unit] ?? 1n, text: `${decimal(n, kk)}${unit}` };
  })
  .filter((q) => q.n * q.m <= BigInt(Number.MAX_SAFE_INTEGER) * 10n ** BigInt(q.k));

const cpuQuantity = fc
  .record({ n: fc.bigInt({ min: 0n, max: 10n ** 9n }), k: fc.integer({ min: 0, max: 3 }), milli: fc.boolean() })
  .map(({ n, k, milli }) => ({ n, k, m: milli ? 1n : 1000n, text: `${decimal(n, k)}${milli ? 'm' : ''}` }));

const DURATION_UNITS: Record<string, bigint> = { '': 1000n, ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n };
const durationQuantity = fc
  .record({ n: fc.bigInt({ min: 0n, max: 10n ** 6n }), k: fc.integer({ min: 0, max: 3 }), unit: fc.constantFrom(...Object.keys(DURATION_UNITS)) })
  .map(({ n, k, unit }) => ({ n, k, m: DURATION_UNITS[unit] ?? 1n, text: `${decimal(n, k)}${unit}` }));

/** Strings made of the characters the parsers care about, to reach deep paths. */
const quantityAlphabet = fc.string({
  unit: fc.constantFrom('0', '1', '5', '9', '.', 'm', 's', 'h', 'k', 'K', 'M', 'G', 'T', 'P', 'E', 'i', 'B', 'b', '-', '+', 'e', ' ', 'v'),
  maxLength: 40,
});

describe('parseCpu', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [2, 2000],
    [0.5, 500],
    [0.0004, 0],
    [0.0005, 1],
    ['0', 0],
    ['2', 2000],
    ['0.5', 500],
    ['.5', 500],
    ['1.25', 1250],
    ['500m', 500],
    ['1500m', 1500],
    ['0.5m', 1],
    ['007', 7000],
  ])('%j → %i millicores', (input, want) => {
    expect(parseCpu(input)).toEqual(ok(want));
  });

  it.each<[unknown, string]>([
    ['lots', 'must be a CPU quantity like 0.5, 2 or 500m, got "lots"'],
    ['', 'must be a CPU quantity like 0.5, 2 or 500m, got ""'],
    ['-1', 'must be a CPU quantity like 0.5, 2 or 500m, got "-1"'],
    [' 2', 'must be a CPU quantity like 0.5, 2 or 500m, got " 2"'],
    ['2.', 'must be a CPU quantity like 0.5, 2 or 500m, got "2."'],
    ['2M', 'must be a CPU quantity like 0.5, 2 or 500m, got "2M"'],
    ['1e3', 'must be a CPU quantity like 0.5, 2 or 500m, got "1e3"'],
    [-1, 'must be a CPU quantity like 0.5, 2 or 500m, got -1'],
    [NaN, 'must be a CPU quantity like 0.5, 2 or 500m, got NaN'],
    [Infinity, 'must be a CPU quantity like 0.5, 2 or 500m, got Infinity'],
    [null, 'must be a CPU quantity like 0.5, 2 or 500m, got null'],
    [undefined, 'must be a CPU quantity like 0.5, 2 or 500m, got nothing'],
    [true, 'must be a CPU quantity like 0.5, 2 or 500m, got true'],
    [[1], 'must be a CPU quantity like 0.5, 2 or 500m, got a list'],
    [{}, 'must be a CPU quantity like 0.5, 2 or 500m, got an object'],
    [1e15, 'is too large a CPU quantity, got 1000000000000000'],
    ['1'.repeat(20), 'is too large a CPU quantity, got "11111111111111111111"'],
    ['1'.repeat(1025), 'must be at most 1024 characters, got 1025'],
  ])('%j is refused', (input, error) => {
    expect(errorOf(parseCpu(input))).toBe(error);
  });
});

describe('parseMemory', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [1024, 1024],
    ['1000', 1000],
    ['1k', 1000],
    ['512M', 512e6],
    ['2G', 2e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1Ki', 1024],
    ['256Mi', 256 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['0.5Ki', 512],
    ['.5Mi', 2 ** 19],
    ['1Ti', 2 ** 40],
    ['1Pi', 2 ** 50],
    ['0.1k', 100],
    ['1.0001Ki', 1024],
    ['7Pi', 7 * 2 ** 50],
  ])('%j → %i bytes', (input, want) => {
    expect(parseMemory(input)).toEqual(ok(want));
  });

  const hint = 'must be a memory quantity like 512Mi, 1.5Gi or 1000000 (units k M G T P, Ki Mi Gi Ti Pi)';
  it.each<[unknown, string]>([
    ['lots', `${hint}, got "lots"`],
    ['', `${hint}, got ""`],
    ['.', `${hint}, got "."`],
    ['Gi', `${hint}, got "Gi"`],
    ['-1Gi', `${hint}, got "-1Gi"`],
    ['1 Gi', `${hint}, got "1 Gi"`],
    ['1Ei', `${hint}, got "1Ei"`],
    ['1Xi', `${hint}, got "1Xi"`],
    ['512m', 'must be a memory quantity: "m" means milli (as in Kubernetes); write M (10^6) or Mi (2^20), got "512m"'],
    ['512MB', 'must be a memory quantity: unit "MB" is not allowed; write Mi (powers of 1024) or M (powers of 1000), got "512MB"'],
    ['1GiB', 'must be a memory quantity: unit "GiB" is not allowed; write Gi (powers of 1024) or G (powers of 1000), got "1GiB"'],
    ['1K', 'must be a memory quantity: unit "K" is not allowed; write Ki (powers of 1024) or k (powers of 1000), got "1K"'],
    ['1kb', 'must be a memory quantity: unit "kb" is not allowed; write Ki (powers of 1024) or k (powers of 1000), got "1kb"'],
    ['1g', 'must be a memory quantity: unit "g" is not allowed; write Gi (powers of 1024) or G (powers of 1000), got "1g"'],
    ['1.5', 'must be a whole number of bytes, or have a unit like 1.5Gi, got "1.5"'],
    [1.5, 'must be a whole number of bytes, or a string with a unit like 1.5Gi, got 1.5'],
    [-1, `${hint}, got -1`],
    [NaN, `${hint}, got NaN`],
    [Infinity, `${hint}, got Infinity`],
    [2 ** 60, 'is too large a memory quantity, got 1152921504606847000'],
    ['8Pi', 'is too large a memory quantity, got "8Pi"'],
    ['9'.repeat(400), `is too large a memory quantity, got "${'9'.repeat(40)}…"`],
    [null, `${hint}, got null`],
    [Symbol('x'), `${hint}, got a symbol`],
    ['1'.repeat(2000), 'must be at most 1024 characters, got 2000'],
  ])('%j is refused', (input, error) => {
    expect(errorOf(parseMemory(input))).toBe(error);
  });

  it('refuses a bigint', () => {
    expect(errorOf(parseMemory(10n))).toBe(`${hint}, got 10`);
  });
});

describe('parseDuration', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [10, 10_000],
    [0.25, 250],
    ['0', 0],
    ['10', 10_000],
    ['1.5', 1500],
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['1h2m3s4ms', 3_723_004],
    ['0.5ms', 1],
    ['30s1m', 90_000],
  ])('%j → %i ms', (input, want) => {
    expect(parseDuration(input)).toEqual(ok(want));
  });

  const hint = 'must be a duration like 500ms, 10s, 1m30s or 2h (a bare number means seconds)';
  it.each<[unknown, string]>([
    ['', `${hint}, got ""`],
    ['soon', `${hint}, got "soon"`],
    ['10x', `${hint}, got "10x"`],
    ['1d', `${hint}, got "1d"`],
    ['10 s', `${hint}, got "10 s"`],
    ['-1s', `${hint}, got "-1s"`],
    ['1m30', `${hint}, got "1m30"`],
    ['s', `${hint}, got "s"`],
    [-1, `${hint}, got -1`],
    [NaN, `${hint}, got NaN`],
    [{}, `${hint}, got an object`],
    [1e300, 'is too long a duration, got 1e+300'],
    ['9'.repeat(30) + 'h', `is too long a duration, got "${'9'.repeat(30)}h"`],
    ['1s'.repeat(600), 'must be at most 1024 characters, got 1200'],
  ])('%j is refused', (input, error) => {
    expect(errorOf(parseDuration(input))).toBe(error);
  });
});

describe('formatters', () => {
  it.each<[number, string]>([
    [0, '0'],
    [500, '500m'],
    [1000, '1'],
    [1500, '1500m'],
    [2000, '2'],
  ])('formatCpu(%i) = %s', (m, want) => {
    expect(formatCpu(m)).toBe(want);
  });

  it.each<[number, string]>([
    [0, '0'],
    [100, '100'],
    [1000, '1000'],
    [1024, '1Ki'],
    [1536, '1.5Ki'],
    [1500, '1.5k'],
    [512 * 2 ** 20, '512Mi'],
    [2 ** 30, '1Gi'],
    [1.5 * 2 ** 30, '1.5Gi'],
    [1.25 * 2 ** 30, '1.25Gi'],
    [1e9, '1G'],
    [2.5e9, '2.5G'],
    [8_236_212_224, '7.67Gi'],
    [2 ** 30 - 1, '1Gi'],
    [2 ** 50, '1Pi'],
  ])('formatMemory(%i) = %s', (b, want) => {
    expect(formatMemory(b)).toBe(want);
  });

  it.each<[number, string]>([
    [0, '0s'],
    [500, '500ms'],
    [10_000, '10s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [3_723_004, '1h2m3s4ms'],
  ])('formatDuration(%i) = %s', (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });
});

describe('compareValues', () => {
  const sign = (n: number): number => Math.sign(n) || 0;
  it.each<[string, string, number]>([
    ['2', '10', -1],
    ['10', '2', 1],
    ['512Mi', '1Gi', -1],
    ['1Gi', '1024Mi', 0],
    ['1k', '1000', 0],
    ['500m', '1', -1],
    ['-5', '3', -1],
    ['1.4', '1.10', -1],
    ['1.10', '1.9', 1],
    ['1.4', '1.4.0', 0],
    ['1.4.2', '1.4.10', -1],
    ['v1.4', '1.4', 0],
    ['v10', 'v9', 1],
    ['v2', '10', -1],
    ['1.04', '1.4', 0],
    ['2', '1.10', 1],
    ['1.2.3.4.5', '1.2.3.4', 1],
    ['99999999999999999999.1', '99999999999999999998.2', 1],
    ['line1', 'line2', -1],
    ['line10', 'line2', -1],
    ['B', 'a', -1],
    ['', 'a', -1],
    ['abc', 'abc', 0],
    ['1.4-rc1', '1.4', 1],
  ])('compareValues(%j, %j) has sign %i', (a, b, want) => {
    expect(sign(compareValues(a, b))).toBe(want);
  });
});

describe('properties', { timeout: 120_000 }, () => {
  const parsers = [parseCpu, parseMemory, parseDuration];

  it('parsers never throw on arbitrary strings or values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), quantityAlphabet, fc.anything()), (input) => {
        for (const p of parsers) {
          const r = p(input);
          expect(typeof r.ok).toBe('boolean');
          if (r.ok) expect(Number.isSafeInteger(r.value) && r.value >= 0).toBe(true);
          else expect(r.error.length).toBeLessThan(200);
        }
      }),
      { numRuns },
    );
  });

  // Liveness, not speed (speed is npm run bench's): no call may hang. Inputs
  // are capped at 1,024 characters and parsed in linear time, about 0.01–0.2 ms
  // a call here; a parser that backtracks exponentially, or scans the 100,000-
  // and 200,000-character inputs below quadratically once the cap is gone,
  // takes seconds or never returns. 500 ms a call is thousands of times the measured cost, room
  // for a busy two-core machine, and still fails such a parser.
  it('parsers return within 500 ms a call on long and adversarial inputs', () => {
    const BOUND_MS = 500;
    let slowest = { ms: 0, input: '' };
    const call = (p: (s: string) => unknown, s: string) => {
      const t = performance.now();
      p(s);
      const ms = performance.now() - t;
      if (ms > slowest.ms) slowest = { ms, input: s };
    };
    const inputs = ['1'.repeat(1024), '1'.repeat(1023) + 'x', '1.' + '1'.repeat(1020) + 'Gi', '1m'.repeat(512), '1m'.repeat(511) + '1', '.'.repeat(1024), '1'.repeat(100_000), '1s'.repeat(100_000)];
    for (let i = 0; i < 20; i++) for (const s of inputs) for (const p of parsers) call(p, s);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('1', '.', 'm', 's', 'h', 'i', 'G'), minLength: 500, maxLength: 3000 }), (s) => {
        for (const p of parsers) call(p, s);
      }),
      { numRuns: Math.min(numRuns, 200) },
    );
    expect(slowest.ms, `slowest call ${slowest.ms.toFixed(1)} ms, on ${JSON.stringify(slowest.input.slice(0, 40))}… (${slowest.input.length} characters)`).toBeLessThan(BOUND_MS);
  });

  it('memory parsing is exact and monotone across units', () => {
    fc.assert(
      fc.property(memoryQuantity, memoryQuantity, (a, b) => {
        const pa = parseMemory(a.text);
        const pb = parseMemory(b.text);
        expect(pa.ok && pb.ok).toBe(true);
        if (!pa.ok || !pb.ok) return;
        // Within rounding of the exact value (plus 1 for sub-byte fractions).
        const exactA = Number((a.n * a.m) / 10n ** BigInt(a.k));
        expect(Math.abs(pa.value - exactA)).toBeLessThanOrEqual(1);
        if (exactLess(a, b)) expect(pa.value).toBeLessThanOrEqual(pb.value);
        if (exactLess(b, a)) expect(pb.value).toBeLessThanOrEqual(pa.value);
      }),
      { numRuns },
    );
  });

  it('cpu parsing is monotone across units', () => {
    fc.assert(
      fc.property(cpuQuantity, cpuQuantity, (a, b) => {
        const pa = parseCpu(a.text);
        const pb = parseCpu(b.text);
        expect(pa.ok && pb.ok).toBe(true);
        if (!pa.ok || !pb.ok) return;
        if (exactLess(a, b)) expect(pa.value).toBeLessThanOrEqual(pb.value);
        if (exactLess(b, a)) expect(pb.value).toBeLessThanOrEqual(pa.value);
      }),
      { numRuns },
    );
  });

  it('duration parsing is monotone across units, and compound parts add up', () => {
    fc.assert(
      fc.property(durationQuantity, durationQuantity, (a, b) => {
        const pa = parseDuration(a.text);
        const pb = parseDuration(b.text);
        expect(pa.ok && pb.ok).toBe(true);
        if (!pa.ok || !pb.ok) return;
        if (exactLess(a, b)) expect(pa.value).toBeLessThanOrEqual(pb.value);
        if (exactLess(b, a)) expect(pb.value).toBeLessThanOrEqual(pa.value);
        const hasUnit = (t: string) => /[a-z]$/.test(t);
        if (hasUnit(a.text) && hasUnit(b.text)) {
          const both = parseDuration(a.text + b.text);
          expect(both.ok && Math.abs(both.value - (pa.value + pb.value)) <= 1).toBe(true);
        }
      }),
      { numRuns },
    );
  });

  it('format → parse round trips', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (x) => {
        expect(parseCpu(formatCpu(x))).toEqual(ok(x));
        expect(parseDuration(formatDuration(x))).toEqual(ok(x));
        const m = parseMemory(formatMemory(x));
        expect(m.ok).toBe(true);
        if (m.ok) expect(Math.abs(m.value - x)).toBeLessThanOrEqual(x * 0.005 + 1);
      }),
      { numRuns },
    );
  });

  it('formatMemory is exact for exact multiples of a unit', () => {
    const unitsBelowLimit = Object.entries(MEMORY_UNITS)
      .filter(([u]) => u !== '')
      .map(([u, m]) => [u, Number(m)] as const);
    fc.assert(
      fc.property(fc.constantFrom(...unitsBelowLimit), fc.nat({ max: 4000 }), fc.constantFrom(1, 2, 4), ([, m], n, div) => {
        const x = Math.round((n * m) / (m >= 1024 ? div : 1));
        if (x > Number.MAX_SAFE_INTEGER) return;
        expect(parseMemory(formatMemory(x))).toEqual(ok(x));
      }),
      { numRuns },
    );
  });

  const version = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 5 });
  const showVersion = (parts: readonly number[], v: boolean) => (v ? 'v' : '') + parts.join('.');

  it('versions compare component-wise and monotonically', () => {
    fc.assert(
      fc.property(version, fc.nat(), fc.integer({ min: 1, max: 1000 }), fc.boolean(), fc.boolean(), (parts, at, bump, va, vb) => {
        const i = at % parts.length;
        const bigger = parts.slice(0, i + 1).map((p, j) => (j === i ? p + bump : p));
        const a = showVersion(parts.length > 1 ? parts : [...parts, 0], va);
        const b = showVersion(bigger.length > 1 ? bigger : [...bigger, 0], vb);
        expect(compareValues(a, b)).toBeLessThan(0);
        expect(compareValues(b, a)).toBeGreaterThan(0);
        // Trailing zero components change nothing.
        expect(compareValues(`${a}.0.0`, a)).toBe(0);
      }),
      { numRuns },
    );
  });

  it('versions order like their component tuples (a total order)', () => {
    fc.assert(
      fc.property(fc.array(version, { minLength: 2, maxLength: 8 }), (vs) => {
        const strip = (p: readonly number[]) => {
          const q = [...p];
          while (q.length > 1 && q[q.length - 1] === 0) q.pop();
          return q;
        };
        const tuple = (p: readonly number[], q: readonly number[]) => {
          const a = strip(p);
          const b = strip(q);
          for (let i = 0; i < Math.max(a.length, b.length); i++) {
            const d = (a[i] ?? 0) - (b[i] ?? 0);
            if (d !== 0) return Math.sign(d);
          }
          return 0;
        };
        for (const p of vs) for (const q of vs) expect(Math.sign(compareValues(`${p.join('.')}.0`, `${q.join('.')}.0`)) || 0).toBe(tuple(p, q));
      }),
      { numRuns },
    );
  });

  const value = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    quantityAlphabet,
    version.map((p) => p.join('.')),
    memoryQuantity.map((q) => q.text),
    fc.constantFrom('line1', 'line2', 'v1', 'v1.2', '1.4', '1.10', '-1', '0'),
  );

  it('compareValues is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        expect(compareValues(a, a)).toBe(0);
        expect(Math.sign(compareValues(a, b)) || 0).toBe(-Math.sign(compareValues(b, a)) || 0);
      }),
      { numRuns },
    );
  });

  it('compareValues is transitive among numbers, among versions and among words', () => {
    const classes = [memoryQuantity.map((q) => q.text), version.map((p) => `${p.join('.')}.0`), fc.string({ unit: fc.constantFrom('a', 'b', 'z', 'A', '_'), maxLength: 6 })];
    for (const cls of classes) {
      fc.assert(
        fc.property(cls, cls, cls, (a, b, c) => {
          if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0) expect(compareValues(a, c)).toBeLessThanOrEqual(0);
        }),
        { numRuns },
      );
    }
  });
});
