// The controller's clocks. Every time decision (grace periods, back-off,
// rollout delays) uses the monotonic clock, so a jump of the wall clock
// causes no false node loss or restart. The wall clock is only for display.

import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic milliseconds; only differences mean anything. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for humans. */
  wall(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
};
