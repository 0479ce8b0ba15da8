// Safe rollouts in the pure core: health-gated batches, automatic rollback to
// the last complete revision, failed revisions never retried, undo/pause/
// resume, canaries and maintenance windows — driven through the same model
// world as the other reconcile tests, with the rollout book fed back each pass.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LABEL, NO_ROLLOUTS, type Action, type RolloutBook, type Service, type UpdatePolicy } from '../../src/api/types.js';
import { parseWindow, windowState, type MaintenanceWindow } from '../../src/api/window.js';
import { applyCommand, reconcile, specHash, type Command } from '../../src/reconcile/index.js';
import { desiredState, fogNode, facts, numRuns, service, World, type ModelNode } from './model.js';

/** Monday 30 Nov 2026, 12:00 UTC: the wall clock at the model's `now` = 1,000,000. */
const WALL0 = Date.UTC(2026, 10, 30, 12, 0);
const HC = { test: ['CMD', 'true'], interval: 1000, timeout: 1000, retries: 1, startPeriod: 0 };

function window(text: string): MaintenanceWindow {
  const r = parseWindow(text);
  if (!r.ok) throw new Error(r.message);
  return r.window;
}

interface Sim {
  w: World;
  book: RolloutBook;
  /** Images whose containers turn unhealthy instead of healthy. */
  bad: Set<string>;
  /** Every action of every pass, with the wall time. */
  log: { wall: number; a: Action; book: RolloutBook }[];
  wall(): number;
}

function sim(replicas: number, update: Partial<UpdatePolicy>, nodes = 3): Sim {
  const ns = new Map<string, ModelNode>();
  for (let i = 0; i < nodes; i++) ns.set(`n${i}`, { name: `n${i}`, reachable: true, since: 0, facts: facts({ cpu: 8000, memory: 8 << 30 }), containers: [] });
  const svc = service('app', { image: 'app:1', replicas, healthcheck: HC, update: { monitor: 2_000, ...update } });
  const w = new World(
    desiredState(
      [...ns.keys()].map((n) => fogNode(n)),
      [svc],
    ),
    ns,
  );
  const s: Sim = { w, book: NO_ROLLOUTS, bad: new Set(), log: [], wall: () => WALL0 + (w.now - 1_000_000) };
  return s;
}

/** One pass: reconcile with the book, apply, keep the book, then time passes (health settles: bad images turn unhealthy). */
function pass(s: Sim, ms = 500): ReturnType<typeof reconcile> {
  const out = reconcile(s.w.desired, s.w.observed(), s.w.history, s.w.now, undefined, { book: s.book, wall: s.wall() });
  for (const a of out.actions) s.log.push({ wall: s.wall(), a, book: s.book });
  s.w.apply(out.actions);
  s.book = out.rollouts!;
  s.w.tick(ms);
  for (const n of s.w.nodes.values()) n.containers = n.containers.map((c) => (s.bad.has(c.image) && c.state === 'running' ? { ...c, health: 'unhealthy' } : c));
  return out;
}

function run(s: Sim, passes: number, ms = 500, each?: (out: ReturnType<typeof reconcile>) => void): void {
  for (let i = 0; i < passes; i++) {
    const out = pass(s, ms);
    each?.(out);
  }
}

function setImage(s: Sim, image: string, update?: Partial<UpdatePolicy>): Service {
  const old = s.w.desired.services[0]!;
  const svc: Service = { ...old, spec: { ...old.spec, image, update: { ...old.spec.update, ...update } } };
  s.w.desired = { ...s.w.desired, services: [svc] };
  return svc;
}

const running = (s: Sim) => s.w.containers().filter(({ c }) => c.labels[LABEL.service] === 'app');
const readyCount = (s: Sim) => running(s).filter(({ c }) => c.state === 'running' && c.health === 'healthy').length;
const hashes = (s: Sim) => new Set(running(s).map(({ c }) => c.labels[LABEL.hash]));
const entry = (s: Sim) => s.book.get('app')!;

function command(s: Sim, cmd: Command): void {
  const r = applyCommand(s.book.get('app'), 'app', cmd, s.w.now);
  if (!r.ok) throw new Error(r.message);
  s.book = new Map(s.book).set('app', r.entry);
}

