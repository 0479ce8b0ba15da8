// When the controller asks a registry what a tag points at: once per new
// revision, never for a steady fleet, again for an unpinned revision only
// after a while, and from a node that has the image when the registry cannot
// be asked.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { NO_ROLLOUTS, type RolloutBook } from '../../src/api/types.js';
import { ImagePins } from '../../src/controller/image-pins.js';
import type { Resolved } from '../../src/docker/registry.js';
import { applyCommand, reconcile } from '../../src/reconcile/index.js';
import { desiredState, facts, fogNode, service, World } from '../reconcile/model.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const IMAGE = '127.0.0.1:5000/fog/app:v1';

function setup(answer: () => Resolved, nodeDigest: () => string | undefined = () => undefined) {
  const calls: string[] = [];
  const woken: number[] = [];
  let now = 0;
  const pins = new ImagePins({
    now: () => now,
    logger: pino({ level: 'silent' }),
    resolve: async (image) => {
      calls.push(image);
      return answer();
    },
    nodeDigest: async () => nodeDigest(),
    onResolved: () => woken.push(now),
  });
  const w = new World(desiredState([fogNode('n1')], [service('app', { image: IMAGE })]), new Map([['n1', { name: 'n1', reachable: true, since: 0, facts: facts(), containers: [] }]]));
  let book: RolloutBook = NO_ROLLOUTS;
  const pass = async () => {
    const images = await pins.prepare(w.desired.services, book);
    const out = reconcile(w.desired, w.observed(), w.history, w.now, undefined, { book, wall: 1_800_000_000_000, images });
    w.apply(out.actions);
    book = out.rollouts!;
    w.tick(500);
  };
  return { calls, woken, pass, advance: (ms: number) => (now += ms), book: () => book, setBook: (b: RolloutBook) => (book = b), w };
}

describe('ImagePins', () => {
  it('never looks up on Docker Hub an image named without a registry that a node has', async () => {
    const calls: string[] = [];
    const pins = new ImagePins({
      now: () => 0,
      logger: pino({ level: 'silent' }),
      resolve: async (image) => {
        calls.push(image);
        return { ok: true, resolution: { digest: D1 } };
      },
      nodeDigest: async () => undefined,
      onNodes: (image) => image === 'fog/busybox:latest' || image === 'docker.io/library/nginx:1',
    });
    const svcs = [service('local', { image: 'fog/busybox:latest' }), service('hub', { image: 'docker.io/library/nginx:1' }), service('absent', { image: 'eclipse-mosquitto:2' })];
    await pins.prepare(svcs, NO_ROLLOUTS);
    // Asked: the one that names docker.io, and the one no node has. Not asked: the one the plant has.
    expect(calls.sort()).toEqual(['docker.io/library/nginx:1', 'eclipse-mosquitto:2']);
  });

  it('asks once for a new revision and never again while it is pinned', async () => {
    let digest = D1;
    const s = setup(() => ({ ok: true, resolution: { digest, platforms: ['linux/amd64'] } }));
    for (let i = 0; i < 5; i++) await s.pass();
    expect(s.calls).toEqual([IMAGE]);
    expect(s.book().get('app')!.revisions[0]).toMatchObject({ digest: D1, platforms: ['linux/amd64'] });
    // The tag moves; nothing asks until a restart makes a new revision.
    digest = D2;
    s.advance(60_000);
    for (let i = 0; i < 3; i++) await s.pass();
    expect(s.calls).toHaveLength(1);
    const r = applyCommand(s.book().get('app'), 'app', { kind: 'restart', at: 1_900_000_000_000 }, s.w.now);
    if (!r.ok) throw new Error(r.message);
    s.setBook(new Map(s.book()).set('app', r.entry));
    for (let i = 0; i < 3; i++) await s.pass();
    expect(s.calls).toHaveLength(2);
    expect(
      s
        .book()
        .get('app')!
        .revisions.map((x) => x.digest),
    ).toEqual([D1, D2]);
  });

  it('pins from a node that has the image when the registry cannot be asked', async () => {
    const s = setup(
      () => ({ ok: false, why: 'registry 127.0.0.1:5000 cannot be asked: ECONNREFUSED' }),
      () => D1,
    );
    await s.pass();
    expect(s.book().get('app')!.revisions[0]!.digest).toBe(D1);
    expect(s.book().get('app')!.revisions[0]!.platforms).toBeUndefined();
  });

  it('with neither, rolls out from the tag and looks again (registry, then nodes) only after 10 s', async () => {
    let nodeHas: string | undefined = undefined;
    const s = setup(
      () => ({ ok: false, why: 'down' }),
      () => nodeHas,
    );
    await s.pass();
    await s.pass();
    expect(s.calls).toHaveLength(1);
    expect(s.book().get('app')!.revisions[0]!.digest).toBeUndefined();
    expect(s.w.containers()[0]!.c.image).toBe(IMAGE);
    // The first node pulled it by tag: its RepoDigests pin the revision at the next look, and the running replica stays.
    nodeHas = D1;
    const id = s.w.containers()[0]!.c.id;
    s.advance(9_000);
    await s.pass();
    expect(s.calls).toHaveLength(1);
    // The retry runs beside the pass (a pass never waits for it) and wakes the controller when it found something.
    s.advance(1_000);
    await s.pass();
    expect(s.calls).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 10));
    expect(s.woken).toEqual([10_000]);
    await s.pass();
    expect(s.book().get('app')!.revisions[0]!.digest).toBe(D1);
    await s.pass();
    expect(s.w.containers().map((x) => x.c.id)).toEqual([id]);
  });

  it('a registry slower than the wait does not hold the pass: it answers a later one and wakes the controller', async () => {
    const woken: number[] = [];
    let answer: (r: Resolved) => void = () => {};
    const pins = new ImagePins({
      now: () => 0,
      logger: pino({ level: 'silent' }),
      waitMs: 20,
      // Answers only when the test says so: prepare() must come back without it.
      resolve: () => new Promise<Resolved>((r) => (answer = r)),
      onResolved: () => woken.push(1),
    });
    const svc = service('app', { image: IMAGE });
    expect((await pins.prepare([svc], NO_ROLLOUTS)).size).toBe(0);
    expect(woken).toEqual([]);
    answer({ ok: true, resolution: { digest: D1 } });
    await new Promise((r) => setTimeout(r, 10));
    expect(woken).toEqual([1]);
    expect((await pins.prepare([svc], NO_ROLLOUTS)).get(IMAGE)).toEqual({ digest: D1 });
  });

  it('a registry that did not answer at all is not asked again for 30 s (one failed lookup per image, not one per revision)', async () => {
    let now = 0;
    const calls: string[] = [];
    const pins = new ImagePins({
      now: () => now,
      logger: pino({ level: 'silent' }),
      resolve: async (image) => {
        calls.push(image);
        return { ok: false, unreachable: true, why: 'ENOTFOUND' };
      },
    });
    // Lookups of one pass run side by side (no extra wait); the passes after do not ask it.
    await pins.prepare([service('a', { image: 'r.plant/a:1' }), service('b', { image: 'r.plant/b:1' })], NO_ROLLOUTS);
    expect(calls).toHaveLength(2);
    await pins.prepare([service('c', { image: 'r.plant/c:1' })], NO_ROLLOUTS);
    expect(calls).toHaveLength(2);
    now = 30_000;
    await pins.prepare([service('d', { image: 'r.plant/d:1' })], NO_ROLLOUTS);
    expect(calls).toEqual(['r.plant/a:1', 'r.plant/b:1', 'r.plant/d:1']);
  });
});
