import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PlaybackClock } from '../src/index.js';

// Read-modify-write operations of a shared clock (advance, setRate, pause) read inside the seqlock's write:
// four workers advancing one manual clock at once lose no step.

describe('PlaybackClock shared between workers', () => {
  it('concurrent advance() from four workers: every step counts', async () => {
    const clock = PlaybackClock.manual(0);
    const times = 20_000;
    const workers = Array.from({ length: 4 }, () => new Worker(new URL('./workers/clock-worker.mjs', import.meta.url), { workerData: { buffer: clock.buffer, times } }));
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
    expect(clock.now()).toBe(4 * times);
    expect([1, 2]).toContain(clock.timeline().rate);
  });

  it('pause() keeps the stream time reached, read under the lock', () => {
    const clock = PlaybackClock.manual(1000);
    clock.play(50_000);
    clock.advance(200);
    clock.setRate(2);
    clock.advance(100);
    clock.pause();
    expect(clock.timeline()).toMatchObject({ playing: false, anchorStream: 50_000 + 200 + 2 * 100, rate: 2 });
    expect(clock.streamTime()).toBe(50_400);
  });
});
