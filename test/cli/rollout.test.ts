// What `fogctl rollout status` prints and how it exits, from a status document.
import { describe, expect, it } from 'vitest';
import { rolloutProgress } from '../../src/cli/cmd-rollout.js';
import type { RolloutStatus } from '../../src/api/types.js';
import type { ConditionView, ReplicaView, ServiceView, StatusDoc } from '../../src/status/doc.js';

function doc(now: number, svc: Partial<ServiceView> & { rollout: RolloutStatus }): StatusDoc {
  const s: ServiceView = { name: 'press', mode: 'replicated', desired: 3, ready: 3, upToDate: 3, available: 3, specHash: 'h', conditions: [], replicas: [], ...svc };
  return { clock: { now, wall: 0 }, status: { services: [s], nodes: [], events: [] } } as unknown as StatusDoc;
}
const replica = (slot: number, upToDate: boolean, startedAt: number): ReplicaView => ({ slot, node: 'a', state: 'running', health: 'healthy', restarts: 0, upToDate, ready: true, startedAt });
const cond = (reason: string, message: string): ConditionView => ({
  type: 'Rollout',
  status: true,
  reason: reason as ConditionView['reason'],
  message,
  note: { code: 'RolloutUndo', to: 1, hash: 'x' },
});

describe('fogctl rollout status', () => {
  it('shows progress with the replicas in their monitor period, and keeps waiting', () => {
    const ro: RolloutStatus = { phase: 'Progressing', revision: 2, hash: 'b', manifestRevision: 2, monitor: 10_000 };
    const v = rolloutProgress(doc(50_000, { upToDate: 2, ready: 3, rollout: ro, replicas: [replica(0, true, 30_000), replica(1, true, 45_800), replica(2, false, 0)] }), 'press');
    expect(v).toEqual({ done: false, line: 'rollout of revision 2 in progress: 2/3 updated, 3/3 ready, 1 monitoring 4s/10s' });
  });

  it('exits 0 when complete, 1 when rolled back or failed, with the reason', () => {
    const complete = rolloutProgress(doc(0, { rollout: { phase: 'Complete', revision: 3, hash: 'c', manifestRevision: 3, monitor: 0 } }), 'press');
    expect(complete).toEqual({ done: true, code: 0, line: 'service "press" successfully rolled out (revision 3)' });
    const back = rolloutProgress(
      doc(0, { rollout: { phase: 'RolledBack', revision: 1, hash: 'a', manifestRevision: 2, monitor: 0 }, conditions: [cond('RolledBack', 'revision 2 (b) failed')] }),
      'press',
    );
    expect(back).toEqual({ done: true, code: 1, line: 'service "press" rolled back to revision 1: revision 2 (b) failed' });
    const failed = rolloutProgress(doc(0, { rollout: { phase: 'Failed', revision: 1, hash: 'a', manifestRevision: 2, monitor: 0 } }), 'press');
    expect(failed).toMatchObject({ done: true, code: 1 });
  });

  it('says when a rollout waits for a window or is paused, and knows no rollout of an unknown service', () => {
    expect(rolloutProgress(doc(0, { rollout: { phase: 'Pending', revision: 1, hash: 'a', manifestRevision: 2, monitor: 0 } }), 'press')?.line).toMatch(
      /^rollout of revision 2 waiting for a maintenance window/,
    );
    expect(rolloutProgress(doc(0, { upToDate: 1, rollout: { phase: 'Progressing', revision: 2, hash: 'b', manifestRevision: 2, monitor: 0, paused: true } }), 'press')?.line).toMatch(
      /^rollout of revision 2 paused/,
    );
    expect(rolloutProgress(doc(0, { rollout: { phase: 'Complete', revision: 1, hash: 'a', manifestRevision: 1, monitor: 0 } }), 'other')).toBeUndefined();
  });
});
