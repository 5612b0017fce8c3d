// MultiFS: where each stream's key frames are (a seek finds each stream's key frame even when a
// block has none of it), recorded ranges with holes per stream, and the per-block summaries
// surviving a reopen (read from the sealed blocks' tails).
import { describe, expect, it } from 'vitest';

import { ValkkaMultiFS } from '../src/index.js';
import { h264Frame, memoryDevice, withTempDir } from './helpers.js';

const BS = 16384;

describe('MultiFS per-stream book-keeping', () => {
  it('finds each stream key frame before t, recorded ranges with holes, across reopen', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 14);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 14, device: dev });
      // Stream 1: 25 fps, key frame every 25 frames. Stream 2: key frame only every 100 frames,
      // so most blocks hold no key frame of it. Stream 3 records 0..2 s, stops, then 6..8 s.
      for (let i = 0; i < 250; i++) {
        const t = 100_000 + i * 40;
        await fs.write(h264Frame(1, t, 300, i % 25 === 0));
        await fs.write(h264Frame(2, t + 1, 250, i % 100 === 0));
        if (t < 102_000 || t >= 106_000) await fs.write(h264Frame(3, t + 2, 200, i % 25 === 0));
      }
      await fs.flush();

      const check = async (f: ValkkaMultiFS) => {
        // Stream 2's last key frame before 107 000 is at 104 001 (i = 100).
        const b2 = await f.keyBlockFor(2, 107_000);
        expect(b2).toBeDefined();
        const frames2 = (await f.readBlock(b2!)).frames.filter((x) => x.streamId === 2 && (x.flags & 1) !== 0);
        expect(frames2.map((x) => x.timestamp)).toContain(104_001);
        // Stream 1's is at 107 000 itself.
        const b1 = await f.keyBlockFor(1, 107_000);
        expect((await f.readBlock(b1!)).frames.some((x) => x.streamId === 1 && x.timestamp === 107_000 && (x.flags & 1) !== 0)).toBe(true);
        expect(await f.keyBlockFor(2, 99_000)).toBeUndefined();

        const ranges = await f.recordedRanges(undefined, { maxGapMs: 1000 });
        expect(ranges.get(1)).toEqual([[100_000, 109_960]]);
        expect(ranges.get(3)).toEqual([[100_002, 101_962], [106_002, 109_962]]);
        expect((await f.recordedRanges(3, { maxGapMs: 1000 })).size).toBe(1);
      };
      await check(fs);
      await fs.close();
      const reader = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      await check(reader);
      const info = await reader.describe();
      expect(info.streams.map((s) => [s.streamId, s.frames])).toEqual([[1, 250], [2, 250], [3, 150]]);
      await reader.close();
    });
  });

  it('the in-process writer publishes the live row at once, other processes after a flush', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 4);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 4, device: dev, flushIntervalMs: 20 });
      await fs.write(h264Frame(1, 5000, 300, true));
      expect(fs.getTimeRange()).toEqual([5000, 5000]);
      const reader = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      // The flush timer makes it durable and visible without an explicit flush.
      for (let i = 0; i < 1000 && reader.getTimeRange() === undefined; i++) {
        await new Promise((r) => setTimeout(r, 10));
        await reader.refresh();
      }
      expect(reader.getTimeRange()).toEqual([5000, 5000]);
      expect(dev.pendingWrites).toBe(0);
      await reader.close();
      await fs.close();
    });
  });
});
