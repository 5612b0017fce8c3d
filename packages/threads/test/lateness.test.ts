import { describe, expect, it } from 'vitest';
import { LatenessHistogram } from '../src/index.js';

describe('LatenessHistogram', () => {
  it('is empty at first', () => {
    expect(LatenessHistogram.create().summary()).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
  });

  it('reports percentiles at the upper edge of their 0.05 ms bucket, early frames as 0, the exact max', () => {
    const h = LatenessHistogram.create();
    for (let i = 0; i < 98; i++) h.record(i < 60 ? 0.01 : 1.02);
    h.record(-3); // early
    h.record(4.2);
    const s = h.summary();
    expect(s.count).toBe(100);
    expect(s.p50).toBeCloseTo(0.05, 10);
    expect(s.p99).toBeCloseTo(1.05, 10);
    expect(s.max).toBe(4.2);
  });

  it('frames later than its range count, and their percentile is the max', () => {
    const h = LatenessHistogram.create();
    h.record(1);
    h.record(750);
    const s = h.summary();
    expect(s.p50).toBeCloseTo(1.05, 10);
    expect(s).toMatchObject({ count: 2, p99: 750, max: 750 });
  });

  it('is shared: a handle attached to the buffer reads what the other recorded', () => {
    const h = LatenessHistogram.create();
    h.record(2);
    expect(LatenessHistogram.attach(h.buffer).summary()).toMatchObject({ count: 1, max: 2 });
  });
});
