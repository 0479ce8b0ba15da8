import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNS, fastCheckRuns, parseRuns } from './runs.js';

describe('FAST_CHECK_RUNS parsing', () => {
  it('takes a positive whole number as given', () => {
    expect(parseRuns('1')).toBe(1);
    expect(parseRuns('20000')).toBe(20_000);
    expect(parseRuns(' 50 \n')).toBe(50);
    expect(parseRuns('007')).toBe(7);
  });

  it('falls back to 1000 when unset, empty or not a positive whole number', () => {
    expect(DEFAULT_RUNS).toBe(1000);
    for (const bad of [undefined, '', '   ', 'abc', '0', '00', '-5', '1.5', '1e3', '0x10', '20k', '1_000', 'Infinity', 'NaN', '9'.repeat(20)]) {
      expect(parseRuns(bad), JSON.stringify(bad)).toBe(1000);
    }
    expect(parseRuns('nope', 7)).toBe(7);
  });

  it('reads the variable from the environment given', () => {
    expect(fastCheckRuns({ FAST_CHECK_RUNS: '250' })).toBe(250);
    expect(fastCheckRuns({})).toBe(1000);
    expect(fastCheckRuns({ FAST_CHECK_RUNS: '' })).toBe(1000);
    expect(fastCheckRuns({ FAST_CHECK_RUNS: 'twenty' })).toBe(1000);
  });
});
