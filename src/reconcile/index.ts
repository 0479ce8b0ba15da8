// The pure reconcile core: desired + observed + action history + now → actions + status.

export { reconcile, type ReconcileMemo } from './reconcile.js';
export { isReady, type ServiceCtx } from './context.js';
export { placementRequest, repelledBy } from './place.js';
export { specHash, containerShape, canonicalJson, fnv1a64, type ContainerShape } from './hash.js';
export { containerName, containerLabels, containerSpec, envPrefix } from './names.js';
export { restartBackoff, restartDecision, restartStreak, shouldRestart, inCrashLoop, type RestartDecision } from './restart.js';
export { actionBackoff, actionGate, pruneHistory, recordOutcomes } from './backoff.js';
export { planningOrder, endpointEnv, servicePort } from './deps.js';
export { rankKeepers } from './slots.js';
export type { Replica } from './pair.js';
export { applyCommand, findHash, revisionHash, type Command, type CommandResult } from './revisions.js';
export { pinRevisions, restarted, revisionImage } from './pins.js';
export { findImage } from './images.js';
