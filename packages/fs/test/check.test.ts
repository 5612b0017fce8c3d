// check(): a clean filesystem passes; damage in the dumpfile, blockfile and json is reported with
// block and offset; repair rebuilds blockfile and current_block from the dumpfile.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ValkkaMultiFS, ValkkaSingleFS, check } from '../src/index.js';
import { h264Frame, memoryDevice, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;

async function filled(dir: string, nBlocks = 6) {
  const dev = memoryDevice(BS * nBlocks);
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks, device: dev });
  for (let i = 0; i < 40; i++) await fs.write(i % 3 === 2 ? plainFrame(2, 1000 + 40 * i, 700) : h264Frame(1, 1000 + 40 * i, 900, i % 10 === 0));
  await fs.flush();
  return { dev, fs };
}

describe('check', () => {
  it('passes a clean filesystem, open or closed, and reports what it holds; the report is JSON', async () => {
    await withTempDir(async (dir) => {
      const { dev, fs } = await filled(dir);
      const live = await check(dir, { device: dev });
      expect(live.problems).toEqual([]);
      expect(live.ok).toBe(true);
      expect(live.frames).toBe(40);
      await fs.close();
      const progress: number[] = [];
      const r = await check(dir, { device: dev, onProgress: (done) => progress.push(done) });
      expect(r.ok).toBe(true);
      expect(r.newestBlock).toBe(fs.currentBlock);
      expect(r.blocksWritten).toBe(fs.currentBlock + 1);
      expect(progress.at(-1)).toBe(6);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  });

  it('a row [0, t] (a block of lead frames without a key frame) is not mistaken for a zeroed one', async () => {
    // Found by the crash property test (seed 2138060769): check expected [0, 0] for such a block within the
    // rows the writer zeroes ahead, because [0, t] reads as unused.
    await withTempDir(async (dir) => {
      const nBlocks = 3;
      const dev = memoryDevice(BS * nBlocks);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks, device: dev, flushIntervalMs: 3_600_000 });
      for (let i = 0; fs.currentBlock === 0; i++) await fs.write(h264Frame(1, 1000 + 40 * i, 1500, false));
      await fs.close();
      const reopened = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      expect(reopened.blockTable.get(0)[0]).toBe(0);
      expect(reopened.blockTable.get(0)[1]).toBeGreaterThan(0);
      await reopened.close();
      expect((await check(dir, { device: dev })).problems).toEqual([]);
    });
  });

  it('rows zeroed a few blocks ahead: check passes, other processes see them unused, the writer still shows them', async () => {
    await withTempDir(async (dir) => {
      const nBlocks = 48; // rowsInvalidatedAhead = 3
      const dev = memoryDevice(BS * nBlocks);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks, device: dev, flushIntervalMs: 3_600_000 });
      // Key frames rarely: most blocks copy mstime1 from the previous row.
      for (let i = 0; i < 600; i++) await fs.write(h264Frame(1 + (i % 2), 1000 + 40 * i, 1500, i % 50 === 0));
      await fs.flush();
      const enteredAt = fs.currentBlock;
      const after = (d: number) => (enteredAt + d) % nBlocks;
      const other = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      const zeroOnDisk = [1, 2, 3].filter((d) => !other.blockTable.isUsed(after(d)));
      expect(zeroOnDisk.length).toBeGreaterThan(0); // part of the window entered at some block <= current
      expect(fs.blockTable.isUsed(after(2))).toBe(true); // intact until reused: the writer shows it
      expect(other.blockTable.isUsed(after(4))).toBe(true); // beyond the window: untouched
      await other.close();
      const live = await check(dir, { device: dev });
      expect(live.problems).toEqual([]);
      await fs.close();
      const closed = await check(dir, { device: dev });
      expect(closed.problems).toEqual([]);
    });
  });

  it('passes a ring written around twice with frames of every size (reused buffers leave nothing behind)', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 5);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 5, device: dev });
      for (let i = 0; i < 200; i++) await fs.write(plainFrame(1 + (i % 3), 1000 + 40 * i, 50 + ((i * 397) % 2500)));
      await fs.close();
      const r = await check(dir, { device: dev });
      expect(r.problems).toEqual([]);
      expect(r.blocksWritten).toBe(5);
    });
  });

  it('reports a damaged record in a sealed block with its block and offset', async () => {
    await withTempDir(async (dir) => {
      const { dev, fs } = await filled(dir);
      await fs.close();
      const b0 = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      const { frames } = await b0.readBlock(0);
      await b0.close();
      const victim = frames[2]!;
      const img = dev.readDurable(0, BS);
      img[victim.offset + 40]! ^= 0xff; // a payload byte
      await dev.write(0, img);
      await dev.flush();
      const r = await check(dir, { device: dev });
      expect(r.ok).toBe(false);
      expect(r.problems).toContainEqual(expect.objectContaining({ code: 'RECORD', block: 0, offset: victim.offset }));
      // A reader never returns the damaged frame, and resynchronises on the next record after it.
      const reader = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      const after = (await reader.readBlock(0)).frames;
      expect(after.map((f) => f.offset)).toEqual(frames.filter((f) => f !== victim).map((f) => f.offset));
      await reader.close();
    });
  });

  it('reports a damaged header', async () => {
    await withTempDir(async (dir) => {
      const { dev, fs } = await filled(dir);
      await fs.close();
      const img = dev.readDurable(BS, 4096);
      img[20]! ^= 1; // inside the fs id
      await dev.write(BS, img);
      const r = await check(dir, { device: dev });
      expect(r.problems).toContainEqual(expect.objectContaining({ code: 'HEADER', block: 1, offset: 0 }));
    });
  });

  it('repairs a wiped blockfile and a lagging current_block from the dumpfile', async () => {
    await withTempDir(async (dir) => {
      const { dev, fs } = await filled(dir);
      await fs.close();
      const table = fs.getBlockTable();
      await writeFile(join(dir, 'blockfile'), Buffer.alloc(6 * 16 - 5)); // wrong size and zeros
      const json = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8'));
      await writeFile(join(dir, 'valkkafs.json'), JSON.stringify({ ...json, current_block: 0 }));
      const before = await check(dir, { device: dev });
      expect(before.ok).toBe(false);
      expect(before.problems.map((p) => p.code)).toEqual(expect.arrayContaining(['BLOCKFILE', 'ROW', 'CURRENT_BLOCK']));
      const fixed = await check(dir, { device: dev, repair: true });
      expect(fixed.repaired).toBe(true);
      expect(fixed.ok).toBe(true);
      const after = await check(dir, { device: dev });
      expect(after.problems).toEqual([]);
      const reopened = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev, readOnly: true }).catch(() => undefined);
      expect(reopened).toBeUndefined(); // a Multi directory
      const multi = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      expect(multi.getBlockTable()).toEqual(table);
      expect(multi.currentBlock).toBe(fs.currentBlock);
      await multi.close();
    });
  });

  it('repair refuses while a writer holds the filesystem', async () => {
    await withTempDir(async (dir) => {
      const { dev, fs } = await filled(dir);
      await expect(check(dir, { device: dev, repair: true })).rejects.toMatchObject({ code: 'ELOCKED' });
      await fs.close();
    });
  });
});
