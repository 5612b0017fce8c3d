// A block reused while it is read: bytes of the new pass over the ring followed by bytes of the old
// one (what a reader racing the writer can see) never yield a frame of the old pass, and a reader
// that expects the old sequence number gets BlockExpiredError.
import { describe, expect, it } from 'vitest';

import { ValkkaSingleFS, check } from '../src/index.js';
import { parseBlock } from '../src/reader.js';
import { fenced, memoryDevice, pick, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;

describe('reading a block while it is reused', () => {
  it('spliced new/old images give a prefix of the new block only', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 3);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 3, device: dev });
      let t = 1000;
      const fill = async () => {
        for (let i = 0; i < 30; i++) await fs.write(plainFrame(1, t++, 700));
        await fs.flush();
      };
      await fill();
      const oldImage = Buffer.from(dev.readDurable(0, BS));
      const old = parseBlock(oldImage, 0, { fsId: Buffer.from(fs.fsId, 'hex'), blocksize: BS, nBlocks: 3 }, true);
      await fill();
      await fill();
      const newImage = Buffer.from(dev.readDurable(0, BS));
      const geometry = { fsId: Buffer.from(fs.fsId, 'hex'), blocksize: BS, nBlocks: 3 };
      const fresh = parseBlock(newImage, 0, geometry, true);
      expect(fresh.seq).toBeGreaterThan(old.seq);
      const oldSet = new Set(old.frames.map((f) => JSON.stringify(pick(f))));
      for (let cut = 512; cut < BS; cut += 512) {
        const spliced = Buffer.concat([newImage.subarray(0, cut), oldImage.subarray(cut)]);
        const got = parseBlock(spliced, 0, geometry, true);
        expect(got.seq).toBe(fresh.seq);
        expect(got.frames.map(pick)).toEqual(fresh.frames.slice(0, got.frames.length).map(pick));
        for (const f of got.frames) expect(oldSet.has(JSON.stringify(pick(f)))).toBe(false);
      }
      await fs.close();
    });
  });

  it('dumpBlock lists the records without payloads; an old sequence number is expired', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 3);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 3, device: dev });
      await fs.write(plainFrame(4, 1000, 100));
      await fs.write(plainFrame(4, 1040, 200));
      const d = await fs.dumpBlock(0);
      expect(d.records.map((r) => [r.offset, r.streamId, r.timestamp, r.length, r.key])).toEqual([
        [64, 4, 1000, 100, true],
        [64 + 28 + 100, 4, 1040, 200, true],
      ]);
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
      await expect(fs.readBlock(0, { expectedSeq: d.seq + 1 })).rejects.toMatchObject({ code: 'EEXPIRED' });
      await expect(fs.readBlock(3)).rejects.toMatchObject({ code: 'EBLOCKINDEX' });
      await expect(fs.readBlock(1)).rejects.toMatchObject({ code: 'EBLOCKHEADER' });
      await fs.close();
    });
  });
});

describe('recovery after a sector was lost in the middle of a block', () => {
  it('records after the gap are kept, the gap is zeroed, and new records follow the last of them (never interleave)', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 3);
      const view = fenced(dev);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 3, device: view, flushIntervalMs: 3_600_000 });
      // Records of 28 + 308 = 336 bytes from offset 64: record 12 starts at 4096, a sector boundary.
      const old = Array.from({ length: 20 }, (_, i) => plainFrame(1, 1000 + i, 308));
      for (const f of old) await fs.write(f);
      await fs.flush();
      // Power loss let sector 1 of the block be lost while the later ones persisted: records 1 and 2 are
      // damaged, records 3..19 (same sequence number) are intact. (The directory is left as a killed writer leaves it.)
      const head = Buffer.from(dev.readDurable(0, 4096));
      head.fill(0, 512, 1024);
      await dev.write(0, head);
      await dev.flush();
      view.kill(); // the writer died with the power
      await fs.close().catch(() => undefined);
      const again = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev, flushIntervalMs: 3_600_000 });
      expect(again.recovery?.recoveredFrames).toBe(18);
      expect(again.recovery?.gapsZeroed).toBe(1);
      const fresh = Array.from({ length: 3 }, (_, i) => plainFrame(1, 5000 + i, 308));
      for (const f of fresh) await again.write(f);
      await again.flush();
      const reader = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      const { frames } = await reader.readBlock(0);
      expect(frames.map((f) => f.timestamp)).toEqual([1000, ...old.slice(3).map((f) => f.timestamp), ...fresh.map((f) => f.timestamp)]);
      expect((await check(dir, { device: dev })).problems).toEqual([]);
      await reader.close();
      await again.close();
    });
  });
});
