import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FrameQueue, type QueueEntry, type SlotFrame } from '../src/index.js';

const producerUrl = new URL('./workers/producer-worker.mjs', import.meta.url);

function frame(seq: number, size: number, slot = 1): SlotFrame {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (seq * 31 + i) & 255;
  return { slot, subsession: seq % 2, timestamp: 1_700_000_000_000 + seq, mediaType: 0, codec: 27, flags: seq % 3, payload };
}

function expectFrame(entry: QueueEntry | undefined, expected: SlotFrame): void {
  expect(entry?.kind).toBe('frame');
  if (entry?.kind !== 'frame') return;
  expect({ ...entry.frame, payload: [...entry.frame.payload] }).toEqual({ ...expected, payload: [...expected.payload] });
}

/**
 * Runs the producer worker into `queue`; resolves to what the worker says it pushed. If the worker fails,
 * the queue is closed so that the test's consumer ends (and the test fails) instead of waiting forever.
 */
function runProducer(queue: FrameQueue, count: number, size: number, commandEvery = 0): Promise<{ accepted: number }> {
  const worker = new Worker(producerUrl, { workerData: { buffer: queue.buffer, count, size, commandEvery } });
  const result = new Promise<{ accepted: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  result.catch(() => queue.close());
  return result;
}

/** Checks a frame from the producer worker: its seq and every payload byte. */
function producedSeq(f: SlotFrame, size: number): number {
  const seq = new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0, true);
  expect(f.payload.length).toBe(size + (seq % 13));
  for (let i = 4; i < f.payload.length; i++) if (f.payload[i] !== ((seq * 7 + i) & 255)) throw new Error(`frame ${seq}: byte ${i} is wrong`);
  expect(f.timestamp).toBe(1000 + seq);
  expect(f.slot).toBe(seq % 5);
  return seq;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FrameQueue', () => {
  it('carries frames, commands and markers with every header field, in order', () => {
    const q = FrameQueue.create({ capacity: 4096 });
    const f = { ...frame(5, 100), mediaType: 1 as const, codec: 0x10006 as const, subsession: 1, flags: 3 };
    q.pushFrame(f);
    q.pushCommand({ type: 'setSlotId', slot: 3, id: 123 });
    q.pushMarker({ type: 'start', timestamp: 42, request: 7 });
    q.pushMarker({ type: 'end', timestamp: 43, request: 7 });
    expectFrame(q.pop(), f);
    expect(q.pop()).toEqual({ kind: 'command', command: { type: 'setSlotId', slot: 3, id: 123 } });
    expect(q.pop()).toEqual({ kind: 'marker', marker: { type: 'start', timestamp: 42, request: 7 } });
    expect(q.pop()).toEqual({ kind: 'marker', marker: { type: 'end', timestamp: 43, request: 7 } });
    expect(q.pop()).toBeUndefined();
    expect(q.stats()).toMatchObject({ frames: 1, bytes: 100, commands: 1, markers: 2, drops: 0, used: 0 });
  });

  it('refuses a frame whose header field would not fit, naming the field', () => {
    const q = FrameQueue.create({ capacity: 1024 });
    expect(() => q.pushFrame({ ...frame(1, 4), flags: 0x10000 })).toThrow(/flags must be an integer in 0\.\.65535, got 65536/);
    expect(() => q.pushFrame({ ...frame(1, 4), slot: -1 })).toThrow(expect.objectContaining({ code: 'ERR_FRAME_FIELD' }));
    expect(() => q.pushFrame({ ...frame(1, 4), timestamp: NaN })).toThrow(/timestamp must be a finite number/);
    expect(q.stats().frames).toBe(0);
  });

  it('wraps around the ring many times without damaging entries', () => {
    const q = FrameQueue.create({ capacity: 1024 });
    const pending: SlotFrame[] = [];
    let written = 0;
    for (let seq = 0; seq < 500; seq++) {
      const f = frame(seq, (seq * 37) % 300);
      q.pushFrame(f);
      pending.push(f);
      written += f.payload.length;
      // Keep a few entries in flight so that pads and wraps happen at every position.
      while (pending.length > 1) expectFrame(q.pop(), pending.shift()!);
    }
    for (const f of pending) expectFrame(q.pop(), f);
    expect(q.pop()).toBeUndefined();
    expect(written).toBeGreaterThan(50 * 1024);
    expect(q.stats().highWater).toBeLessThanOrEqual(1024);
  });

  it('refuses an entry larger than the ring with a clear error, and stays usable', () => {
    const q = FrameQueue.create({ capacity: 1024 });
    let caught: unknown;
    try {
      q.pushFrame(frame(1, 1024));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_ENTRY_TOO_LARGE' });
    expect(String((caught as Error).message)).toMatch(/larger than the frame queue \(1024 bytes\)/);
    expect(() => q.pushCommand({ type: 'x', blob: 'y'.repeat(2000) })).toThrow(/ERR_ENTRY_TOO_LARGE|larger than/);
    const ok = frame(2, 1024 - 32);
    expect(q.pushFrame(ok)).toBe(true);
    expectFrame(q.pop(), ok);
  });

  it('dropping mode drops and counts the frames that do not fit, never commands', async () => {
    const q = FrameQueue.create({ capacity: 1024, mode: 'drop' });
    let accepted = 0;
    for (let seq = 0; seq < 20; seq++) if (q.pushFrame(frame(seq, 200))) accepted++;
    const s = q.stats();
    expect(accepted).toBe(4); // 4 x 232 bytes fit in 1024
    expect(s).toMatchObject({ frames: 4, drops: 16, droppedBytes: 16 * 200, highWater: 4 * 232 });
    // A command waits for room instead of being dropped (asynchronously on the main thread).
    let commandIn = false;
    const pushed = q.pushCommandAsync({ type: 'late' }).then((ok) => (commandIn = ok));
    await sleep(20);
    expect(commandIn).toBe(false);
    expectFrame(q.pop(), frame(0, 200));
    await pushed;
    expect(commandIn).toBe(true);
  });

  it('blocking mode on the main thread: a sync push to a full queue throws, the async one waits for room', async () => {
    const q = FrameQueue.create({ capacity: 1024 });
    for (let seq = 0; seq < 4; seq++) q.pushFrame(frame(seq, 200));
    expect(() => q.pushFrame(frame(4, 200))).toThrow(expect.objectContaining({ code: 'ERR_QUEUE_WOULD_BLOCK' }));
    let done = false;
    const pushed = q.pushFrameAsync(frame(4, 200)).then(() => (done = true));
    await sleep(20);
    expect(done).toBe(false);
    q.pop();
    await pushed;
    for (let seq = 1; seq <= 4; seq++) expectFrame(q.pop(), frame(seq, 200));
    expect(q.stats().drops).toBe(0);
  });

  it('close wakes a waiting consumer and refuses further writes', async () => {
    const q = FrameQueue.create({ capacity: 1024 });
    const waiting = q.popAsync();
    await sleep(10);
    q.pushFrame(frame(1, 10));
    q.close();
    expectFrame(await waiting, frame(1, 10));
    expect(await q.popAsync()).toBeUndefined();
    expect(q.pushFrame(frame(2, 10))).toBe(false);
  });

  it('blocking back-pressure across a worker: a slow consumer gets every frame, in order, with commands in place', async () => {
    const q = FrameQueue.create({ capacity: 4096 });
    const count = 3000;
    const size = 150;
    const producer = runProducer(q, count, size, 10);
    let expected = 0;
    let lastSeq = -1;
    for await (const entry of q) {
      if (entry.kind === 'frame') {
        const seq = producedSeq(entry.frame, size);
        expect(seq).toBe(expected++);
        lastSeq = seq;
        if (seq % 500 === 0) await sleep(5); // fall behind now and then: the producer must wait
      } else if (entry.kind === 'command') {
        // Each command follows exactly the frame it was pushed after.
        expect(entry.command).toEqual({ type: 'after', seq: lastSeq });
        expect(lastSeq % 10).toBe(9);
      }
    }
    expect(await producer).toEqual({ accepted: count });
    const s = q.stats();
    expect(s).toMatchObject({ frames: count, drops: 0, commands: count / 10 });
    expect(s.bytes).toBeGreaterThan(100 * q.capacity); // far more than fits: only back-pressure explains no drops
    expect(s.highWater).toBeLessThanOrEqual(q.capacity);
  });

  it('dropping mode across a worker: what arrives is intact and in order, drops are counted', async () => {
    const q = FrameQueue.create({ capacity: 4096, mode: 'drop' });
    const count = 3000;
    const producer = runProducer(q, count, 150);
    let producing = true;
    void producer.finally(() => (producing = false));
    let received = 0;
    let last = -1;
    for await (const entry of q) {
      if (entry.kind !== 'frame') continue;
      const seq = producedSeq(entry.frame, 150);
      expect(seq).toBeGreaterThan(last);
      last = seq;
      received++;
      if (received % 50 === 0) {
        // Fall behind until the producer has dropped more (or ended): drops happen whatever the machine's speed.
        const drops = q.stats().drops;
        while (producing && q.stats().drops === drops) await sleep(1);
      }
    }
    const { accepted } = await producer;
    const s = q.stats();
    expect(received).toBe(accepted);
    expect(s.frames).toBe(accepted);
    expect(s.drops).toBe(count - accepted);
    expect(s.drops).toBeGreaterThan(0);
  });
});