describe('safe rollouts', () => {
  it('completes a first revision once every replica passed its monitor period', () => {
    const s = sim(3, {});
    run(s, 3);
    expect(entry(s).phase).toBe('Progressing');
    run(s, 6);
    expect(entry(s).phase).toBe('Complete');
    expect(entry(s).revisions).toMatchObject([{ number: 1, outcome: 'complete', source: { file: 'svc.yaml' } }]);
  });

  it('waits for each batch to pass its monitor period before the next (stop-first: never more than parallelism down)', () => {
    const s = sim(3, { monitor: 3_000 });
    run(s, 10);
    const v2 = setImage(s, 'app:2');
    let minReady = 3;
    const creates: number[] = [];
    run(s, 40, 500, (out) => {
      minReady = Math.min(minReady, readyCount(s));
      if (out.actions.some((a) => a.type === 'create')) creates.push(s.w.now);
    });
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v2)]));
    expect(minReady).toBeGreaterThanOrEqual(2);
    // Three batches, each started only after the one before ran healthy for the monitor period.
    expect(creates).toHaveLength(3);
    for (let i = 1; i < creates.length; i++) expect(creates[i]! - creates[i - 1]!).toBeGreaterThanOrEqual(3_000);
  });

  it('rolls a revision whose healthcheck fails back to the last complete one, and never retries it', () => {
    const s = sim(3, {});
    run(s, 10);
    const v1 = s.w.desired.services[0]!;
    s.bad.add('app:2');
    const v2 = setImage(s, 'app:2');
    let minReady = 3;
    run(s, 30, 500, () => (minReady = Math.min(minReady, readyCount(s))));
    expect(entry(s).phase).toBe('RolledBack');
    expect(entry(s).revisions.map((r) => [r.number, r.outcome])).toEqual([
      [1, 'complete'],
      [2, 'failed'],
    ]);
    expect(entry(s).revisions[1]!.failure).toMatchObject({ kind: 'replicas', failed: [{ why: 'unhealthy' }] });
    expect(hashes(s)).toEqual(new Set([specHash(v1)]));
    expect(readyCount(s)).toBe(3);
    expect(minReady).toBeGreaterThanOrEqual(2);
    // The failed revision stays in the manifest: nothing of it is made again.
    const before = s.log.length;
    run(s, 40);
    expect(s.log.slice(before).filter(({ a }) => a.type === 'create' && a.container.labels[LABEL.hash] === specHash(v2))).toEqual([]);
    // A following good commit rolls forward.
    const v3 = setImage(s, 'app:3');
    run(s, 40);
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v3)]));
    expect(entry(s).revisions.map((r) => [r.number, r.outcome])).toEqual([
      [1, 'complete'],
      [2, 'failed'],
      [3, 'complete'],
    ]);
  });

  it('fails a rollout that does not finish within progressDeadline (a create that keeps failing)', () => {
    const s = sim(2, { progressDeadline: 5_000 });
    run(s, 10);
    setImage(s, 'app:nope');
    s.w.failWith = (a) => (a.type === 'create' && a.container.image === 'app:nope' ? { action: a, ok: false, code: 'timeout', message: 'pull timed out', retryable: true } : undefined);
    run(s, 20);
    expect(entry(s).phase).toBe('RolledBack');
    const failure = entry(s).revisions[1]!.failure!;
    expect(['deadline', 'replicas']).toContain(failure.kind);
    expect(readyCount(s)).toBe(2);
  });

  it('with failureAction pause, holds the rollout where it failed', () => {
    const s = sim(3, { failureAction: 'pause' });
    run(s, 10);
    s.bad.add('app:2');
    const v2 = setImage(s, 'app:2');
    run(s, 30);
    expect(entry(s).phase).toBe('Failed');
    // One batch went out and failed; the other two replicas are untouched.
    expect(running(s).filter(({ c }) => c.labels[LABEL.hash] === specHash(v2))).toHaveLength(1);
    expect(readyCount(s)).toBe(2);
  });

  it('undo pins an earlier revision until the manifest changes; pause and resume hold and release batches', () => {
    const s = sim(2, {});
    run(s, 10);
    const v1 = s.w.desired.services[0]!;
    const v2 = setImage(s, 'app:2');
    run(s, 30);
    expect(entry(s).phase).toBe('Complete');
    command(s, { kind: 'undo' });
    run(s, 20);
    expect(entry(s)).toMatchObject({ pinned: 1, phase: 'Complete' });
    expect(hashes(s)).toEqual(new Set([specHash(v1)]));
    // The next commit rolls forward; pause holds it after... before its first batch.
    command(s, { kind: 'pause' });
    const v3 = setImage(s, 'app:3');
    run(s, 5);
    expect(entry(s).pinned).toBeUndefined();
    command(s, { kind: 'pause' });
    const before = s.log.length;
    run(s, 10);
    expect(s.log.slice(before).filter(({ a }) => a.type === 'create')).toEqual([]);
    command(s, { kind: 'resume' });
    run(s, 30);
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v3)]));
    expect(specHash(v2)).not.toBe(specHash(v3));
  });

  it('a canary without autoPromote runs beside the old replicas and waits for resume', () => {
    const s = sim(3, { canary: 1, autoPromote: false });
    run(s, 10);
    const v2 = setImage(s, 'app:2');
    run(s, 20);
    expect(entry(s).phase).toBe('Paused');
    expect(running(s).filter(({ c }) => c.labels[LABEL.hash] === specHash(v2))).toHaveLength(1);
    expect(readyCount(s)).toBe(3);
    command(s, { kind: 'resume' });
    run(s, 40);
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v2)]));
  });

  it('starts a changed spec only inside a maintenance window; crash restarts are not held', () => {
    // Monday 12:00 UTC now; the window opens at 12:30.
    const s = sim(2, { windows: [window('Mon 12:30-13:00 UTC')] });
    run(s, 10);
    const v2 = setImage(s, 'app:2');
    run(s, 10);
    expect(entry(s).phase).toBe('Pending');
    const out = pass(s);
    expect(out.status.services[0]!.conditions.find((c) => c.type === 'Rollout')?.note).toMatchObject({ code: 'WaitingForWindow', opensAt: Date.UTC(2026, 10, 30, 12, 30) });
    s.w.crash(0);
    run(s, 3);
    expect(s.log.some(({ a }) => a.type === 'start' && a.reason === 'Restart')).toBe(true);
    expect(s.log.filter(({ a }) => a.type === 'create' && a.container.labels[LABEL.hash] === specHash(v2))).toEqual([]);
    // 30 minutes later the window is open and the rollout goes.
    run(s, 4, (30 * 60_000) / 4);
    run(s, 30);
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v2)]));
  });
});

