// The original's scenarios (valkkafs-original.md §12.1-§12.2), adapted to our format, plus the
// basics of the new one: geometry, json, persistence, live edge, errors.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { type BlockEvent, FrameTooLargeError, ValkkaMultiFS, ValkkaSingleFS, ValkkaFSError, roundBlocksize } from '../src/index.js';
import { BlockFile } from '../src/blockfile.js';
import { BLOCK_HEADER_SIZE, RECORD_HEADER_SIZE, tailReserve } from '../src/format.js';
import { h264Frame, memoryDevice, pick, plainFrame, withTempDir } from './helpers.js';

const ORIGINAL_KEYS = ['dumpfile', 'partition_uuid', 'blockfile', 'blocksize', 'n_blocks', 'current_block', 'jsonfile'];

describe('geometry and directory', () => {
  it('rounds the blocksize down to a multiple of 4096, at least 4096 (§12.2 #8)', () => {
    expect(roundBlocksize(10240)).toBe(8192);
    expect(roundBlocksize(300)).toBe(4096);
    expect(roundBlocksize(4096 * 5 + 77)).toBe(4096 * 5);
    expect(roundBlocksize(4096)).toBe(4096);
  });

  it('creates valkkafs.json with the original keys first, a blockfile of n*16 bytes and a dumpfile', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 10240, nBlocks: 10 });
      expect(fs.blocksize).toBe(8192);
      await fs.close();
      const json = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8'));
      expect(Object.keys(json).slice(0, 7)).toEqual(ORIGINAL_KEYS);
      expect(json).toMatchObject({
        dumpfile: join(dir, 'dumpfile'),
        partition_uuid: null,
        blockfile: join(dir, 'blockfile'),
        blocksize: 8192,
        n_blocks: 10,
        current_block: 0,
        jsonfile: join(dir, 'valkkafs.json'),
        format_version: 1,
        variant: 'single',
      });
      expect(json.fs_id).toMatch(/^[0-9a-f]{32}$/);
      expect((await stat(join(dir, 'blockfile'))).size).toBe(160);
      expect((await stat(join(dir, 'dumpfile'))).size).toBeGreaterThanOrEqual(8192 * 10);
    });
  });

  it('computes n_blocks from deviceSize', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: 4096, deviceSize: 4096 * 7 + 100, device: memoryDevice(4096 * 8) });
      expect(fs.nBlocks).toBe(7);
      await fs.close();
    });
  });

  it('refuses a directory of the other variant and a missing one, with clear errors', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(4096 * 4);
      await (await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 4, device: dev })).close();
      await expect(ValkkaSingleFS.loadFromDirectory(dir, { device: dev })).rejects.toMatchObject({ code: 'EMETADATA' });
      await expect(ValkkaSingleFS.loadFromDirectory(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOTFOUND' });
    });
  });
});

