// A block reused while it is read: bytes of the new pass over the ring followed by bytes of the old
// one (what a reader racing the writer can see) never yield a frame of the old pass, and a reader
// that expects the old sequence number gets BlockExpiredError.
import { describe, expect, it } from 'vitest';

import { ValkkaSingleFS } from '../src/index.js';
import { parseBlock } from '../src/reader.js';
import { memoryDevice, pick, plainFrame, withTempDir } from './helpers.js';

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