describe('safe rollouts and time held on purpose', () => {
  it('a rollout held between batches by a closed window does not run out its progressDeadline', () => {
    const s = sim(3, { monitor: 30_000, progressDeadline: 60_000, windows: [window('Mon 12:00-12:01 UTC')] });
    run(s, 10, 500);
    const v2 = setImage(s, 'app:2');
    run(s, 24, 5_000); // two minutes: the window closes after the second batch
    expect(entry(s)).toMatchObject({ phase: 'Progressing', windowHeld: true });
    expect(hashes(s).size).toBe(2);
    run(s, 6, 86_400_000);
    s.w.tick(WALL0 + 7 * 86_400_000 - s.wall()); // a week later the window opens again
    run(s, 50, 1_000);
    expect(entry(s).phase).toBe('Complete');
    expect(hashes(s)).toEqual(new Set([specHash(v2)]));
  });

  it('a paused rollout does not run out its progressDeadline, and resume starts it afresh', () => {
    const s = sim(2, { monitor: 1_000, progressDeadline: 10_000 });
    run(s, 10);
    setImage(s, 'app:2');
    pass(s);
    command(s, { kind: 'pause' });
    run(s, 30, 1_000);
    expect(entry(s)).toMatchObject({ phase: 'Progressing', paused: true });
    command(s, { kind: 'resume' });
    run(s, 20);
    expect(entry(s).phase).toBe('Complete');
  });
});

