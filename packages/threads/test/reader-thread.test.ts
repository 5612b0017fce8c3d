import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BlockInfo, FrameQueue, type QueueEntry, type SlotFrame, ValkkaFSReaderThread, ValkkaFSWriterThread } from '../src/index.js';
import { checkPayload, collectRequest, makeFs, testFrame } from './helpers.js';

const frames = (entries: QueueEntry[]): SlotFrame[] => entries.flatMap((e) => (e.kind === 'frame' ? [e.frame] : []));
const markers = (entries: QueueEntry[]) => entries.flatMap((e) => (e.kind === 'marker' ? [e.marker] : []));

describe('ValkkaFSReaderThread (T4)', () => {
  let fs: Awaited<ReturnType<typeof makeFs>>;
  let reader: ValkkaFSReaderThread;
  const blocks: BlockInfo[] = [];
  const N_BLOCKS = 8;

  beforeAll(async () => {
    fs = await makeFs({ blocksize: 16 * 1024, nBlocks: N_BLOCKS });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
    writer.on('block', (b: BlockInfo) => blocks.push(b));
    await writer.start();
    await writer.setSlotId(1, 123);
    // 36 frames of 1000 bytes: about 3 blocks, the last one sealed by close().
    for (let i = 0; i < 36; i++) await writer.input.pushFrameAsync(testFrame(1, 123, i, 1000, 10_000 + 100 * i));
    await writer.close();
    reader = new ValkkaFSReaderThread({ dirname: fs.dirname });
    await reader.start();
  });

  afterAll(async () => {
    await reader?.close();
    await fs?.remove();
  });

  it('maps id -> slot; markers carry the first and last frame timestamps; frames in time order', async () => {
    // A few blocks, written in order from block 0 (how many depends on the fs's record overhead).
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks.length).toBeLessThanOrEqual(5);
    expect(blocks.map((b) => b.index)).toEqual([...blocks.keys()]);
    await reader.setSlotId(2, 123);
    const request = await reader.pullBlocks(blocks.map((b) => b.index));
    const entries = await collectRequest(reader.output, request);
    const got = frames(entries);
    expect(entries[0]).toEqual({ kind: 'marker', marker: { type: 'start', timestamp: 10_000, request } });
    expect(entries[entries.length - 1]).toEqual({ kind: 'marker', marker: { type: 'end', timestamp: 10_000 + 35 * 100, request } });
    expect(got.map((f) => checkPayload(f.payload).seq)).toEqual([...Array(36).keys()]);
    expect(got.every((f) => f.slot === 2)).toBe(true);
    expect(got.map((f) => f.timestamp)).toEqual([...Array(36).keys()].map((i) => 10_000 + 100 * i));
  });

  it('delivers the blocks in time order whatever the order asked, and skips indices >= n_blocks', async () => {
    const shuffled = blocks.map((b) => b.index).reverse();
    const request = await reader.pullBlocks([shuffled[0]!, N_BLOCKS, ...shuffled.slice(1), 99]);
    const got = frames(await collectRequest(reader.output, request));
    expect(got.map((f) => f.timestamp)).toEqual([...Array(36).keys()].map((i) => 10_000 + 100 * i));
  });

  it('an unmapped id gives the two markers (with the frames timestamps) and no frames', async () => {
    await reader.unsetSlotId(123);
    expect(await reader.reportSlotIds()).toEqual([]);
    const request = await reader.pullBlocks([blocks[0]!.index]);
    const entries = await collectRequest(reader.output, request);
    expect(frames(entries)).toEqual([]);
    expect(markers(entries)).toEqual([
      { type: 'start', timestamp: blocks[0]!.range[0], request },
      { type: 'end', timestamp: blocks[0]!.range[1], request },
    ]);
  });

  it('an empty list, or only never-written blocks, gives two markers with ts 0', async () => {
    await reader.setSlotId(2, 123);
    for (const list of [[], [6, 7], [N_BLOCKS + 3]]) {
      const request = await reader.pullBlocks(list);
      const entries = await collectRequest(reader.output, request);
      expect(entries).toEqual([
        { kind: 'marker', marker: { type: 'start', timestamp: 0, request } },
        { kind: 'marker', marker: { type: 'end', timestamp: 0, request } },
      ]);
    }
    expect(reader.stats().invalid).toBeGreaterThanOrEqual(2);
  });

  it('a block whose sequence number changed since it was chosen is reported expired and skipped', async () => {
    const expired: unknown[] = [];
    reader.on('expired', (e) => expired.push(e));
    const b1 = blocks[1]!;
    const request = await reader.pullBlocks([0, 1], [blocks[0]!.seq, b1.seq + 5]);
    const entries = await collectRequest(reader.output, request);
    const got = frames(entries);
    // In band, just before the end marker: the transmission lacks block 1.
    expect(entries[entries.length - 2]).toEqual({
      kind: 'command',
      command: { type: 'expired', index: 1, request, message: expect.stringMatching(/block 1 was reused/) },
    });
    // Events come by message, frames through shared memory: the event may land just after the end marker.
    await vi.waitFor(() => expect(expired).toEqual([{ index: 1, request, message: expect.stringMatching(/block 1 was reused/) }]), { timeout: 10_000 });
    // Block 0 whole, nothing of block 1.
    expect(got.map((f) => f.timestamp)).toEqual(got.map((_, i) => 10_000 + 100 * i));
    expect(got[got.length - 1]!.timestamp).toBe(blocks[0]!.range[1]);
  });
});

