// Pinned digests and platform-aware placement in the pure core: a revision's
// tag is pinned once from what the shell resolved, replicas are created from
// name@digest, the spec hash never moves because of a digest, a tag that moves
// later changes nothing until `rollout restart`, and a node whose platform the
// image's index lacks is not eligible (with the reason in words).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseImageRef, pinnedRef, platformFits } from '../../src/api/image-ref.js';
import { LABEL, NO_ROLLOUTS, type Action, type ImageResolution, type RolloutBook } from '../../src/api/types.js';
import { applyCommand, reconcile, specHash } from '../../src/reconcile/index.js';
import { explainUnschedulable } from '../../src/status/text.js';
import { desiredState, facts, fogNode, numRuns, service, World, type ModelNode } from './model.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const IMAGE = '127.0.0.1:5000/fog/app:v1';

describe('image references', () => {
  it.each([
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', name: 'busybox' }],
    ['busybox:1.36', { registry: 'docker.io', repository: 'library/busybox', name: 'busybox', tag: '1.36' }],
    ['fog/app:v1', { registry: 'docker.io', repository: 'fog/app', name: 'fog/app', tag: 'v1' }],
    ['127.0.0.1:5000/fog/app:v1', { registry: '127.0.0.1:5000', repository: 'fog/app', name: '127.0.0.1:5000/fog/app', tag: 'v1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', name: 'localhost/app' }],
    ['registry.plant:443/line/opc@' + D1, { registry: 'registry.plant:443', repository: 'line/opc', name: 'registry.plant:443/line/opc', digest: D1 }],
    ['r.plant/app:v2@' + D1, { registry: 'r.plant', repository: 'app', name: 'r.plant/app', tag: 'v2', digest: D1 }],
  ])('%s', (ref, want) => {
    expect(parseImageRef(ref)).toEqual(want);
  });

  it('pins by dropping the tag and keeping the registry', () => {
    expect(pinnedRef(IMAGE, D1)).toBe(`127.0.0.1:5000/fog/app@${D1}`);
    expect(pinnedRef('busybox', D1)).toBe(`busybox@${D1}`);
  });

  it.each([
    [['linux/amd64', 'linux/arm64/v8'], 'linux', 'arm64', true],
    [['linux/arm64/v8'], 'linux', 'amd64', false],
    [['linux/arm/v7'], 'linux', 'arm', true],
    [['windows/amd64'], 'linux', 'amd64', false],
  ])('platforms %j on %s/%s: %s', (platforms, os, arch, fits) => {
    expect(platformFits(platforms, os, arch)).toBe(fits);
  });
});

interface Sim {
  w: World;
  book: RolloutBook;
  images: Map<string, ImageResolution>;
  creates: Extract<Action, { type: 'create' }>[];
}

function sim(nodes: { name: string; arch?: string }[], replicas = 2, image = IMAGE): Sim {
  const ns = new Map<string, ModelNode>();
  for (const n of nodes) ns.set(n.name, { name: n.name, reachable: true, since: 0, facts: facts({ arch: n.arch ?? 'amd64' }), containers: [] });
  const svc = service('app', { image, replicas, update: { monitor: 0 } });
  const w = new World(
    desiredState(
      nodes.map((n) => fogNode(n.name)),
      [svc],
    ),
    ns,
  );
  return { w, book: NO_ROLLOUTS, images: new Map(), creates: [] };
}

function pass(s: Sim): ReturnType<typeof reconcile> {
  const out = reconcile(s.w.desired, s.w.observed(), s.w.history, s.w.now, undefined, { book: s.book, wall: 1_800_000_000_000 + s.w.now, images: s.images });
  for (const a of out.actions) if (a.type === 'create') s.creates.push(a);
  s.w.apply(out.actions);
  s.book = out.rollouts!;
  s.w.tick(500);
  return out;
}

const running = (s: Sim) => s.w.containers().filter(({ c }) => c.labels[LABEL.service] === 'app' && c.state === 'running');
const images = (s: Sim) => new Set(running(s).map(({ c }) => c.image));