describe('writing and reading', () => {
  it('reads back every frame written, the open block at once in-process (live edge)', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: 16384, nBlocks: 8, device: memoryDevice(16384 * 8) });
      const written = [h264Frame(1, 1000, 3000, true), plainFrame(2, 1001, 100), h264Frame(1, 1040, 2000, false)];
      for (const f of written) await fs.write(f);
      const open = await fs.readBlock(fs.currentBlock);
      expect(open.sealed).toBe(false);
      expect(open.frames.map(pick)).toEqual(written.map(pick));
      expect(fs.getBlockTable()[0]).toEqual([1001, 1040]); // Multi: last key frame among all streams
      await fs.close();
    });
  });

  it('prepends the codec configuration to a key frame that lacks it', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 16384, nBlocks: 4, device: memoryDevice(16384 * 4) });
      const first = h264Frame(1, 1000, 500, true);
      const bare = h264Frame(1, 2000, 500, true);
      // Strip SPS and PPS: keep only the IDR NAL unit.
      const idrAt = Buffer.from(bare.payload).indexOf(Buffer.from([0, 0, 0, 1, 0x65]));
      const stripped = { ...bare, flags: 0, payload: bare.payload.subarray(idrAt) };
      await fs.write(first);
      await fs.write(stripped);
      const { frames } = await fs.readBlock(0);
      const second = frames[1]!;
      expect(second.flags).toBe(3); // key + config
      expect(Buffer.from(second.payload).subarray(-stripped.payload.length)).toEqual(Buffer.from(stripped.payload));
      expect(Buffer.from(second.payload).indexOf(Buffer.from([0, 0, 0, 1, 0x67]))).toBe(0);
      await fs.close();
    });
  });

  it('refuses a frame larger than a block with FrameTooLargeError naming the sizes', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 4, device: memoryDevice(4096 * 4) });
      const max = fs.maxFramePayload;
      expect(max).toBe(4096 - BLOCK_HEADER_SIZE - RECORD_HEADER_SIZE - tailReserve(1));
      await fs.write(plainFrame(1, 10, max)); // fits exactly
      const err = await fs.write(plainFrame(1, 11, max + 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FrameTooLargeError);
      expect((err as Error).message).toContain(`${max + 1} bytes`);
      expect((err as Error).message).toContain('4096-byte block');
      await fs.write(plainFrame(1, 12, 10)); // the writer goes on
      await fs.close();
    });
  });

  it('refuses invalid frame fields with EARGUMENT', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 4, device: memoryDevice(4096 * 4) });
      for (const bad of [{ streamId: 0 }, { subsession: 300 }, { timestamp: -1 }, { timestamp: 1.5 }]) {
        await expect(fs.write({ ...plainFrame(1, 10, 10), ...bad })).rejects.toMatchObject({ code: 'EARGUMENT' });
      }
      await fs.close();
    });
  });

  it('persists the table and the blocks across reopen (§12.2 #13)', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(8192 * 10);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 10, device: dev });
      const frames = Array.from({ length: 20 }, (_, i) => h264Frame(7, 1000 * (i + 1), 1024, i % 5 === 0));
      for (const f of frames) await fs.write(f);
      await fs.close();
      const table = fs.getBlockTable();
      const again = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      expect(again.getBlockTable()).toEqual(table);
      expect(again.currentBlock).toBe(fs.currentBlock);
      const read = [];
      for (const b of again.getInd([0, 1e9])) read.push(...(await again.readBlock(b)).frames);
      expect(read.map(pick)).toEqual(frames.map(pick));
      await again.close();
    });
  });

  it("reads into the caller's buffer when given one: same frames, payloads inside it; a wrong size is EARGUMENT", async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 10 });
      const frames = Array.from({ length: 20 }, (_, i) => h264Frame(7, 1000 * (i + 1), 1024, i % 5 === 0));
      for (const f of frames) await fs.write(f);
      await fs.close();
      const again = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true });
      const buffer = again.device!.allocBuffer(again.blocksize);
      const read = [];
      for (const b of again.getInd([0, 1e9])) {
        const fresh = (await again.readBlock(b)).frames;
        const into = (await again.readBlock(b, { buffer })).frames;
        expect(into.map(pick)).toEqual(fresh.map(pick));
        for (const f of into) expect(f.payload.buffer).toBe(buffer.buffer);
        read.push(...into.map(pick));
      }
      expect(read).toEqual(frames.map(pick));
      await expect(again.readBlock(0, { buffer: Buffer.alloc(4096) })).rejects.toMatchObject({ code: 'EARGUMENT', message: /a buffer of 4096 bytes, the blocksize is 8192/ });
      await again.close();
    });
  });

  it('a reader in another handle sees the open block after each flush', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(8192 * 4);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 4, device: dev, flushIntervalMs: 60_000 });
      const reader = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true, device: dev });
      await fs.write(h264Frame(1, 5000, 500, true));
      await fs.write(h264Frame(1, 5040, 500, false));
      await reader.refresh();
      expect(reader.getTimeRange()).toBeUndefined();
      await fs.flush();
      await reader.refresh();
      expect(reader.getTimeRange()).toEqual([5000, 5040]);
      expect((await reader.readBlock(0)).frames.map((f) => f.timestamp)).toEqual([5000, 5040]);
      await expect(reader.write(h264Frame(1, 6000, 10, false))).rejects.toMatchObject({ code: 'EREADONLY' });
      await reader.close();
      await fs.close();
    });
  });
});

/** Writes `frames` with a block callback; returns the callback's current blocks, the final table and current block. */
async function runWriter(Fs: typeof ValkkaSingleFS | typeof ValkkaMultiFS, dir: string, nBlocks: number, frames: ReturnType<typeof h264Frame>[]) {
  const fs = await Fs.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks, device: memoryDevice(8192 * nBlocks) });
  const pars: number[] = [];
  const events: BlockEvent[] = [];
  fs.setBlockCallback((e) => pars.push(e.currentBlock));
  fs.on('block', (e) => events.push(e));
  for (const f of frames) await fs.write(f);
  await fs.close();
  const json = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8'));
  return { pars, events, table: fs.getBlockTable(), current: fs.currentBlock, json };
}

// Payload 1024 bytes as in valkkafswriter_test: with our 64-byte block header, 28-byte record
// header and the summary reserve, 7 records still fit in an 8192-byte block and 8 do not, so the
// block boundaries fall where the original's did and its expected tables apply unchanged.
const PAYLOAD = 1024;