describe('reader output', () => {
  it('must be a blocking queue: dropping frames would cut blocks short', () => {
    const output = FrameQueue.create({ capacity: 4096, mode: 'drop' });
    expect(() => new ValkkaFSReaderThread({ dirname: '/x', output })).toThrow(expect.objectContaining({ code: 'ERR_READER_OUTPUT' }));
  });
});

describe('closing a reader whose consumer stopped reading', () => {
  it('does not wait for the consumer: the output closes, what it holds stays readable, the request is cut before its end marker', async () => {
    const fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 4 });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
    await writer.start();
    await writer.setSlotId(1, 7);
    for (let i = 0; i < 40; i++) await writer.input.pushFrameAsync(testFrame(1, 7, i, 1000, 1000 + i));
    await writer.close();
    // An output of 4 kB holds 3 of these frames: the worker waits for room that nobody makes.
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname, outputBytes: 4096 });
    try {
      await reader.start();
      await reader.setSlotId(2, 7);
      const request = await reader.pullBlocks([0]);
      await reader.pullBlocks([0]); // queued behind: abandoned too
      await vi.waitFor(() => expect(reader.output.stats().used).toBeGreaterThan(3000), { timeout: 10_000 });
      await reader.close();
      expect(reader.output.closed).toBe(true);
      const left: QueueEntry[] = [];
      for (let e = reader.output.pop(); e; e = reader.output.pop()) left.push(e);
      expect(left[0]).toEqual({ kind: 'marker', marker: { type: 'start', timestamp: 1000, request } });
      expect(frames(left).map((f) => checkPayload(f.payload).seq)).toEqual([0, 1, 2]);
      expect(markers(left).filter((m) => m.type === 'end')).toEqual([]);
    } finally {
      await reader.terminate();
      await fs.remove();
    }
  });
});

