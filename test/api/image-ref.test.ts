// The digest a node's image was pulled by, read from its RepoDigests for the
// repository a reference names (the pin's fallback when no registry answers).

import { describe, expect, it } from 'vitest';
import { repoDigest } from '../../src/api/image-ref.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('repoDigest', () => {
  it.each([
    ['127.0.0.1:5000/fog/app:v1', ['127.0.0.1:5000/fog/app@' + D], D],
    ['busybox:1.36', ['busybox@' + D], D],
    ['docker.io/library/busybox', ['busybox@' + D], D],
    ['127.0.0.1:5000/fog/app:v1', ['127.0.0.1:5000/fog/other@' + D], undefined],
    ['fog/busybox:latest', [], undefined],
  ])('%s with %j → %s', (ref, digests, want) => {
    expect(repoDigest({ repoDigests: digests }, ref)).toBe(want);
  });
  it('has nothing for an image no node has', () => {
    expect(repoDigest(undefined, 'fog/app:v1')).toBeUndefined();
  });
});