describe('writer layout and wrap (§12.2)', () => {
  it('capacity: 7 records of 1024 bytes per 8192 block; 4096 blocks hold floor((4096-64-96)/(28+P))', () => {
    const perBlock = (bs: number, p: number) => Math.floor((bs - BLOCK_HEADER_SIZE - tailReserve(1)) / (RECORD_HEADER_SIZE + p));
    expect(perBlock(8192, PAYLOAD)).toBe(7);
    // The original fit 73 records of payload 20 (56 bytes) in 4096; ours fits 72 of payload 26 (54 bytes).
    expect(perBlock(4096, 26)).toBe(72);
  });

  it('capacity holds on disk: blocks seal when the next record would not fit', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 4, device: memoryDevice(4096 * 4) });
      for (let i = 0; i < 100; i++) await fs.write(plainFrame(1, 1000 + i, 26));
      const b0 = await fs.readBlock(0);
      expect(b0.sealed).toBe(true);
      expect(b0.frames).toHaveLength(72);
      expect((await fs.readBlock(1)).frames).toHaveLength(28);
      await fs.close();
    });
  });

  const t1Frames = () => {
    const frames = [];
    for (let j = 0; j < 8; j++) for (let i = 0; i < 5; i++) frames.push(h264Frame(1, 1000 * (j + 1) + 100 * i, PAYLOAD, i % 5 === 0));
    return frames;
  };

  it('T1 Multi: final table and callback pars 1..6', async () => {
    await withTempDir(async (dir) => {
      const r = await runWriter(ValkkaMultiFS, dir, 10, t1Frames());
      expect(r.table.slice(0, 6)).toEqual([[2000, 2100], [3000, 3300], [5000, 5000], [6000, 6200], [7000, 7400], [8000, 8400]]);
      expect(r.table.slice(6)).toEqual([[0, 0], [0, 0], [0, 0], [0, 0]]);
      expect(r.pars).toEqual([1, 2, 3, 4, 5, 6]);
      expect(r.current).toBe(6);
      expect(r.json.current_block).toBe(6);
    });
  });

  it('T1 Single: final table', async () => {
    await withTempDir(async (dir) => {
      const r = await runWriter(ValkkaSingleFS, dir, 10, t1Frames());
      expect(r.table.slice(0, 6)).toEqual([[1000, 2100], [3000, 3300], [4000, 5000], [6000, 6200], [7000, 7400], [8000, 8400]]);
      expect(r.pars).toEqual([1, 2, 3, 4, 5, 6]);
    });
  });

  const t3Frames = () => Array.from({ length: 71 }, (_, i) => h264Frame(1, 1000 * (i + 1), PAYLOAD, i % 5 === 0));

  it('T3 wrap Multi: wraps twice, final table, current_block 1', async () => {
    await withTempDir(async (dir) => {
      const r = await runWriter(ValkkaMultiFS, dir, 5, t3Frames());
      expect(r.table).toEqual([[71000, 71000], [0, 0], [56000, 56000], [61000, 63000], [66000, 70000]]);
      expect(r.pars).toEqual([1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
      expect(r.json.current_block).toBe(1);
    });
  });

  it('T3 wrap Single: final table, and the search vectors of §12.3 #16 on it', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 5, device: memoryDevice(8192 * 5) });
      for (const f of t3Frames()) await fs.write(f);
      await fs.close();
      expect(fs.getBlockTable()).toEqual([[71000, 71000], [0, 0], [51000, 56000], [61000, 63000], [66000, 70000]]);
      expect(fs.getTimeRange()).toEqual([51000, 71000]);
      expect(fs.getIndNeigh(1, 55000)).toEqual([2, 3, 4]);
      expect(fs.getIndNeigh(1, 64000)).toEqual([3, 4, 0]);
      expect(fs.getInd([52000, 62000])).toEqual([2, 3, 4]);
      expect(fs.getInd([60000, 80000])).toEqual([2, 3, 4, 0]);
    });
  });

  it('a block the writer reuses is expired for a reader holding its old sequence number', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 3, device: memoryDevice(8192 * 3) });
      for (let i = 0; i < 7; i++) await fs.write(h264Frame(1, 1000 + i, PAYLOAD, i === 0));
      await fs.write(h264Frame(1, 2000, PAYLOAD, true)); // seals block 0
      await fs.flush();
      const { seq } = await fs.readBlock(0);
      for (let i = 0; i < 14; i++) await fs.write(h264Frame(1, 3000 + i, PAYLOAD, true)); // wraps into block 0
      expect(fs.currentBlock).toBe(0);
      await expect(fs.readBlock(0, { expectedSeq: seq })).rejects.toMatchObject({ code: 'EEXPIRED' });
      await fs.close();
    });
  });

  it('getInd over a closed filesystem returns every frame in write order across the wrap', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(8192 * 5);
      const writer = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 5, device: dev });
      const frames = t3Frames();
      for (const f of frames) await writer.write(f);
      await writer.close();
      const fs = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true, device: dev });
      const ts: number[] = [];
      for (const b of fs.getInd([0, 1e12])) ts.push(...(await fs.readBlock(b)).frames.map((f) => f.timestamp));
      await fs.close();
      const expected = frames.map((f) => f.timestamp).filter((t) => t > 49000);
      expect(ts).toEqual(expected);
    });
  });
});

