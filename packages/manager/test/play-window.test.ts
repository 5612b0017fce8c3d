import { describe, expect, it } from 'vitest';
import { aheadOf, playWindow, runsShort, unionOf } from '../src/play-window.js';

const o = { aheadMs: 8000, behindMs: 2000, leadMs: 3000 };

describe('the play window: what the manager keeps loaded around the position', () => {
  it('reaches ahead in the direction of play, further at high rates', () => {
    expect(playWindow(100_000, 1, o)).toEqual([98_000, 108_000]);
    expect(playWindow(100_000, -1, o)).toEqual([92_000, 102_000]);
    expect(aheadOf(32, o)).toBe(96_000); // 3 s of playback at 32x
    expect(playWindow(100_000, -8, o)).toEqual([76_000, 102_000]);
  });

  it('runs short when the position leaves what is loaded or less than half the ahead span is left', () => {
    expect(runsShort(undefined, 0, 1, o)).toBe(true);
    expect(runsShort([98_000, 108_000], 100_000, 1, o)).toBe(false);
    expect(runsShort([98_000, 108_000], 104_001, 1, o)).toBe(true);
    expect(runsShort([98_000, 108_000], 97_000, 1, o)).toBe(true);
    expect(runsShort([92_000, 102_000], 100_000, -1, o)).toBe(false);
    expect(runsShort([92_000, 102_000], 95_999, -1, o)).toBe(true);
  });

  it('merges ranges closer than the gap', () => {
    expect(unionOf([[5, 9], [0, 2], [3, 4], [20, 30]], 1)).toEqual([[0, 9], [20, 30]]);
    expect(unionOf([[0, 10], [2, 3]])).toEqual([[0, 10]]);
    expect(unionOf([])).toEqual([]);
  });
});
