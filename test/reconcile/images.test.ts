// Images before stops, in the pure core: a stop-first rollout pulls the new
// image on the node first and stops the old replica only once the image is
// there; peer copies (pull: never, --image-source peers, a failed pull) pick
// a source that has the image, within the copy limits. Driven through the
// model world, whose engines refuse a create without its image.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LABEL, type Action, type ObservedImage, type ReconcileSettings } from '../../src/api/types.js';
import { reconcile } from '../../src/reconcile/index.js';
import { normaliseRef } from '../../src/api/image-ref.js';
import { findImage, ImagePlanner } from '../../src/reconcile/images.js';
import { desiredState, facts, fogNode, numRuns, service, SETTINGS, World, type ModelNode, type NodeOpts } from './model.js';

const OLD = 'registry.local/app:1';
const NEW = 'registry.local/app:2';

interface Setup {
  nodes: { name: string; images: string[]; pull?: NodeOpts['pull'] }[];
  replicas?: number;
  parallelism?: number;
  order?: 'stop-first' | 'start-first';
  settings?: Partial<ReconcileSettings>;
  mode?: 'replicated' | 'global';
}

/** A service running OLD on every node (one replica per node), then the manifest moves to NEW. */
function world(s: Setup): World {
  const ns = new Map<string, ModelNode>();
  for (const n of s.nodes) ns.set(n.name, { name: n.name, reachable: true, since: 0, facts: facts({ cpu: 8000, memory: 8 << 30 }), containers: [], images: [...n.images] });
  const replicas = s.replicas ?? s.nodes.length;
  const spec = {
    image: OLD,
    ...(s.mode === 'global' ? { mode: 'global' as const } : { replicas }),
    placement: { maxPerNode: 1 },
    update: { parallelism: s.parallelism ?? 1, order: s.order ?? 'stop-first' },
  };
  const w = new World(
    desiredState(
      s.nodes.map((n) => fogNode(n.name, n.pull !== undefined ? { pull: n.pull } : {})),
      [service('app', spec)],
      { ...SETTINGS, ...s.settings },
    ),
    ns,
  );
  for (let i = 0; i < 6; i++) step(w);
  expect(w.containers().filter(({ c }) => c.state === 'running')).toHaveLength(s.mode === 'global' ? s.nodes.length : replicas);
  const svc = w.desired.services[0]!;
  w.desired = { ...w.desired, services: [{ ...svc, spec: { ...svc.spec, image: NEW } }] };
  return w;
}

function step(w: World, fail?: (a: Action) => boolean, ms = 500): readonly Action[] {
  const out = reconcile(w.desired, w.observed(), w.history, w.now);
  w.failWith = fail && ((a) => (fail(a) ? { action: a, ok: false, code: 'image-pull-failed', message: 'dial tcp 10.0.0.1:5000: connect: no route to host', retryable: true } : undefined));
  w.apply(out.actions);
  w.tick(ms);
  return out.actions;
}

const brief = (a: Action) => (a.type === 'copy' ? `copy ${a.from}->${a.node}` : a.type === 'pull' ? `pull ${a.node}` : `${a.type} ${a.node}`);
const onNew = (w: World) => w.containers().filter(({ c }) => c.image === NEW && c.state === 'running').length;