describe('a reader racing the writer at the wrap', () => {
  it('never delivers a garbled or foreign frame; reused blocks are reported expired', async () => {
    // Two streams: a Multi FS (a Single FS holds one stream and would refuse the second).
    const fs = await makeFs({ blocksize: 16 * 1024, nBlocks: 6, multi: true });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname, queueBytes: 256 * 1024 });
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname, outputBytes: 256 * 1024 });
    const latest = new Map<number, BlockInfo>();
    let sealed = 0;
    writer.on('block', (b: BlockInfo) => {
      latest.set(b.index, b);
      sealed++;
    });
    const expired: Array<{ index: number }> = [];
    reader.on('expired', (e: { index: number }) => expired.push(e));
    try {
      await Promise.all([writer.start(), reader.start()]);
      // Two streams (ids 1, 2) written from slots 1, 2; read back into slots 11, 12.
      await writer.setSlotId(1, 1);
      await writer.setSlotId(2, 2);
      await reader.setSlotId(11, 1);
      await reader.setSlotId(12, 2);

      let writing = true;
      let requests = 0;
      const TOTAL = 8000;
      // At least TOTAL frames, and on until the reader has raced it 20 times, however fast either side is.
      const producer = (async () => {
        for (let seq = 0; seq < TOTAL || requests < 20; seq++) {
          const stream = (seq % 2) + 1;
          await writer.input.pushFrameAsync(testFrame(stream, stream, seq, 300 + ((seq * 7919) % 900), 1_000_000 + seq));
        }
        writing = false;
      })();

      // A deterministic expiry first: remember block 0 as sealed, wait until the writer is back in it, ask for it.
      while (!latest.has(0)) await new Promise((r) => setTimeout(r, 5));
      const first = latest.get(0)!;
      while (latest.get(0) === first) await new Promise((r) => setTimeout(r, 5));
      const stale = await reader.pullBlocks([0], [first.seq]);
      await collectRequest(reader.output, stale);
      await vi.waitFor(() => expect(expired.some((e) => e.index === 0)).toBe(true), { timeout: 10_000 });

      // Then race: keep asking for the oldest blocks (the next ones the writer will reuse) while it writes.
      let delivered = 0;
      while (writing) {
        const oldest = [...latest.values()].sort((a, b) => a.seq - b.seq).slice(0, 2);
        const request = await reader.pullBlocks(
          oldest.map((b) => b.index),
          oldest.map((b) => b.seq),
        );
        requests++;
        let last = -Infinity;
        for (const frame of frames(await collectRequest(reader.output, request))) {
          const { stream, seq } = checkPayload(frame.payload); // throws on a garbled frame
          expect(frame.slot).toBe(stream + 10); // never a foreign stream's frame under this slot
          expect(frame.timestamp).toBe(1_000_000 + seq);
          expect(seq % 2).toBe(stream - 1);
          expect(frame.timestamp).toBeGreaterThanOrEqual(last);
          last = frame.timestamp;
          delivered++;
        }
      }
      await producer;
      await writer.close();
      expect(sealed).toBeGreaterThan(6 * 10); // wrapped around the 6-block ring many times
      expect(requests).toBeGreaterThanOrEqual(20);
      expect(delivered).toBeGreaterThan(0);
      expect(writer.stats()).toMatchObject({ wrongStream: 0, tooLarge: 0, unmapped: 0 }); // every frame of both streams stored
      await vi.waitFor(() => expect(reader.stats().expired).toBe(expired.length), { timeout: 10_000 });
    } finally {
      await writer.terminate();
      await reader.close().catch(() => undefined);
      await fs.remove();
    }
  });
});

describe('the live edge', () => {
  it('frames of the open block reach a reader after the fs flush interval, with no block sealed', async () => {
    const fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 4 });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname });
    const sealed: BlockInfo[] = [];
    writer.on('block', (b: BlockInfo) => sealed.push(b));
    try {
      await Promise.all([writer.start(), reader.start()]);
      await writer.setSlotId(1, 5);
      await reader.setSlotId(3, 5);
      for (let i = 0; i < 3; i++) await writer.input.pushFrameAsync(testFrame(1, 5, i, 500, 50_000 + i));
      // The writer worker sits idle now; its fs flushes the open block on its own interval (1 s).
      await vi.waitFor(
        async () => {
          const request = await reader.pullBlocks([0]);
          const got = frames(await collectRequest(reader.output, request));
          expect(got.map((f) => [f.slot, checkPayload(f.payload).seq])).toEqual([
            [3, 0],
            [3, 1],
            [3, 2],
          ]);
        },
        { timeout: 15_000, interval: 200 },
      );
      expect(sealed).toEqual([]);
    } finally {
      await writer.close();
      await reader.close();
      await fs.remove();
    }
  });
});
