// After a burst (a fleet converging, a big rollout) V8 keeps the heap it grew
// to for minutes, though the controller's live heap is a fraction of it. When
// the free part of the heap stays large, one full collection hands the empty
// pages back (RSS drops to near the live heap). Checked every 20 s, at most
// one collection a minute; a steady controller, whose heap does not grow,
// never pays for it. The collection compacts (see below); its pause (tens to
// hundreds of ms at 1,000 nodes, once after a burst) is covered by the
// heartbeat's stall compensation (src/docker/ping.ts).

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const CHECK_MS = 20_000;
const MIN_GAP_MS = 60_000;
/** Free heap above this (and above half the live heap) is handed back. */
const SLACK_BYTES = 24 * 1024 * 1024;

/** `quietFor(ms)`: whether nothing has changed for `ms` (the controller only skipped its passes). */
export function startHeapTrim(quietFor: (ms: number) => boolean = () => true): () => void {
  let gc: (() => void) | undefined;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
  let last = 0;
  const timer = setInterval(() => {
    const { total_heap_size: heapTotal, used_heap_size: heapUsed } = getHeapStatistics();
    const now = performance.now();
    if (heapTotal - heapUsed > Math.max(SLACK_BYTES, heapUsed / 2) && now - last >= MIN_GAP_MS) {
      last = now;
      // Compacting once the burst is over: a plain full collection frees the
      // garbage but keeps the half-empty pages the burst left (at 1,000
      // nodes the old space stayed at ~95 MB for ~52 MB live); moving the
      // live objects together hands those pages back. It costs several times
      // a plain one, so while things still change the collection is plain.
      const compact = quietFor(CHECK_MS);
      if (compact) setFlagsFromString('--compact-on-every-full-gc');
      try {
        gc();
      } finally {
        if (compact) setFlagsFromString('--no-compact-on-every-full-gc');
      }
    }
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
