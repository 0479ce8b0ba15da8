// The spread resync: each tick marks the next share of the nodes due, so
// that every node is re-observed once per interval and never all at once.

import { describe, expect, it } from 'vitest';
import { resyncSlice } from '../../src/controller/controller.js';

/** Runs `ticks` ticks over `count` nodes, each covering `share` of a round: how often each node was due, and the rounds completed. */
function run(count: number, share: number, ticks: number): { seen: number[]; rounds: number; largest: number } {
  const seen = new Array<number>(count).fill(0);
  let cursor = 0;
  let rounds = 0;
  let largest = 0;
  for (let t = 0; t < ticks; t++) {
    const s = resyncSlice(count, cursor, share);
    for (const i of s.due) seen[i]!++;
    largest = Math.max(largest, s.due.length);
    cursor = s.cursor;
    rounds += s.rounds;
  }
  return { seen, rounds, largest };
}

describe('resyncSlice', () => {
  it('1,000 nodes, a 30 s interval, 1 s ticks: every node once per 30 ticks, 33 or 34 a tick', () => {
    const { seen, rounds, largest } = run(1_000, 1 / 30, 90);
    expect(seen.every((n) => n === 3)).toBe(true);
    expect(rounds).toBe(3);
    expect(largest).toBeLessThanOrEqual(34);
  });

  it('fewer nodes than ticks in the interval: one node every few ticks, each once per round', () => {
    const { seen, rounds, largest } = run(3, 1 / 10, 30);
    expect(seen).toEqual([3, 3, 3]);
    expect(rounds).toBe(3);
    expect(largest).toBe(1);
  });

  it('a tick as long as the interval covers every node each tick', () => {
    const { seen, rounds } = run(5, 1, 4);
    expect(seen).toEqual([4, 4, 4, 4, 4]);
    expect(rounds).toBe(4);
  });

  it('no nodes: a round per tick (the desired folder is still reloaded every 6th), nothing due', () => {
    expect(resyncSlice(0, 0, 0.1)).toEqual({ due: [], cursor: 0, rounds: 1 });
  });
});
