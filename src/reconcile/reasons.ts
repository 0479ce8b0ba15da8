// Reason codes carried by actions, conditions and events. Stable strings: the
// README documents each, and a test checks that every code used is listed here.

export const REASON = {
  // actions
  Scheduled: 'Scheduled', // create: a vacant slot (or a global node) gets a replica
  NodeLost: 'NodeLost', // create: the slot's node is unreachable beyond the grace period; re-placed
  Rescheduled: 'Rescheduled', // create: the replica was moved off a node that no longer passes its constraints/devices
  Recreate: 'Recreate', // create: replaces a dead container
  RollingUpdate: 'RollingUpdate', // create/remove: spec hash changed; replaced per spec.update
  Start: 'Start', // start: a created container that never ran
  Restart: 'Restart', // start: an exited container whose policy says run, after back-off
  ScaleDown: 'ScaleDown', // remove: slot >= replicas
  Orphaned: 'Orphaned', // remove: its service is no longer desired
  InvalidSlot: 'InvalidSlot', // remove: a managed container without a usable slot label
  Duplicate: 'Duplicate', // remove: a second container for one slot on the same node
  NodeReturned: 'NodeReturned', // remove: a surplus copy after a lost node came back (spec.placement.onNodeReturn)
  Misplaced: 'Misplaced', // remove: its node no longer passes the service's constraints or devices
  Dead: 'Dead', // remove: the container is dead; it is recreated
  // conditions / events only
  Unschedulable: 'Unschedulable',
  BackOff: 'BackOff',
  CrashLoopBackOff: 'CrashLoopBackOff',
  Completed: 'Completed',
  Failed: 'Failed',
  DependencyWait: 'DependencyWait',
  DependencyCycle: 'DependencyCycle',
  RolloutWaiting: 'RolloutWaiting',
  RolloutDelay: 'RolloutDelay',
  NodeUnreachable: 'NodeUnreachable',
  ReplicasReady: 'ReplicasReady',
  ReplicasNotReady: 'ReplicasNotReady',
  RolloutComplete: 'RolloutComplete',
  PolicyRefused: 'PolicyRefused', // condition Refused: a never-allowed setting (docs/security.md); no action at all
} as const;

export type ReasonCode = (typeof REASON)[keyof typeof REASON];