describe('errors are ValkkaFSError with codes', () => {
  it('a closed filesystem refuses writes with ECLOSED', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 2, device: memoryDevice(8192) });
      await fs.close();
      await expect(fs.write(plainFrame(1, 1, 1))).rejects.toBeInstanceOf(ValkkaFSError);
      await expect(fs.write(plainFrame(1, 1, 1))).rejects.toMatchObject({ code: 'ECLOSED' });
      await expect(fs.readBlock(0)).rejects.toMatchObject({ code: 'ECLOSED' });
    });
  });
});

describe('I/O errors', () => {
  it('an EIO stops the writer with that error; reopening recovers what was durable', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(8192 * 4);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 4, device: dev });
      for (let i = 0; i < 7; i++) await fs.write(h264Frame(1, 1000 + i, PAYLOAD, i === 0));
      await fs.flush();
      dev.failRange(8192, 8192, 'write'); // block 1
      let failure: unknown;
      for (let i = 7; i < 30 && !failure; i++) {
        await fs.write(h264Frame(1, 1000 + i, PAYLOAD, i % 7 === 0)).catch((e: unknown) => (failure = e));
        if (!failure) await fs.flush().catch((e: unknown) => (failure = e));
      }
      expect(failure).toMatchObject({ code: 'EIO' });
      await expect(fs.write(h264Frame(1, 5000, 10, false))).rejects.toMatchObject({ code: 'EIO' });
      await expect(fs.close()).rejects.toMatchObject({ code: 'EIO' });
      dev.clearFaults();
      const again = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev });
      expect((await again.readBlock(0)).frames.map((f) => f.timestamp)).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006]);
      await again.close();
    });
  });
});

describe('the original book-keeping scenarios (§12.1)', () => {
  it('T1 table persistence: row 1 mstime2 = 22 is the int64 at offset 24 of a 160-byte blockfile, and survives reopen', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'blockfile');
      const bf = await BlockFile.create(path, 10);
      await bf.setRow(1, [11, 22]);
      await bf.sync();
      await bf.close();
      const bytes = await readFile(path);
      expect(bytes.length).toBe(160);
      expect(bytes.readBigInt64LE(24)).toBe(22n);
      expect(bytes.readBigInt64LE(16)).toBe(11n);
      const again = await BlockFile.open(path, 10, 0, { write: false });
      expect(again.row(1)).toEqual([11, 22]);
      expect(again.row(0)).toEqual([0, 0]);
      await again.close();
    });
  });

  it('T5 frames of a codec without inter frames are all key: ten 1 MiB frames at ts 100 give row0 [100, 100] and current_block 1', async () => {
    await withTempDir(async (dir) => {
      const bs = 20 * 2 ** 20;
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: bs, nBlocks: 2, device: memoryDevice(bs * 2) });
      for (let i = 0; i < 10; i++) await fs.write({ ...plainFrame(1, 100, 2 ** 20), flags: 0 });
      const b0 = await fs.readBlock(0);
      expect(b0.frames.map((f) => [f.timestamp, f.flags, f.payload.length])).toEqual(Array.from({ length: 10 }, () => [100, 1, 2 ** 20]));
      await fs.close();
      expect(fs.getBlockTable()[0]).toEqual([100, 100]);
      expect(fs.currentBlock).toBe(1);
      const json = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8'));
      expect(json.current_block).toBe(1);
    });
  });
});

describe('geometry refusals', () => {
  it('refuses fewer than two blocks and a ring larger than its device', async () => {
    await withTempDir(async (dir) => {
      await expect(ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 1, device: memoryDevice(8192) })).rejects.toMatchObject({ code: 'EARGUMENT' });
      await expect(ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 3, device: memoryDevice(8192) })).rejects.toMatchObject({ code: 'EARGUMENT' });
      await expect(ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 0, nBlocks: 3 })).rejects.toMatchObject({ code: 'EARGUMENT' });
    });
  });
});