describe('pull before stop', () => {
  it.each([
    // [case, setup, first pass, second pass]
    ['the new image is missing: pull first, nothing stopped', { nodes: [{ name: 'n1', images: [OLD] }] }, ['pull n1'], ['remove n1', 'create n1']],
    ['the new image is there already: replaced at once', { nodes: [{ name: 'n1', images: [OLD, NEW] }] }, ['remove n1', 'create n1'], []],
    [
      'parallelism 1 on 3 nodes: the first batch pulls, the waiting slots fetch on their nodes meanwhile',
      { nodes: ['n1', 'n2', 'n3'].map((name) => ({ name, images: [OLD] })) },
      ['pull n1', 'pull n2', 'pull n3'],
      ['remove n1', 'create n1'],
    ],
    [
      'pull: never, a peer has it: copied from the peer first',
      {
        nodes: [
          { name: 'n1', images: [OLD], pull: 'never' as const },
          { name: 'n2', images: [OLD, NEW] },
        ],
        replicas: 1,
      },
      ['copy n2->n1'],
      ['remove n1', 'create n1'],
    ],
  ])('%s', (_case, setup, first, second) => {
    const w = world(setup);
    expect(step(w).map(brief)).toEqual(first);
    expect(step(w).map(brief)).toEqual(second);
  });

  it('shows the wait as PullingImage while the old replica keeps running', () => {
    const w = world({ nodes: [{ name: 'n1', images: [OLD] }] });
    const out = reconcile(w.desired, w.observed(), w.history, w.now);
    const cond = out.status.services[0]!.conditions.find((c) => c.type === 'Progressing')!;
    expect(cond.note).toEqual({ code: 'PullingImage', slots: [{ slot: 0, node: 'n1', image: NEW }] });
    expect(out.actions.some((a) => a.type === 'remove')).toBe(false);
  });

  it('a failed pull backs off (old replica kept) and is retried after the wait', () => {
    const w = world({ nodes: [{ name: 'n1', images: [OLD] }] });
    expect(step(w, (a) => a.type === 'pull', 50).map(brief)).toEqual(['pull n1']);
    // Within the back-off (the model's base is 100 ms): nothing, and the old replica still runs.
    const held = reconcile(w.desired, w.observed(), w.history, w.now);
    expect(held.actions).toEqual([]);
    expect(held.status.services[0]!.backoffs?.[0]).toMatchObject({ code: 'ActionBackOff', action: 'pull', failure: 'image-pull-failed' });
    expect(held.requeueAt).toBeGreaterThan(w.now);
    expect(held.status.services[0]!.ready).toBe(1);
    w.tick(60);
    expect(step(w).map(brief)).toEqual(['pull n1']);
    expect(step(w).map(brief)).toEqual(['remove n1', 'create n1']);
  });

  it('a node whose pull failed gets the image from a peer that has it', () => {
    const w = world({
      nodes: [
        { name: 'n1', images: [OLD] },
        { name: 'n2', images: [OLD, NEW] },
      ],
      replicas: 1,
    });
    // The replica is on n1 (first by name); its pull fails: the registry is not reachable from it.
    expect(step(w, (a) => a.type === 'pull').map(brief)).toEqual(['pull n1']);
    expect(step(w).map(brief)).toEqual(['copy n2->n1']);
  });

  it('a pull: never node with no peer holding the image says so and keeps its replica', () => {
    const w = world({ nodes: [{ name: 'n1', images: [OLD], pull: 'never' }] });
    const out = reconcile(w.desired, w.observed(), w.history, w.now);
    expect(out.actions).toEqual([]);
    expect(out.status.services[0]!.backoffs?.[0]).toEqual({ code: 'ImageUnavailable', image: NEW, nodes: ['n1'] });
    expect(out.status.services[0]!.ready).toBe(1);
  });

  it('with --image-source peers, one node pulls and the others copy from it (the uplink carries the image once)', () => {
    const w = world({ nodes: ['n1', 'n2', 'n3', 'n4'].map((name) => ({ name, images: [OLD] })), parallelism: 4, settings: { imageSource: 'peers' } });
    const all: string[] = [];
    for (let i = 0; i < 10; i++) all.push(...step(w).map(brief));
    expect(all.filter((a) => a.startsWith('pull'))).toEqual(['pull n1']);
    expect(all.filter((a) => a.startsWith('copy')).map((a) => a.slice(a.indexOf('>') + 1))).toEqual(['n2', 'n3', 'n4']);
    expect(onNew(w)).toBe(4);
  });

  it('without it, every node pulls for itself', () => {
    const w = world({ nodes: ['n1', 'n2', 'n3'].map((name) => ({ name, images: [OLD] })), parallelism: 3 });
    expect(step(w).map(brief)).toEqual(['pull n1', 'pull n2', 'pull n3']);
  });

  it('copies: at most one into a node, at most two out of a source, per pass', () => {
    const w = world({
      nodes: [{ name: 'src', images: [OLD, NEW] }, ...['a', 'b', 'c', 'd'].map((name) => ({ name, images: [OLD], pull: 'never' as const }))],
      replicas: 4,
      parallelism: 4,
      mode: 'global',
    });
    const first = step(w).map(brief);
    expect(first.filter((a) => a.startsWith('copy'))).toEqual(['copy src->a', 'copy src->b']);
  });
});

