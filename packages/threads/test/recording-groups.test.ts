import { describe, expect, it } from 'vitest';
import { CAMERAS_PER_GROUP, recordingGroups } from '../src/index.js';

describe('recordingGroups: how many LiveThread + SharedWriterThread pairs record N cameras', () => {
  it('one group up to 32 cameras, then one more per 32, never more than the cores', () => {
    expect(CAMERAS_PER_GROUP).toBe(32);
    expect([0, 1, 8, 16, 32].map((n) => recordingGroups(n, 2))).toEqual([1, 1, 1, 1, 1]);
    expect([33, 64, 65, 500].map((n) => recordingGroups(n, 2))).toEqual([2, 2, 2, 2]);
    expect([65, 96, 97, 1000].map((n) => recordingGroups(n, 8))).toEqual([3, 3, 4, 8]);
    expect(recordingGroups(100, 1)).toBe(1);
  });
});
