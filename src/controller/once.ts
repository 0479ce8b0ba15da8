// One look at the fleet without a running controller: load, observe,
// reconcile, never apply. Used by `fogctl plan` and by `get` when no
// controller answers.

import { pino } from 'pino';
import type { ReconcileSettings } from '../api/types.js';
import { systemClock } from '../runtime/clock.js';
import { Controller } from './controller.js';
import { createEngineFleet } from './engine-fleet.js';
import { RolloutStore } from './rollout-store.js';
import type { StatusDoc } from '../status/doc.js';

/** `stateDir`: a controller's state directory, whose rollout book (revisions, pins, pauses, windows) is read, never written. */
export async function observeOnce(opts: { desiredDir: string; settings: ReconcileSettings; callTimeoutMs?: number; stateDir?: string }): Promise<StatusDoc> {
  const logger = pino({ level: 'silent' });
  const fleet = createEngineFleet({ clock: systemClock, logger, callTimeoutMs: opts.callTimeoutMs ?? 3_000, cluster: opts.settings.cluster, watchEvents: false });
  const rollouts = opts.stateDir !== undefined ? new RolloutStore(opts.stateDir, logger).load() : undefined;
  const controller = new Controller({ desiredDir: opts.desiredDir, settings: opts.settings, fleet, clock: systemClock, logger, dryRun: true, ...(rollouts !== undefined ? { rollouts } : {}) });
  try {
    return await controller.passOnce();
  } finally {
    await fleet.close();
  }
}
