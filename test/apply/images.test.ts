// A pull's progress stream folded into layers and bytes, and the words
// `describe` makes of it (`Pulling 45% (…)`).
import { describe, expect, it } from 'vitest';
import { track, type Transfer } from '../../src/apply/images.js';
import { transferText } from '../../src/status/text.js';

describe('pull progress', () => {
  it('counts layers and bytes as dockerd reports them', () => {
    const t: Transfer = { node: 'n1', image: 'r/app:2', layers: 0, layersDone: 0, bytes: 0, startedAt: 0 };
    const layers = new Map();
    const feed = (m: object) => track(t, layers, m);
    feed({ status: 'Pulling from r/app', id: '2' });
    feed({ status: 'Pulling fs layer', id: 'a' });
    feed({ status: 'Pulling fs layer', id: 'b' });
    feed({ status: 'Downloading', id: 'a', progressDetail: { current: 500_000, total: 1_000_000 } });
    // b's size is not known yet: percent by layers (none done).
    expect(t).toMatchObject({ layers: 2, layersDone: 0, bytes: 500_000 });
    expect(t.total).toBeUndefined();
    expect(transferText(t)).toBe('Pulling 0% (0/2 layers, 0.5 MB)');
    feed({ status: 'Downloading', id: 'b', progressDetail: { current: 400_000, total: 9_000_000 } });
    expect(transferText(t)).toBe('Pulling 9% (0/2 layers, 0.9 MB of 10.0 MB)');
    feed({ status: 'Download complete', id: 'a' });
    feed({ status: 'Pull complete', id: 'a' });
    feed({ status: 'Downloading', id: 'b', progressDetail: { current: 3_500_000, total: 9_000_000 } });
    expect(transferText(t)).toBe('Pulling 45% (1/2 layers, 4.5 MB of 10.0 MB)');
    feed({ status: 'Pull complete', id: 'b' });
    feed({ status: 'Digest: sha256:00' });
    expect(transferText(t)).toBe('Pulling 100% (2/2 layers, 10.0 MB of 10.0 MB)');
  });

  it('says where a copy comes from and how much has streamed', () => {
    expect(transferText({ from: 'press-2', layers: 0, layersDone: 0, bytes: 12_345_678 })).toBe('Copying from press-2: 12.3 MB');
  });
});
