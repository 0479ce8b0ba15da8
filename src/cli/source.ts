// Where get/describe/plan take the world from: the running controller's
// status API, or (when none runs, or with --direct) one direct look at the
// fleet through the same observe → reconcile path, without applying.

import { DEFAULT_SETTINGS } from '../api/types.js';
import { observeOnce } from '../controller/once.js';
import { fetchStatus, resolveServer } from '../controller/status-client.js';
import type { StatusDoc } from '../status/doc.js';
import { ExitError } from './errors.js';

export interface SourceFlags {
  server?: string;
  desired: string;
  cluster: string;
  direct?: boolean;
}

export async function obtainStatus(flags: SourceFlags): Promise<StatusDoc> {
  if (!flags.direct) {
    const got = await fetchStatus(resolveServer(flags.server));
    if (got.ok) return got.doc;
    if (flags.server !== undefined || process.env.FOG_SERVER !== undefined) throw new ExitError(got.reason, 1);
    process.stderr.write(`note: ${got.reason}; showing the fleet as observed directly now from ${flags.desired}/\n`);
  }
  return observeOnce({ desiredDir: flags.desired, settings: { ...DEFAULT_SETTINGS, cluster: flags.cluster } });
}
