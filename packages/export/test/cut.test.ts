// RangeCutter alone: which frames go in the file, time 0, holes, and the cases it refuses.
import { describe, expect, it } from 'vitest';

import { RangeCutter } from '../src/cut.js';
import { ExportError } from '../src/index.js';

const frame = (timestamp: number, key = false) => ({ timestamp, key, codec: 27, payload: new Uint8Array(1) });

/** Feeds frames at these times (key where listed) and returns [times written, cutter]. */
function cut(from: number, to: number, times: number[], keys: number[]): [number[], RangeCutter] {
  const c = new RangeCutter(from, to, 1000);
  const out: number[] = [];
  for (const t of times) for (const f of c.push(frame(t, keys.includes(t)))) out.push(f.timestamp);
  for (const f of c.finish()) out.push(f.timestamp);
  return [out, c];
}

describe('RangeCutter', () => {
  it('starts at the key frame before from; time 0 is the frame on screen at from', () => {
    const [out, c] = cut(1090, 1200, [1000, 1040, 1080, 1120, 1160, 1200, 1240], [1000]);
    expect(out).toEqual([1000, 1040, 1080, 1120, 1160, 1200]);
    expect(c.origin).toBe(1080);
    expect([c.firstShown, c.lastShown, c.shown, c.frames]).toEqual([1080, 1200, 4, 6]);
  });

  it('lists holes, and starts at from when from falls in one', () => {
    const [out, c] = cut(2000, 6000, [1000, 1040, 4000, 4040, 4080], [1000, 4000]);
    expect(out).toEqual([4000, 4040, 4080]);
    expect(c.origin).toBe(2000);
    expect(c.holes).toEqual([
      [2000, 4000],
      [4080, 6000],
    ]);
  });

  it('lists the part inside the range of a hole that begins before from or ends after to', () => {
    const [out, c] = cut(1500, 5500, [1000, 1040, 2300, 2340, 5000, 6100], [1000, 2300]);
    expect(out).toEqual([2300, 2340, 5000]);
    expect(c.holes).toEqual([
      [1500, 2300],
      [2340, 5000],
      [5000, 5500],
    ]);
  });

  it('refuses frames right before from whose key frame was never seen (never a silent skip)', () => {
    expect(() => cut(1090, 1200, [1040, 1080, 1120], [])).toThrow(ExportError);
    expect(() => cut(1090, 1200, [1040, 1080, 1120], [])).toThrow(/no key frame found before the frame at .*\(1080\)/);
  });

  it('refuses timestamps going back', () => {
    expect(() => cut(1000, 2000, [1000, 1040, 1020], [1000])).toThrow(/timestamps go back/);
  });
});
