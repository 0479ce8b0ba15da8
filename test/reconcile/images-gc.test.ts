// Image GC, the decision: table tests on one node's images and containers
// against the rollout book.
import { describe, expect, it } from 'vitest';
import type { Revision, RevisionOutcome, RolloutBook, ServiceRollout } from '../../src/api/types.js';
import { imageRefForms } from '../../src/api/image-ref.js';
import { planImageGc, type ImageUser, type NodeImage } from '../../src/reconcile/images-gc.js';
import { service } from './model.js';

function rev(number: number, image: string, outcome: RevisionOutcome = 'complete'): Revision {
  return { number, hash: `h${number}`, shape: { ...service('x').spec, image }, created: number, outcome };
}

function entry(service: string, revisions: Revision[], target = revisions.at(-1)!.hash, manifest = target): ServiceRollout {
  return { service, revisions, manifest, target, phase: 'Complete' };
}

const img = (id: string, tags: string[], digests: string[] = [], size = 1000): NodeImage => ({ id: `sha256:${id}`, repoTags: tags, repoDigests: digests, size });

/** v1 → v2 → v3 of `app`, all complete, running v3. */
const rolled: RolloutBook = new Map([['app', entry('app', [rev(1, 'fog/app:v1'), rev(2, 'fog/app:v2'), rev(3, 'fog/app:v3')])]]);
const v3running: ImageUser[] = [{ image: 'fog/app:v3', imageId: 'sha256:c3' }];

function plan(images: NodeImage[], book: RolloutBook = rolled, containers: ImageUser[] = v3running) {
  const p = planImageGc({ images, containers, book, services: [] });
  return { remove: p.remove.map((d) => d.image), keep: Object.fromEntries(p.keep.map((k) => [k.image, k.why])) };
}

describe('image GC choice', () => {
  it('removes revisions older than the previous one, keeps the current and the previous', () => {
    const p = plan([img('c1', ['fog/app:v1']), img('c2', ['fog/app:v2']), img('c3', ['fog/app:v3'])]);
    expect(p.remove).toEqual(['fog/app:v1']);
    expect(p.keep).toEqual({ 'fog/app:v2': 'previous', 'fog/app:v3': 'in-use' });
  });

  it('keeps the current revision when no container uses it (yet)', () => {
    expect(plan([img('c3', ['fog/app:v3'])], rolled, []).keep).toEqual({ 'fog/app:v3': 'current' });
  });

  it('the previous revision is the one undo goes to: the newest complete one, not a failed one', () => {
    const book: RolloutBook = new Map([['app', entry('app', [rev(1, 'fog/app:v1'), rev(2, 'fog/app:v2', 'failed'), rev(3, 'fog/app:v3')])]]);
    const p = plan([img('c1', ['fog/app:v1']), img('c2', ['fog/app:v2'])], book);
    expect(p.keep).toEqual({ 'fog/app:v1': 'previous' });
    expect(p.remove).toEqual(['fog/app:v2']);
  });

  it('after a rollback keeps the running revision and the manifest one', () => {
    const book: RolloutBook = new Map([['app', entry('app', [rev(1, 'fog/app:v1'), rev(2, 'fog/app:v2', 'failed')], 'h1', 'h2')]]);
    expect(plan([img('c1', ['fog/app:v1']), img('c2', ['fog/app:v2'])], book, []).keep).toEqual({ 'fog/app:v1': 'current', 'fog/app:v2': 'manifest' });
  });

  it('never touches a foreign image, nor one of ours that someone tagged too', () => {
    const p = plan([img('f', ['busybox:latest']), img('c1', ['fog/app:v1', 'mine:keep']), img('d', [], ['<none>@<none>'])]);
    expect(p.remove).toEqual([]);
    expect(p.keep).toEqual({ 'busybox:latest': 'not-ours', 'fog/app:v1': 'not-ours', 'sha256:d': 'not-ours' });
  });

  it('never removes an image in use, by any container (stopped, foreign), by tag or by id', () => {
    const users: ImageUser[] = [{ image: 'fog/app:v1' }, { image: 'sha256:c0' }, { image: 'x', imageId: 'sha256:cz' }];
    const p = plan(
      [img('c1', ['fog/app:v1']), img('c0', ['fog/app:v0']), img('cz', ['fog/app:vz'])],
      new Map([['app', entry('app', [rev(1, 'fog/app:v0'), rev(2, 'fog/app:v1'), rev(3, 'fog/app:vz'), rev(4, 'fog/app:v4')])]]),
      users,
    );
    expect(p.remove).toEqual([]);
    expect(Object.values(p.keep)).toEqual(['in-use', 'in-use', 'in-use']);
  });

  it("keeps every service's manifest image, also one with no revision yet", () => {
    const p = planImageGc({ images: [img('c1', ['fog/app:v1'])], containers: [], book: rolled, services: [service('other', { image: 'fog/app:v1' })] });
    expect(p.remove).toEqual([]);
    expect(p.keep[0]).toMatchObject({ why: 'manifest', service: 'other' });
  });

  it('matches Docker Hub names and digests the way the engine lists them', () => {
    expect(imageRefForms('docker.io/library/busybox')).toEqual(['busybox:latest']);
    expect(imageRefForms('reg:5000/fog/app:v1@sha256:ab')).toEqual(['reg:5000/fog/app:v1', 'reg:5000/fog/app@sha256:ab']);
    expect(imageRefForms('reg:5000/fog/app')).toEqual(['reg:5000/fog/app:latest']);
    const book: RolloutBook = new Map([['app', entry('app', [rev(1, 'reg:5000/fog/app@sha256:aa'), rev(2, 'reg:5000/fog/app@sha256:bb'), rev(3, 'reg:5000/fog/app@sha256:cc')])]]);
    const p = plan([img('a', [], ['reg:5000/fog/app@sha256:aa']), img('b', [], ['reg:5000/fog/app@sha256:bb'])], book, []);
    expect(p.remove).toEqual(['reg:5000/fog/app@sha256:aa']);
  });

  it("counts a revision's pinned digest as ours (replicas pinned to repo@digest pull untagged images)", () => {
    const pinned = (n: number, d: string): Revision => ({ ...rev(n, 'reg:5000/fog/app:stable'), digest: `sha256:${d}` });
    const book: RolloutBook = new Map([['app', entry('app', [pinned(1, 'a1'), pinned(2, 'b2'), pinned(3, 'c3')])]]);
    const p = plan([img('a', [], ['reg:5000/fog/app@sha256:a1']), img('b', [], ['reg:5000/fog/app@sha256:b2']), img('c', [], ['reg:5000/fog/app@sha256:c3'])], book, []);
    expect(p.remove).toEqual(['reg:5000/fog/app@sha256:a1']);
    expect(p.keep).toEqual({ 'reg:5000/fog/app@sha256:b2': 'previous', 'reg:5000/fog/app@sha256:c3': 'current' });
  });

  it('lists an image with several tags of ours with all of them (each is untagged in turn)', () => {
    const book: RolloutBook = new Map([['app', entry('app', [rev(1, 'fog/app:v1'), rev(2, 'fog/app:one'), rev(3, 'fog/app:v2'), rev(4, 'fog/app:v3')])]]);
    const p = planImageGc({ images: [img('c1', ['fog/app:v1', 'fog/app:one'])], containers: [], book, services: [] });
    expect(p.remove).toEqual([{ id: 'sha256:c1', image: 'fog/app:v1', tags: ['fog/app:v1', 'fog/app:one'], size: 1000 }]);
  });
});
