import { ValkkaSingleFS } from '@valkka/fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type BlockInfo, ValkkaFSReaderThread, ValkkaFSWriterThread } from '../src/index.js';
import { checkPayload, makeFs, readAll, testFrame } from './helpers.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function startWriter(blocksize: number, nBlocks: number): Promise<{ writer: ValkkaFSWriterThread; dirname: string; blocks: BlockInfo[]; logs: string[] }> {
  const fs = await makeFs({ blocksize, nBlocks });
  const writer = new ValkkaFSWriterThread({ dirname: fs.dirname, queueBytes: 1 << 20 });
  const blocks: BlockInfo[] = [];
  const logs: string[] = [];
  writer.setBlockCallback((b) => blocks.push(b));
  writer.on('log', (m: string) => logs.push(m));
  await writer.start();
  cleanup.push(async () => {
    await writer.terminate();
    await fs.remove();
  });
  return { writer, dirname: fs.dirname, blocks, logs };
}

describe('ValkkaFSWriterThread', () => {
  it('slot map ops as the original (T6): refused remap, unset, clear; after clear no frames are written', async () => {
    const { writer, dirname, logs } = await startWriter(64 * 1024, 8);
    await writer.setSlotId(1, 123);
    await writer.setSlotId(1, 456); // refused: slot 1 is taken
    await writer.setSlotId(3, 123);
    expect(await writer.reportSlotIds()).toEqual([
      [1, 123],
      [3, 123],
    ]);
    expect(logs.join('\n')).toMatch(/slot 1 is already mapped to id 123/);
    // A bad slot or id is refused before it reaches the worker; sent raw, the worker logs it and goes on.
    await expect(writer.setSlotId(-1, 5)).rejects.toMatchObject({ code: 'ERR_SLOT_MAP', message: expect.stringMatching(/slot must be a non-negative integer, got -1/) });
    await expect(writer.unsetSlotId(1.5)).rejects.toMatchObject({ code: 'ERR_SLOT_MAP' });
    await writer.input.pushCommandAsync({ type: 'setSlotId', slot: 2, id: 'x' });
    expect(await writer.reportSlotIds()).toHaveLength(2);
    expect(logs.join('\n')).toMatch(/setSlotId: id must be a non-negative integer, got x \(ignored\)/);
    await writer.unsetSlotId(1);
    expect(await writer.reportSlotIds()).toEqual([[3, 123]]);
    await writer.clearSlotIds();
    expect(await writer.reportSlotIds()).toEqual([]);
    for (let i = 0; i < 20; i++) writer.getFrameFilter()(testFrame(i % 2 ? 1 : 3, 1, i, 100, 1000 + i));
    await writer.close();
    expect(writer.stats()).toMatchObject({ written: 0, unmapped: 20 });
    expect(await readAll(dirname)).toEqual([]);
  });

  it('several slots to one id, frames in order, through the real fs', async () => {
    const { writer, dirname } = await startWriter(64 * 1024, 8);
    await writer.setSlotId(1, 7);
    await writer.setSlotId(2, 7);
    await writer.setSlotId(5, 9);
    const input = writer.getFrameFilter();
    for (let i = 0; i < 30; i++) input(testFrame((i % 3) + 1, (i % 3) + 1, i, 200, 5000 + 10 * i)); // slot 3 is unmapped
    await writer.close();
    const frames = await readAll(dirname);
    const expected = [...Array(30).keys()].filter((i) => i % 3 !== 2);
    expect(frames.map((f) => f.timestamp)).toEqual(expected.map((i) => 5000 + 10 * i));
    expect(frames.every((f) => f.streamId === 7)).toBe(true);
    expect(frames.map((f) => checkPayload(f.payload).seq)).toEqual(expected);
    expect(writer.stats()).toMatchObject({ written: 20, unmapped: 10, writtenBytes: 20 * 200 });
  });

  it('writes the block layout through the fs and reports each finished block with its time range', async () => {
    const blocksize = 16 * 1024;
    const { writer, dirname, blocks } = await startWriter(blocksize, 6);
    await writer.setSlotId(1, 1);
    // 1000-byte frames: a dozen or so per 16 KiB block; 40 frames fill 3 blocks and open a 4th.
    for (let i = 0; i < 40; i++) await writer.input.pushFrameAsync(testFrame(1, 1, i, 1000, 10_000 + 100 * i));
    await writer.close(); // seals the partial block too
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks.map((b) => b.index)).toEqual([...blocks.keys()]);
    const fs = await ValkkaSingleFS.loadFromDirectory(dirname, { readOnly: true });
    try {
      const table = fs.getBlockTable();
      let seen = 0;
      for (const b of blocks) {
        expect(table[b.index]).toEqual(b.range);
        const c = await fs.readBlock(b.index);
        expect(c.seq).toBe(b.seq);
        // Row = [first key frame, last frame] of exactly the frames stored in that block.
        expect(b.range).toEqual([c.frames[0]!.timestamp, c.frames[c.frames.length - 1]!.timestamp]);
        for (const f of c.frames) expect(checkPayload(f.payload).seq).toBe(seen++);
      }
      expect(seen).toBe(40);
    } finally {
      await fs.close();
    }
    expect(writer.stats()).toMatchObject({ written: 40, blocks: blocks.length, queue: expect.objectContaining({ frames: 40, drops: 0 }) });
  });

  it('drops (and counts) a frame too large for a block instead of dying', async () => {
    const { writer, dirname, logs } = await startWriter(8 * 1024, 4);
    await writer.setSlotId(1, 1);
    const input = writer.getFrameFilter();
    input(testFrame(1, 1, 0, 100, 1000));
    input(testFrame(1, 1, 1, 9000, 1001));
    input(testFrame(1, 1, 2, 100, 1002));
    await writer.close();
    expect(writer.stats()).toMatchObject({ written: 2, tooLarge: 1 });
    expect(logs.join('\n')).toMatch(/does not fit into one block/);
    expect((await readAll(dirname)).map((f) => f.timestamp)).toEqual([1000, 1002]);
  });

  it('drops (and counts) frames of a second stream id into a Single FS instead of dying', async () => {
    const { writer, dirname, logs } = await startWriter(8 * 1024, 4);
    await writer.setSlotId(1, 1);
    await writer.setSlotId(2, 2);
    const input = writer.getFrameFilter();
    for (let i = 0; i < 6; i++) input(testFrame((i % 2) + 1, (i % 2) + 1, i, 100, 1000 + i));
    await writer.close();
    expect(writer.stats()).toMatchObject({ written: 3, wrongStream: 3, tooLarge: 0 });
    expect(logs.join('\n')).toMatch(new RegExp(`slot 2: ${dirname}: this ValkkaSingleFS holds stream 1; refused a frame of stream 2`));
    expect((await readAll(dirname)).map((f) => [f.streamId, f.timestamp])).toEqual([[1, 1000], [1, 1002], [1, 1004]]);
  });

  it('owns the writer lock in its worker: a second writer on the same directory is refused, a reader is not', async () => {
    const { dirname } = await startWriter(64 * 1024, 4);
    const second = new ValkkaFSWriterThread({ dirname });
    await expect(second.start()).rejects.toThrow(/died: .*(lock|ELOCKED|another writer)/i);
    const reader = new ValkkaFSReaderThread({ dirname });
    await reader.start();
    await reader.close();
  });

  it('a directory that cannot be opened fails start() with the fs error, the process lives on', async () => {
    const writer = new ValkkaFSWriterThread({ dirname: '/nonexistent/valkka' });
    await expect(writer.start()).rejects.toThrow(/died: .*\/nonexistent\/valkka/);
  });
});