describe('safe rollout properties', () => {
  const genUpdate = fc.record({
    parallelism: fc.integer({ min: 1, max: 2 }),
    order: fc.constantFrom('stop-first' as const, 'start-first' as const),
    maxFailureRatio: fc.constantFrom(0, 0.5),
    failureAction: fc.constantFrom('rollback' as const, 'pause' as const),
    monitor: fc.constantFrom(1_000, 2_000),
    windows: fc.constantFrom([], [window('* 12:10-12:20 UTC')], [window('Mon 12:00-12:05 UTC')]),
  });
  // Each step: time passes, a replica crashes, a node goes away or comes back, a new revision (good or bad) is committed.
  const genStep = fc.oneof(
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 200, max: 3_000 }) }),
    fc.record({ kind: fc.constant('crash' as const), k: fc.nat(5) }),
    fc.record({ kind: fc.constant('node' as const), node: fc.integer({ min: 0, max: 2 }), up: fc.boolean() }),
    fc.record({ kind: fc.constant('commit' as const), good: fc.boolean() }),
  );

  it('keeps the floor, ends failed rollouts on the last good revision, never retries a failed one, and starts rollouts only in windows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), genUpdate, fc.array(genStep, { minLength: 1, maxLength: 25 }), (replicas, update, steps) => {
        const s = sim(replicas, update);
        run(s, 12);
        let version = 1;
        const badHashes = new Set<string>();
        const failed = new Map<string, string>(); // hash → the manifest hash when it was marked failed
        for (const st of steps) {
          if (st.kind === 'commit') {
            version++;
            if (!st.good) s.bad.add(`app:${version}`);
            const svc = setImage(s, `app:${version}`);
            if (!st.good) badHashes.add(specHash(svc));
          } else if (st.kind === 'crash') s.w.crash(st.k);
          else if (st.kind === 'node') s.w.setReachable(`n${st.node}`, st.up || st.node === 0);
          const readyBefore = running(s)
            .filter(({ c }) => c.state === 'running' && c.health === 'healthy')
            .map(({ c }) => c);
          const manifest = specHash(s.w.desired.services[0]!);
          const before = s.book;
          const out = pass(s, st.kind === 'tick' ? st.ms : 500);
          const e = s.book.get('app')!;
          // (c) a revision marked failed is never created again while the manifest is unchanged.
          for (const [h, m] of failed) {
            if (m !== manifest) failed.delete(h);
            else expect(out.actions.filter((a) => a.type === 'create' && a.container.labels[LABEL.hash] === h)).toEqual([]);
          }
          for (const r of e.revisions) if (r.outcome === 'failed' && !failed.has(r.hash) && r.hash === manifest) failed.set(r.hash, manifest);
          // (d) no rollout batch starts outside a window while rolling forward.
          const prev = before.get('app');
          const forward = prev !== undefined && prev.target === prev.manifest && prev.phase === 'Progressing' && prev.pinned === undefined;
          if (forward && update.windows.length > 0 && !windowState(update.windows, s.wall() - (st.kind === 'tick' ? st.ms : 500)).open) {
            const batch = out.actions.filter((a) => a.reason === 'RollingUpdate' && !(a.note.code === 'RollingUpdate' && 'step' in a.note && a.note.step === 'retire'));
            expect(batch).toEqual([]);
          }
          // (a) the rollout's own removals never take the slots with a ready replica below the floor (unless already lower).
          const removed = new Set(out.actions.flatMap((a) => (a.type === 'remove' && a.reason === 'RollingUpdate' ? [a.containerId] : [])));
          const slotsReady = (skip: ReadonlySet<string>) => new Set(readyBefore.filter((c) => !skip.has(c.id)).map((c) => c.labels[LABEL.slot])).size;
          const floor = update.order === 'start-first' ? replicas : replicas - update.parallelism;
          expect(slotsReady(removed)).toBeGreaterThanOrEqual(Math.min(slotsReady(new Set()), floor));
        }
        // Faults stop: every node back, time passes (windows open at some point within a day).
        for (const n of s.w.nodes.values()) s.w.setReachable(n.name, true);
        run(s, 30, 1_000);
        run(s, 24, 60 * 60_000);
        run(s, 40, 1_000);
        const e = entry(s);
        // (b) a failed rollout ends with every replica on the last good hash.
        if (e.phase === 'RolledBack') {
          const good = e.revisions.find((r) => r.hash === e.target)!;
          expect(good.outcome).toBe('complete');
          expect(hashes(s)).toEqual(new Set([e.target]));
          expect(readyCount(s)).toBe(replicas);
        }
        if (e.phase === 'Complete') expect(badHashes.has(e.target)).toBe(false);
      }),
      { numRuns: Math.max(1_000, numRuns) },
    );
    // A thousand simulated rollouts take ~40 s alone and over 2 min beside the engine tests on 2 cores: a bound on being stuck, not on speed.
  }, 400_000);
});
