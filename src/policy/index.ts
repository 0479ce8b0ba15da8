// Security policy: the controller-level allowances and secret pattern, the
// capability names, and what on the nodes is not ours. Decisions made during
// placement live in src/schedule/policy.ts (the pure core may not import this folder).

export { addPolicyOptions, DEFAULT_POLICY, parsePolicyFlags, type PolicyFlags, type PolicyParse } from './policy.js';
export { CAPABILITIES, capabilitySet, parseCapability } from './capabilities.js';
export { unmanagedContainers } from './ownership.js';
export { effectiveAllow, neverAllowedReason, refusal, securityRequest, NOTHING_ALLOWED } from '../schedule/policy.js';