describe('a pinned digest and a copy', () => {
  it('a node that got a digest-pinned image by load (no repo digest) has it by id, and creates from the id', () => {
    const ref = 'r.local/app@sha256:beef';
    const pulled: ObservedImage = { id: 'sha256:cafe', repoTags: ['r.local/app:2'], repoDigests: [ref], size: 1 };
    const loaded: ObservedImage = { id: 'sha256:cafe', repoTags: ['r.local/app:2'], repoDigests: [], size: 1 };
    const desired = desiredState([fogNode('a'), fogNode('b', { pull: 'never' })], []);
    const observed = {
      nodes: [
        { name: 'a', reachable: true, since: 0, containers: [], images: [pulled] },
        { name: 'b', reachable: true, since: 0, containers: [], images: [loaded] },
      ],
    };
    const need = new ImagePlanner(desired, observed).need(new Map(), desired.settings, 0, { service: 's', slot: 0, global: false, node: 'b', image: ref, specHash: 'h' });
    expect(need).toEqual({ ready: true, as: 'sha256:cafe' });
    // A node without it gets a copy exported by the source's tag (a tar saved by digest would carry no name).
    const bare = { ...observed, nodes: [observed.nodes[0]!, { ...observed.nodes[1]!, images: [] }] };
    const copy = new ImagePlanner(desired, bare).need(new Map(), desired.settings, 0, { service: 's', slot: 0, global: false, node: 'b', image: ref, specHash: 'h' });
    expect(copy).toMatchObject({ ready: false, action: { type: 'copy', from: 'a', image: ref, exportAs: 'r.local/app:2' } });
  });
});

describe('image names', () => {
  const img = (tags: string[], digests: string[] = [], id = 'sha256:aa'): ObservedImage => ({ id, repoTags: tags, repoDigests: digests, size: 1 });
  it.each([
    ['busybox', 'busybox:latest'],
    ['docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest'],
    ['127.0.0.1:5000/app:2', '127.0.0.1:5000/app:2'],
  ])('%s is %s', (ref, norm) => expect(normaliseRef(ref)).toBe(norm));

  it('finds an image by tag, by digest and by id', () => {
    const list = [img(['127.0.0.1:5000/app:2'], ['127.0.0.1:5000/app@sha256:beef'], 'sha256:cafe')];
    expect(findImage(list, '127.0.0.1:5000/app:2')).toBe(list[0]);
    expect(findImage(list, '127.0.0.1:5000/app@sha256:beef')).toBe(list[0]);
    expect(findImage(list, 'sha256:cafe')).toBe(list[0]);
    expect(findImage(list, '127.0.0.1:5000/app:3')).toBeUndefined();
    expect(findImage(list, '127.0.0.1:5000/other@sha256:beef')).toBeUndefined();
  });
});

describe('property', () => {
  it('no replica is stopped on a node lacking its replacement image, and every rollout finishes', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 4 }),
          never: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
          hasNew: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
          parallelism: fc.integer({ min: 1, max: 3 }),
          order: fc.constantFrom('stop-first' as const, 'start-first' as const),
          peers: fc.boolean(),
          failPulls: fc.integer({ min: 0, max: 3 }),
        }),
        (p) => {
          const nodes = Array.from({ length: p.n }, (_, i) => ({
            name: `n${i}`,
            images: p.hasNew[i] ? [OLD, NEW] : [OLD],
            ...(p.never[i] ? { pull: 'never' as const } : {}),
          }));
          // Some node must be able to get the image at all.
          if (nodes.every((n) => n.pull === 'never' && !n.images.includes(NEW))) nodes[0] = { name: 'n0', images: [OLD] };
          const w = world({ nodes, parallelism: p.parallelism, order: p.order, ...(p.peers ? { settings: { imageSource: 'peers' } } : {}) });
          let failures = p.failPulls;
          for (let i = 0; i < 24; i++) {
            const before = new Map([...w.nodes.values()].map((n) => [n.name, [...(n.images ?? [])]]));
            const out = reconcile(w.desired, w.observed(), w.history, w.now);
            for (const a of out.actions) {
              if (a.type !== 'remove') continue;
              // The replacement of a removed old replica is created in the same pass, on a node that had the image before the pass.
              const made = out.actions.find((x) => x.type === 'create' && x.slot === a.slot);
              if (made !== undefined && made.type === 'create') expect(before.get(made.node)).toContain(NEW);
            }
            w.failWith = (a) => (a.type === 'pull' && failures-- > 0 ? { action: a, ok: false, code: 'image-pull-failed', message: 'unreachable', retryable: true } : undefined);
            w.apply(out.actions);
            w.tick(1_100);
          }
          expect(onNew(w)).toBe(p.n);
          expect(w.containers().filter(({ c }) => c.labels[LABEL.service] === 'app')).toHaveLength(p.n);
        },
      ),
      { numRuns: Math.max(10, Math.floor(numRuns / 4)) },
    );
  });
});
