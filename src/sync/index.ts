// GitOps: keep the desired folder equal to a git ref, safely (see docs/gitops.md).

export { GitSync, SyncSetupError, exitCodeOf, type GitSyncOptions, type SyncOutcome } from './git-sync.js';
export { judgeRevision, backoffDelay, DEFAULT_POLICY, type GatePolicy, type HoldReason, type Verdict, type Candidate } from './gate.js';
export { formatSyncStatus, readSyncStatus, asSyncStatus, type SyncStatus, type Revision, type HeldRevision } from './status.js';
export { layoutOf, normalisePath, type SyncLayout } from './layout.js';
export { redactUrl } from './redact.js';
