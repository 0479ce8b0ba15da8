// The scheduler: a pipeline of named filters and scorers over fog nodes, with
// structured reasons for every rejection. Pure: no I/O, no clock.

export type { Filter, FilterName, NodeInfo, NodeVerdict, PlacementRequest, Rejection, Resources } from './types.js';
export {
  DEFAULT_FILTERS,
  hostPorts,
  maxPerNode,
  nodeConstraint,
  nodeDevices,
  nodeNameConstraint,
  nodeReachable,
  nodeResources,
  nodeSchedulable,
  nodeSecurity,
  isRelevant,
  runFilters,
  serviceAffinity,
  serviceAntiAffinity,
} from './filters.js';
export { ownReplicas, reservedScore, spreadValue } from './scores.js';
export { ServicePicker, Scheduler, type CheckScope } from './scheduler.js';
export { buildNodeInfos, containerPortKeys } from './nodes.js';
export { effectiveAllow, neverAllowedReason, NOTHING_ALLOWED, refusal, securityRequest } from './security.js';
