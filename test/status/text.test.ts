// The status texts' own calendar: ISO 8601 in UTC without a Date in src/status.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoUtc, wallTime } from '../../src/status/text.js';
import { numRuns } from '../reconcile/model.js';

describe('isoUtc', () => {
  it('writes what toISOString writes, for any instant from 1970 to 2400', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2400, 0, 1) }), (ms) => {
        expect(isoUtc(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns },
    );
  });

  it('handles the edges: the epoch, leap days, the turn of a century', () => {
    for (const t of [0, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2000, 1, 29), Date.UTC(2100, 2, 1), Date.UTC(2026, 11, 31, 23, 59)]) expect(isoUtc(t)).toBe(new Date(t).toISOString());
    expect(wallTime(Date.UTC(2026, 10, 30, 22, 0, 30))).toBe('2026-11-30 22:00 UTC');
  });
});
