import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  FileCacherThread,
  FileSourceThread,
  FrameQueue,
  PlaybackClock,
  type ThreadCommand,
  ValkkaFSReaderThread,
  ValkkaFSWriterThread,
  ValkkaThread,
} from '../src/index.js';
import { makeFs, testFrame } from './helpers.js';

// close() of every thread ends in bounded time whatever its consumers and producers do. A clean stop resolves;
// only a worker stuck in a synchronous task needs the timeout, after which close() terminates it and rejects
// with ERR_STOP_TIMEOUT. `settles` is a liveness check (the test fails instead of hanging), not a timing one.

const CLIP = join(import.meta.dirname, 'fixtures', 'h264-high-gop2s.h264');
const START = 1_700_000_000_000;

/** The promise's outcome, or a failure naming `what` if it has not settled within 20 s. */
async function settles<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within 20 s`)), 20_000)));
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A recorded filesystem: 200 frames of stream 7, 1 kB each, 40 ms apart. */
async function recorded() {
  const fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 16 });
  const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
  await writer.start();
  await writer.setSlotId(1, 7);
  for (let i = 0; i < 200; i++) await writer.input.pushFrameAsync(testFrame(1, 7, i, 1000, START + 40 * i));
  await writer.close();
  return fs;
}

class BusyThread extends ValkkaThread<Record<string, never>> {
  constructor() {
    super({ name: 'busy', worker: new URL('./workers/test-thread-worker.mjs', import.meta.url), counters: ['frames'], data: {} });
  }
  send(command: ThreadCommand): Promise<void> {
    return this.command(command);
  }
}

describe('close() ends in bounded time', () => {
  it('a cacher whose consumer never reads its output', async () => {
    const fs = await recorded();
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname });
    const clock = PlaybackClock.manual(0);
    const cacher = new FileCacherThread({ input: reader.output, clock, outputBytes: 4096 });
    try {
      await reader.start();
      await cacher.start();
      await reader.setSlotId(2, 7);
      await cacher.registerSlot(2);
      await cacher.seek(START);
      await reader.pullBlocks([0, 1, 2, 3, 4]);
      await vi.waitFor(() => expect(cacher.counters().transmissions).toBe(1), { timeout: 15_000 });
      await cacher.play();
      await cacher.sync();
      clock.setNow(8000); // 200 frames due at once, into an output that holds 3
      await vi.waitFor(() => expect(cacher.output.stats().used).toBeGreaterThan(3000), { timeout: 15_000 });
      await settles('cacher.close()', cacher.close());
      expect(cacher.isRunning).toBe(false);
      expect(cacher.output.closed).toBe(true);
      await settles('reader.close()', reader.close());
    } finally {
      await Promise.all([cacher.terminate(), reader.terminate()]);
      await fs.remove();
    }
  });

  it('a reader whose consumer never reads, in the middle of a request larger than its output', async () => {
    const fs = await recorded();
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname, outputBytes: 4096 });
    try {
      await reader.start();
      await reader.setSlotId(2, 7);
      await reader.pullBlocks([0, 1, 2, 3, 4]);
      await vi.waitFor(() => expect(reader.output.stats().used).toBeGreaterThan(3000), { timeout: 15_000 });
      await settles('reader.close()', reader.close());
      expect(reader.isRunning).toBe(false);
    } finally {
      await reader.terminate();
      await fs.remove();
    }
  });

  it('a source whose consumer never reads (a blocking queue nobody drains)', async () => {
    const output = FrameQueue.create({ capacity: 4096, mode: 'block' });
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceThread({ path: CLIP, output, clock, slot: 1 });
    try {
      await source.start();
      clock.setNow(60_000); // 1500 frames due at once: the worker waits for room that never comes
      await vi.waitFor(() => expect(output.stats().used).toBeGreaterThan(2000), { timeout: 15_000 });
      await settles('source.close()', source.close());
      expect(source.isRunning).toBe(false);
      expect(output.closed).toBe(false); // not its queue to close
    } finally {
      await source.terminate();
    }
  });

  it('a writer whose producer never stops: it finishes what was queued before close() and stops', async () => {
    const fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 64 });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname, queueBytes: 64 * 1024 });
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceThread({ path: CLIP, output: writer.input, clock, slot: 1, startTime: START }); // loops for ever
    try {
      await writer.start();
      await writer.setSlotId(1, 1);
      await source.start();
      clock.setNow(Number.MAX_SAFE_INTEGER / 2); // always more due: the source never pauses
      await vi.waitFor(() => expect(writer.stats().written).toBeGreaterThan(500), { timeout: 15_000 });
      await settles('writer.close()', writer.close());
      expect(writer.isRunning).toBe(false);
      const { written, unmapped, queue } = writer.stats();
      expect(written + unmapped).toBeLessThanOrEqual(queue.frames); // what was accepted before the stop, at most
      expect(writer.input.closed).toBe(true); // the source is told: its pushes are refused now
      await settles('source stops on its own', source.waitStop());
    } finally {
      await Promise.all([source.terminate(), writer.terminate()]);
      await fs.remove();
    }
  });

  it('a worker busy in a long synchronous task is terminated after the timeout, and close() says so', async () => {
    const busy = new BusyThread();
    await busy.start();
    await busy.send({ type: 'spin', ms: 120_000 });
    const err = await settles('busy.close(300)', busy.close(300).catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'ERR_STOP_TIMEOUT' });
    expect((err as Error).message).toMatch(/thread "busy" did not stop within 300 ms of close\(\): terminated/);
    expect(busy.isRunning).toBe(false);
  });
});
