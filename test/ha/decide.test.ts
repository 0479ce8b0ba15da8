// The pure decisions of src/ha/decide.ts, as tables: may the leader act
// given its last renewal and the monotonic now; is there a conflict given
// what was observed.

import { describe, expect, it } from 'vitest';
import { LABEL, type ObservedContainer, type ObservedNode, type ObservedState } from '../../src/api/types.js';
import { conflictVerdict, forgetOld, leaderMayAct, noteObservation, NO_CONFLICT_MEMORY, renewalExpired, standbyWaitMs, timingFor, timingProblem, type Leadership } from '../../src/ha/decide.js';

const T = timingFor(10_000);

describe('lease timing', () => {
  it('defaults in client-go proportions: renew deadline 2/3, retry 1/5 of the lease', () => {
    expect(T).toEqual({ leaseMs: 10_000, renewDeadlineMs: 6_667, retryMs: 2_000 });
    expect(timingProblem(T)).toBeUndefined();
    expect(timingProblem(timingFor(15_000, 10_000, 2_000))).toBeUndefined();
  });
  it.each([
    [timingFor(1_000), /at least 2s/],
    [timingFor(2_500), /whole seconds/],
    [timingFor(10_000, 10_000), /shorter than --ha-lease/],
    [timingFor(10_000, 2_000, 2_000), /1.2 × --ha-retry-period/],
  ])('refuses %o', (t, msg) => {
    expect(timingProblem(t)).toMatch(msg);
  });
});

describe('leaderMayAct', () => {
  const leader: Leadership = { role: 'leader', rev: 7, leaseId: '1', renewSentAt: 1_000 };
  const standby: Leadership = { role: 'standby', reason: 'x leads' };
  it.each([
    ['a standby never acts', standby, 1_000, false],
    ['the leader right after a renewal', leader, 1_000, true],
    ['the leader just within the renew deadline', leader, 1_000 + T.renewDeadlineMs - 1, true],
    ['the leader at the renew deadline (lease still alive at etcd, but the margin is kept)', leader, 1_000 + T.renewDeadlineMs, false],
    ['the leader past the lease', leader, 1_000 + T.leaseMs + 5, false],
  ])('%s', (_what, l, now, act) => {
    const v = leaderMayAct(l, now, T);
    expect(v.act).toBe(act);
    if (v.act) expect(v.rev).toBe(7);
    expect(renewalExpired(l, now, T)).toBe(l.role === 'leader' && !act);
  });
});

const container = (id: string, labels: Record<string, string>): ObservedContainer => ({
  id,
  name: `c-${id}`,
  labels,
  image: 'img',
  state: 'running',
  health: 'none',
  restartCount: 0,
  resources: {},
  hostPorts: [],
});
const node = (name: string, containers: ObservedContainer[], reachable = true): ObservedNode => ({ name, reachable, containers, since: 0 });
const world = (...nodes: ObservedNode[]): ObservedState => ({ nodes });
const ME = 'gw1/10/2026-11-30T10:00:00.000Z';
const OTHER = 'gw2/20/2026-11-30T10:00:01.000Z';
const ours = (who: string, extra: Record<string, string> = {}) => ({ [LABEL.cluster]: 'plant', [LABEL.service]: 's', [LABEL.controller]: who, ...extra });
const opts = { cluster: 'plant', me: ME, ha: false };

