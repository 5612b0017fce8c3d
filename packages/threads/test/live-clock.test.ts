import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WallClock } from '../src/live/wall-clock.js';

const RATE = 90_000;
const T0 = 1_700_000_000_000;

describe('WallClock', () => {
  it('follows the least delayed arrival, slewing at most 500 ppm, never backwards', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 50, maxLength: 400 }), // network delay per frame (ms)
        fc.integer({ min: -2000, max: 2000 }), // camera drift in ppm (its 90 kHz runs fast or slow)
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (delays, drift, firstRtp) => {
          const clock = new WallClock({ clockRate: RATE });
          let prev = -Infinity;
          let prevMedia = 0;
          delays.forEach((delay, i) => {
            const realMs = i * 40; // a frame every 40 ms of real time
            const media = realMs * (1 + drift / 1e6); // what the camera's clock says
            const rtp = (firstRtp + Math.round((media * RATE) / 1000)) >>> 0;
            const t = clock.timestamp(rtp, T0 + realMs + delay);
            expect(t).toBeGreaterThanOrEqual(prev);
            if (i > 0) {
              // Against media time, the offset moved at most 500 ppm (+1 ms of rounding).
              const dMedia = media - prevMedia;
              expect(Math.abs(t - prev - dMedia)).toBeLessThanOrEqual(dMedia * 500e-6 + 1.01 + Math.max(0, prev - (prev + dMedia)));
            }
            prev = t;
            prevMedia = media;
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a camera clock drifting 300 ppm stays within a frame of ours over an hour', () => {
    const clock = new WallClock({ clockRate: RATE });
    let t = 0;
    for (let i = 0; i <= 90_000; i++) {
      const realMs = i * 40;
      const rtp = Math.round(realMs * 1.0003 * 90) >>> 0;
      t = clock.timestamp(rtp, T0 + realMs + 20);
    }
    expect(Math.abs(t - (T0 + 90_000 * 40 + 20))).toBeLessThanOrEqual(40);
  });

  it('trusts sender reports near our clock and logs one far off', () => {
    const logs: string[] = [];
    const good = new WallClock({ clockRate: RATE, log: (m) => logs.push(m) });
    good.senderReport(0, T0 - 100, T0 + 30); // camera 130 ms behind: trusted
    expect(good.timestamp(0, T0 + 30)).toBe(T0 - 100);
    expect(logs).toEqual([]);
    const bad = new WallClock({ clockRate: RATE, log: (m) => logs.push(m) });
    bad.senderReport(0, T0 - 3_600_000, T0); // an hour off: not trusted
    expect(bad.timestamp(0, T0 + 30)).toBe(T0 + 30);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/not trusted/);
    expect(bad.cameraSkewMs).toBeLessThan(-3_000_000);
  });

  it('re-anchors on a jump of the RTP clock, never going back; starts above a floor', () => {
    const clock = new WallClock({ clockRate: RATE, floor: T0 + 5000 });
    expect(clock.timestamp(1000, T0)).toBe(T0 + 5000);
    clock.timestamp(1000 + 3600, T0 + 40);
    const after = clock.timestamp(1000 + 90_000 * 3600, T0 + 80); // the camera's clock jumped an hour
    expect(after).toBeGreaterThanOrEqual(T0 + 5000);
    expect(after).toBeLessThan(T0 + 6000);
    expect(clock.resyncs).toBe(1);
  });

  it('unwraps the 32-bit RTP timestamp', () => {
    const clock = new WallClock({ clockRate: RATE });
    const start = 2 ** 32 - 1800;
    const a = clock.timestamp(start, T0);
    const b = clock.timestamp((start + 3600) >>> 0, T0 + 40);
    expect(b - a).toBe(40);
  });
});
