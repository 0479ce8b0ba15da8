// --disk-pressure and --image-gc: a percentage, a size, both, or none; anything else names the flag and what is allowed.
import { describe, expect, it } from 'vitest';
import { diskThresholdFlag } from '../../src/cli/flags.js';

describe('disk threshold flags', () => {
  it('reads a percentage, a size, both, or none', () => {
    expect(diskThresholdFlag('--disk-pressure', '5%,500Mi')).toEqual({ percent: 5, bytes: 500 * 2 ** 20 });
    expect(diskThresholdFlag('--image-gc', '2Gi')).toEqual({ bytes: 2 * 2 ** 30 });
    expect(diskThresholdFlag('--image-gc', '12.5%')).toEqual({ percent: 12.5 });
    expect(diskThresholdFlag('--image-gc', 'none')).toBeUndefined();
  });

  it('refuses anything else, naming the flag and the forms allowed', () => {
    for (const bad of ['lots', '5%,6%', '101%', '1GB', '', '5%,500Mi,1Gi'])
      expect(() => diskThresholdFlag('--disk-pressure', bad)).toThrow(`--disk-pressure ${bad}: must be a percentage of the data root (5%), a size (500Mi), both (5%,500Mi), or none`);
  });
});
