// The pure reconcile core: desired + observed + now → actions + status.

export { reconcile, isReady, placementRequest, type ReconcileOutput } from './reconcile.js';
export { specHash, containerShape, canonicalJson, fnv1a64, type ContainerShape } from './hash.js';
export { containerName, containerLabels, containerSpec, envPrefix } from './names.js';
export { restartBackoff, restartDecision, shouldRestart, inCrashLoop, type RestartDecision } from './restart.js';
export { planningOrder, endpointEnv, servicePort } from './deps.js';
export { rankKeepers, type Replica, type SlotState } from './replicas.js';
export { REASON, type ReasonCode } from './reasons.js';
