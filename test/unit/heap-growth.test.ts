// The heap growth Gatehouse sets at start (src/heap-growth.ts) yields to the operator's own choice.
import { describe, expect, it } from '@jest/globals';
import { growthGiven } from '../../src/heap-growth.js';

describe('heap growth', () => {
  it('is left alone when node was given its own, in either spelling, on the command line or in NODE_OPTIONS', () => {
    expect(growthGiven(['--heap-growing-percent=0'], undefined)).toBe(true);
    expect(growthGiven([], '--max-old-space-size=512 --heap_growing_percent=30')).toBe(true);
    expect(growthGiven(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(growthGiven([], undefined)).toBe(false);
  });
});
