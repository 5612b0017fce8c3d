import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValkkaSingleFS } from '@valkka/fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type SharedBlockInfo, SharedWriterThread } from '../src/index.js';
import { checkPayload, makeFs, readAll, testFrame } from './helpers.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function fsDir(options: { blocksize: number; nBlocks: number; multi?: boolean }): Promise<string> {
  const fs = await makeFs(options);
  cleanup.push(() => fs.remove());
  return fs.dirname;
}

describe('SharedWriterThread', () => {
  it('writes several filesystems (two Single, one Multi) from one worker, each with its own input and slot map', async () => {
    const dirs = [await fsDir({ blocksize: 64 * 1024, nBlocks: 8 }), await fsDir({ blocksize: 64 * 1024, nBlocks: 8 }), await fsDir({ blocksize: 64 * 1024, nBlocks: 8, multi: true })];
    const writer = new SharedWriterThread({ filesystems: dirs.map((dirname, i) => ({ dirname, queueBytes: 1 << 20, ...(i === 1 ? { flushIntervalMs: 5000 } : {}) })), batchMs: 10 });
    cleanup.push(() => writer.terminate());
    const blocks: SharedBlockInfo[] = [];
    writer.on('block', (b) => blocks.push(b));
    await writer.start();
    // Frames sent before a filesystem's slot is mapped are unmapped: commands come after the frames queued before them.
    await writer.inputs[0]!.pushFrameAsync(testFrame(1, 11, 999, 100, 500));
    await writer.setSlotId(0, 1, 11);
    await writer.setSlotId(1, 1, 22);
    await writer.setSlotId(2, 1, 31);
    await writer.setSlotId(2, 2, 32);
    expect(await writer.reportSlotIds(2)).toEqual([
      [1, 31],
      [2, 32],
    ]);
    for (let i = 0; i < 200; i++) {
      await writer.inputs[0]!.pushFrameAsync(testFrame(1, 11, i, 900, 1000 + 10 * i));
      await writer.inputs[1]!.pushFrameAsync(testFrame(1, 22, i, 900, 1000 + 10 * i));
      await writer.inputs[2]!.pushFrameAsync(testFrame(1 + (i % 2), 31 + (i % 2), i, 900, 1000 + 10 * i));
    }
    await writer.inputs[1]!.pushFrameAsync(testFrame(7, 22, 0, 100, 9000)); // slot 7 is not mapped there
    await writer.close();

    expect(writer.stats(0)).toMatchObject({ written: 200, unmapped: 1 });
    expect(writer.stats(1)).toMatchObject({ written: 200, unmapped: 1 });
    expect(writer.stats(2)).toMatchObject({ written: 200, unmapped: 0 });
    // 200 frames of ~940 bytes fill a few 64 KiB blocks of each filesystem; every block event names its filesystem.
    for (const fs of [0, 1, 2]) expect(blocks.filter((b) => b.fs === fs).length).toBeGreaterThanOrEqual(2);
    expect(blocks.filter((b) => b.fs === 0).length).toBe(writer.stats(0).blocks);

    const [a, b, m] = await Promise.all(dirs.map(readAll));
    expect(a!.map((f) => [f.streamId, checkPayload(f.payload).seq, f.timestamp])).toEqual([...Array(200).keys()].map((i) => [11, i, 1000 + 10 * i]));
    expect(b!.map((f) => [f.streamId, checkPayload(f.payload).seq])).toEqual([...Array(200).keys()].map((i) => [22, i]));
    expect(m!.map((f) => [f.streamId, checkPayload(f.payload).stream])).toEqual([...Array(200).keys()].map((i) => [31 + (i % 2), 31 + (i % 2)]));
  });

  it('a directory that is not a filesystem fails start() naming it, and the others are released', async () => {
    const good = await fsDir({ blocksize: 64 * 1024, nBlocks: 4 });
    const base = await mkdtemp(join(tmpdir(), 'valkka-threads-'));
    cleanup.push(() => rm(base, { recursive: true, force: true }));
    const bad = join(base, 'not-a-fs');
    const writer = new SharedWriterThread({ filesystems: [{ dirname: good }, { dirname: bad }] });
    await expect(writer.start()).rejects.toMatchObject({ code: 'ERR_THREAD_DIED', cause: expect.objectContaining({ message: expect.stringContaining(bad) }) });
    // The good one's writer lock went with it: it opens for writing again.
    const again = await ValkkaSingleFS.loadFromDirectory(good);
    await again.close();
  });

  it('refuses a filesystem index it does not have and bad options, with clear errors', async () => {
    expect(() => new SharedWriterThread({ filesystems: [] })).toThrow(/1\.\.256 filesystems, got 0/);
    expect(() => new SharedWriterThread({ filesystems: [{ dirname: '/x' }], batchMs: 0 })).toThrow(/batchMs must be an integer 1\.\.1000, got 0/);
    expect(() => new SharedWriterThread({ filesystems: [{ dirname: '/x', flushIntervalMs: 0 }] })).toThrow(/\/x: flushIntervalMs must be an integer 10\.\.600000, got 0/);
    const dir = await fsDir({ blocksize: 64 * 1024, nBlocks: 4 });
    const writer = new SharedWriterThread({ filesystems: [{ dirname: dir }] });
    cleanup.push(() => writer.terminate());
    await writer.start();
    await expect(writer.setSlotId(1, 1, 1)).rejects.toMatchObject({ code: 'ERR_WRITER_FS', message: expect.stringMatching(/filesystem index 1 does not exist \(this writer has 1: 0\.\.0\)/) });
    expect(() => writer.input(-1)).toThrow(/filesystem index -1 does not exist/);
    await expect(writer.setSlotId(0, -1, 1)).rejects.toMatchObject({ code: 'ERR_SLOT_MAP' });
    await writer.close();
  });
});