describe('pinned digests', () => {
  it('creates every replica from name@digest, with the hash of the manifest as written', () => {
    const s = sim([{ name: 'n1' }, { name: 'n2' }]);
    s.images.set(IMAGE, { digest: D1 });
    for (let i = 0; i < 4; i++) pass(s);
    expect(images(s)).toEqual(new Set([`127.0.0.1:5000/fog/app@${D1}`]));
    expect(new Set(running(s).map(({ c }) => c.labels[LABEL.hash]))).toEqual(new Set([specHash(s.w.desired.services[0]!)]));
    const rev = s.book.get('app')!.revisions;
    expect(rev).toHaveLength(1);
    expect(rev[0]).toMatchObject({ digest: D1 });
    expect(pass(s).status.services[0]!.rollout).toMatchObject({ image: `127.0.0.1:5000/fog/app@${D1}` });
  });

  it('a digest resolved after the replicas were made from the tag starts no rollout (the first node that pulled it pins it)', () => {
    const s = sim([{ name: 'n1' }, { name: 'n2' }]);
    for (let i = 0; i < 4; i++) pass(s);
    expect(images(s)).toEqual(new Set([IMAGE]));
    s.images.set(IMAGE, { digest: D1 });
    const made = s.creates.length;
    for (let i = 0; i < 4; i++) expect(pass(s).actions).toEqual([]);
    expect(s.creates.length).toBe(made);
    expect(s.book.get('app')!.revisions[0]!.digest).toBe(D1);
    // A replica made anew from now on (scale-up) runs the pinned digest.
    const svc = s.w.desired.services[0]!;
    s.w.desired = { ...s.w.desired, services: [{ ...svc, spec: { ...svc.spec, replicas: 3 } }] };
    for (let i = 0; i < 3; i++) pass(s);
    expect(s.creates.at(-1)!.container.image).toBe(`127.0.0.1:5000/fog/app@${D1}`);
  });

  it('a tag that moves keeps running replicas and scale-ups on the pinned digest until rollout restart moves them', () => {
    const s = sim([{ name: 'n1' }, { name: 'n2' }]);
    s.images.set(IMAGE, { digest: D1 });
    for (let i = 0; i < 4; i++) pass(s);
    s.images.set(IMAGE, { digest: D2 });
    const svc = s.w.desired.services[0]!;
    s.w.desired = { ...s.w.desired, services: [{ ...svc, spec: { ...svc.spec, replicas: 3 } }] };
    for (let i = 0; i < 4; i++) pass(s);
    expect(images(s)).toEqual(new Set([`127.0.0.1:5000/fog/app@${D1}`]));
    expect(running(s)).toHaveLength(3);

    const r = applyCommand(s.book.get('app'), 'app', { kind: 'restart', at: 1_900_000_000_000 }, s.w.now);
    if (!r.ok) throw new Error(r.message);
    expect(r.note).toEqual({ code: 'RolloutRestart', revision: 1 });
    s.book = new Map(s.book).set('app', r.entry);
    for (let i = 0; i < 20; i++) pass(s);
    expect(images(s)).toEqual(new Set([`127.0.0.1:5000/fog/app@${D2}`]));
    const e = s.book.get('app')!;
    expect(e.revisions.map((x) => [x.number, x.digest, x.outcome])).toEqual([
      [1, D1, 'complete'],
      [2, D2, 'complete'],
    ]);
    expect(e.revisions[1]!.hash).not.toBe(e.revisions[0]!.hash);
  });

  it('an image named by digest is never re-pinned', () => {
    const ref = `127.0.0.1:5000/fog/app@${D1}`;
    const s = sim([{ name: 'n1' }], 1, ref);
    s.images.set(ref, { digest: D2 });
    for (let i = 0; i < 3; i++) pass(s);
    expect(images(s)).toEqual(new Set([ref]));
    expect(s.book.get('app')!.revisions[0]!.digest).toBeUndefined();
  });

  it('property: the spec hash and the actions on pinned replicas never depend on what the tag resolves to later', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(D1, D2, undefined), { minLength: 1, maxLength: 8 }), (seq) => {
        const s = sim([{ name: 'n1' }, { name: 'n2' }]);
        s.images.set(IMAGE, { digest: D1 });
        for (let i = 0; i < 3; i++) pass(s);
        const before = running(s).map(({ c }) => `${c.id} ${c.image} ${c.labels[LABEL.hash]}`);
        for (const d of seq) {
          if (d === undefined) s.images.delete(IMAGE);
          else s.images.set(IMAGE, { digest: d });
          expect(pass(s).actions).toEqual([]);
        }
        expect(running(s).map(({ c }) => `${c.id} ${c.image} ${c.labels[LABEL.hash]}`)).toEqual(before);
        expect(s.book.get('app')!.revisions.map((r) => r.digest)).toEqual([D1]);
      }),
      { numRuns: Math.min(numRuns, 100) },
    );
  });
});

describe('platform-aware placement', () => {
  it.each([
    { name: 'arm64-only index on amd64 nodes', platforms: ['linux/arm64/v8'], nodes: ['amd64', 'amd64'], placed: 0, text: '0/2 nodes eligible: 2 image has no linux/amd64 variant' },
    { name: 'amd64-only index, one arm64 node: both replicas on the amd64 one', platforms: ['linux/amd64'], nodes: ['amd64', 'arm64'], placed: 2, text: undefined },
    { name: 'both variants', platforms: ['linux/amd64', 'linux/arm64'], nodes: ['amd64', 'arm64'], placed: 2, text: undefined },
    { name: 'platforms unknown (resolved from a node)', platforms: undefined, nodes: ['arm64'], placed: 1, text: undefined },
  ])('$name', ({ platforms, nodes, placed, text }) => {
    const s = sim(
      nodes.map((arch, i) => ({ name: `n${i + 1}`, arch })),
      nodes.length,
    );
    s.images.set(IMAGE, { digest: D1, ...(platforms !== undefined ? { platforms } : {}) });
    let out = pass(s);
    for (let i = 0; i < 3; i++) out = pass(s);
    expect(running(s)).toHaveLength(placed);
    for (const { node } of running(s)) expect(platforms === undefined || platforms.some((p) => p.split('/')[1] === node.facts.arch)).toBe(true);
    const u = out.status.services[0]!.unschedulable;
    if (text === undefined) return;
    expect(u).toBeDefined();
    const words = explainUnschedulable(u!, s.w.now);
    expect(words.message).toBe(text);
    expect(words.perNode).toContainEqual({ node: 'n1', filter: 'ImagePlatform', message: 'image has no linux/amd64 variant' });
  });
});
