import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PlaybackClock } from '../src/cacher/playback-clock.js';
import { FrameQueue } from '../src/queue/frame-queue.js';
import type { SlotFrame } from '../src/slot-frame.js';
import { FileSource, FileSourceThread } from '../src/sources/file-source-thread.js';
import { loadClip } from '../src/sources/media-clip.js';

// The worker tests run the built worker (dist/workers/file-source-worker.js): `pnpm --filter @valkka/threads build` first.

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const T0 = 1_700_000_000_000;
const threads: FileSourceThread[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close().catch(() => undefined)));
});

async function popFrames(queue: FrameQueue, count: number): Promise<SlotFrame[]> {
  const frames: SlotFrame[] = [];
  while (frames.length < count) {
    const entry = await queue.popAsync(5000);
    if (!entry) throw new Error(`only ${frames.length} of ${count} frames within 5 s`);
    if (entry.kind === 'frame') frames.push(entry.frame);
  }
  return frames;
}

describe('FileSourceThread (worker)', () => {
  it('plays the clip into a queue on the clock, as a camera would', async () => {
    const clock = PlaybackClock.manual(0);
    const output = FrameQueue.create({ capacity: 4 << 20 });
    const source = new FileSourceThread({ path: fixture('h264-high-gop2s.h264'), output, clock, slot: 4, startTime: T0 });
    threads.push(source);
    await source.start();
    clock.setNow(1000);
    const frames = await popFrames(output, 26); // k * 40 <= 1000
    const clip = await loadClip(fixture('h264-high-gop2s.h264'));
    frames.forEach((f, k) => {
      expect(f).toMatchObject({ slot: 4, timestamp: T0 + k * 40, codec: clip.codec });
      expect(Buffer.from(f.payload).equals(Buffer.from(clip.units[k]!.payload))).toBe(true);
    });
    expect(output.pop()).toBeUndefined(); // nothing ahead of the clock
    await source.close();
    expect(source.counters()).toMatchObject({ frames: 26 });
  });

  it('a broken file fails start() with the file error, and the process goes on', async () => {
    const source = new FileSourceThread({ path: fixture('README.md'), output: FrameQueue.create(), slot: 1, codec: 'h264' });
    threads.push(source);
    await expect(source.start()).rejects.toThrow(/README\.md: neither an MP4 .* nor an Annex-B stream/);
  });
});

describe('FileSource (main thread, into a FrameFilter)', () => {
  it('plays a non-looping clip to its end with the system clock', async () => {
    const timestamps: number[] = [];
    const source = await FileSource.open({
      path: fixture('h265-gop1s.h265'),
      slot: 2,
      fps: 1000, // 250 frames in a quarter of a second
      loop: false,
      filter: (f) => timestamps.push(f.timestamp),
    });
    source.start();
    await source.finished;
    expect(timestamps.length).toBe(250);
    expect(timestamps.every((t, i) => i === 0 || t - timestamps[i - 1]! === 1)).toBe(true);
  });
});