describe('conflicts', () => {
  it('what was there at the first look is the baseline, not a conflict (an earlier controller made it)', () => {
    const m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', [container('a', ours(OTHER))])), opts, 0);
    expect(conflictVerdict(m, 0, 30_000)).toEqual({ conflict: false });
  });

  it('a container of this cluster created since by another identity is a conflict until that one has been silent for the grace period', () => {
    let m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', [])), opts, 0);
    m = noteObservation(m, world(node('n1', [container('b', ours(OTHER))])), opts, 1_000);
    const v = conflictVerdict(m, 1_000, 30_000);
    expect(v).toMatchObject({ conflict: true, until: 31_000, others: [{ identity: OTHER, node: 'n1', container: 'c-b' }] });
    expect(conflictVerdict(m, 30_999, 30_000).conflict).toBe(true);
    expect(conflictVerdict(m, 31_000, 30_000).conflict).toBe(false);
    expect(forgetOld(m, 31_000, 30_000).others.size).toBe(0);
  });

  it.each([
    ['its own containers', ours(ME)],
    ['another cluster', { ...ours(OTHER), [LABEL.cluster]: 'other' }],
    ['a person (no fog.controller label)', { [LABEL.cluster]: 'plant', [LABEL.service]: 's' }],
  ])('no conflict for %s', (_what, labels) => {
    let m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', [])), opts, 0);
    m = noteObservation(m, world(node('n1', [container('b', labels)])), opts, 1_000);
    expect(conflictVerdict(m, 1_000, 30_000).conflict).toBe(false);
  });

  it('with etcd, an earlier leader (container carrying a lease revision) is no conflict; a controller without election is', () => {
    const ha = { ...opts, ha: true };
    let m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', [])), ha, 0);
    m = noteObservation(m, world(node('n1', [container('b', ours(OTHER, { [LABEL.leaseRev]: '3' }))])), ha, 1_000);
    expect(conflictVerdict(m, 1_000, 30_000).conflict).toBe(false);
    m = noteObservation(m, world(node('n1', [container('b', ours(OTHER, { [LABEL.leaseRev]: '3' })), container('c', ours(OTHER))])), ha, 2_000);
    expect(conflictVerdict(m, 2_000, 30_000).conflict).toBe(true);
  });

  it('a node that comes back (or is seen for the first time) is a new baseline', () => {
    let m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', []), node('n2', [], false)), opts, 0);
    m = noteObservation(m, world(node('n1', []), node('n2', [container('x', ours(OTHER))])), opts, 1_000);
    expect(conflictVerdict(m, 1_000, 30_000).conflict).toBe(false);
    m = noteObservation(m, world(node('n1', []), node('n2', [container('x', ours(OTHER))], false)), opts, 2_000);
    expect(m.nodes.get('n2')?.known.has('x')).toBe(true);
    m = noteObservation(m, world(node('n1', []), node('n2', [container('x', ours(OTHER))])), opts, 3_000);
    expect(conflictVerdict(m, 3_000, 30_000).conflict).toBe(false);
  });
  it('a node whose containers array is the one seen before is taken as it was; a new array is looked at again', () => {
    const n1 = node('n1', []);
    let m = noteObservation(NO_CONFLICT_MEMORY, world(n1), opts, 0);
    const seen = m.nodes.get('n1');
    m = noteObservation(m, world(n1), opts, 1_000);
    expect(m.nodes.get('n1')).toBe(seen);
    m = noteObservation(m, world(node('n1', [container('y', ours(OTHER))])), opts, 2_000);
    expect(conflictVerdict(m, 2_000, 30_000).conflict).toBe(true);
  });
});

describe('standbyWaitMs', () => {
  it.each([
    ['no holder: the retry period', undefined, 0, 2_000],
    ['jitter stretches it by up to 20 %', undefined, 0.5, 2_200],
    ['a holder with a long lease left: the retry period', 9, 0, 2_000],
    ['a holder whose lease ends within the period: until then', 1, 0, 1_000],
    ['rounded down to 0 s: 100 ms, never a busy loop', 0, 0, 100],
  ])('%s', (_what, ttl, jitter, want) => {
    expect(standbyWaitMs(T, ttl, jitter)).toBe(want);
  });
});

describe('conflicts: a predecessor that is gone', () => {
  it('a late create of a controller known to be gone (same host, pid no longer exists) is no conflict', () => {
    const o = { ...opts, mayBeAlive: (id: string) => id !== OTHER };
    let m = noteObservation(NO_CONFLICT_MEMORY, world(node('n1', [])), o, 0);
    m = noteObservation(m, world(node('n1', [container('b', ours(OTHER))])), o, 1_000);
    expect(conflictVerdict(m, 1_000, 30_000).conflict).toBe(false);
  });
});
