// One look at the fleet without a running controller: load, observe,
// reconcile, never apply. Used by `fogctl plan` and by `get` when no
// controller answers.

import { pino } from 'pino';
import type { ReconcileSettings } from '../api/types.js';
import { systemClock } from '../runtime/clock.js';
import { Controller } from './controller.js';
import { createEngineFleet } from './engine-fleet.js';
import type { StatusDoc } from '../status/doc.js';

export async function observeOnce(opts: { desiredDir: string; settings: ReconcileSettings; callTimeoutMs?: number }): Promise<StatusDoc> {
  const logger = pino({ level: 'silent' });
  const fleet = createEngineFleet({ clock: systemClock, logger, callTimeoutMs: opts.callTimeoutMs ?? 3_000, cluster: opts.settings.cluster, watchEvents: false });
  const controller = new Controller({ desiredDir: opts.desiredDir, settings: opts.settings, fleet, clock: systemClock, logger, dryRun: true });
  try {
    return await controller.passOnce();
  } finally {
    await fleet.close();
  }
}
