import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  FileCacherThread,
  FileSourceThread,
  FrameQueue,
  loadClip,
  PlaybackClock,
  type SlotFrame,
  ThreadDiedError,
  ValkkaFSReaderThread,
  ValkkaFSWriterThread,
} from '../src/index.js';
import { makeFs, readAll } from './helpers.js';

// A source thread feeds a writer while the owner sends commands without pause: commands travel on their own
// queue, so frames and commands never meet in one ring (before, the writer died within a second parsing frame
// bytes as a command). Every frame the source played is written or counted as dropped by policy (unmapped),
// the written ones in order and byte for byte; no worker dies.

const CLIP = join(import.meta.dirname, 'fixtures', 'h264-high-gop2s.h264');
const START = 1_700_000_000_000;
/** The source's clock runs this much faster than real time: about 1000 frames a second. */
const SPEEDUP = 40;

const clipOnce = loadClip(CLIP);

/** Runs the race for `ms`; with `playback`, a reader and a cacher take commands in the same loop. */
async function race(ms: number, playback: boolean): Promise<void> {
  const fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 48 });
  const clip = await clipOnce;
  const frameMs = clip.frameMs;
  const writer = new ValkkaFSWriterThread({ dirname: fs.dirname, queueBytes: 64 * 1024 });
  const clock = PlaybackClock.manual(0);
  const source = new FileSourceThread({ path: CLIP, output: writer.input, clock, slot: 1, startTime: START });
  const reader = playback ? new ValkkaFSReaderThread({ dirname: fs.dirname, outputBytes: 256 * 1024 }) : undefined;
  const cacher = reader ? new FileCacherThread({ input: reader.output, clock: PlaybackClock.manual(START), outputBytes: 256 * 1024 }) : undefined;
  const errors: unknown[] = [];
  for (const t of [writer, source, reader, cacher]) t?.on('error', (e: unknown) => errors.push(e));
  const played: SlotFrame[] = [];
  try {
    await writer.start();
    await source.start();
    let piped: Promise<void> | undefined;
    if (reader && cacher) {
      await reader.start();
      await cacher.start();
      await cacher.registerSlot(2);
      piped = cacher.pipeTo({ frame: (f) => played.push(f) });
    }
    const started = performance.now();
    let rounds = 0;
    let pulls = 0;
    let mappedOnce = false;
    let unmappedOnce = false;
    // At least `ms`, and until both policies were seen at work (a loaded machine may need more rounds).
    const enough = (): boolean => {
      const { written, unmapped } = writer.stats();
      return performance.now() - started >= ms && rounds >= 12 && written > 0 && unmapped > 0;
    };
    while (!enough() && performance.now() - started < 30_000) {
      clock.setNow((performance.now() - started) * SPEEDUP);
      await writer.setSlotId(1, 1);
      const mapped = writer.reportSlotIds(); // overlapping questions: each gets its own answer
      await writer.setSlotId(3, 9);
      await writer.unsetSlotId(3);
      if (rounds % 3 !== 0) await writer.unsetSlotId(1); // some rounds leave slot 1 mapped while frames flow
      const after = writer.reportSlotIds();
      expect(await mapped).toEqual([[1, 1]]);
      const now = await after;
      expect(now).toEqual(rounds % 3 !== 0 ? [] : [[1, 1]]);
      if (now.length > 0) mappedOnce = true;
      else unmappedOnce = true;
      if (reader && cacher) {
        await reader.setSlotId(2, 1);
        const ids = reader.reportSlotIds();
        await reader.pullBlocks([0, 1, 2, 3]);
        pulls++;
        await cacher.seek(START + (rounds % 50) * frameMs);
        await cacher.sync();
        expect(await ids).toEqual([[2, 1]]);
        await reader.unsetSlotId(1);
      }
      rounds++;
    }
    expect(mappedOnce && unmappedOnce).toBe(true);
    await source.close();
    await writer.close();
    if (reader && cacher) {
      await reader.reportSlotIds(); // answered after every pull before it was served
      expect(reader.stats().requests).toBe(pulls);
      await cacher.close();
      await reader.close();
      await piped;
    }
    expect(errors).toEqual([]);

    // Every frame the source played is written or unmapped, the written ones in order and byte for byte.
    const sent = source.counters().frames!;
    const stats = writer.stats();
    expect(sent).toBeGreaterThan(0);
    expect(stats.queue.frames).toBe(sent);
    expect(stats.written + stats.unmapped + stats.tooLarge + stats.wrongStream).toBe(sent);
    expect(stats.written).toBeGreaterThan(0);
    expect(stats.unmapped).toBeGreaterThan(0);
    const frames = await readAll(fs.dirname);
    expect(frames.length).toBe(stats.written);
    let previous = -1;
    for (const f of frames) {
      const k = Math.round((f.timestamp - START) / frameMs);
      expect(k).toBeGreaterThan(previous);
      previous = k;
      expect(Buffer.from(f.payload).equals(Buffer.from(clip.units[k % clip.units.length]!.payload))).toBe(true);
    }
    // What the cacher played came from the recording, intact.
    for (const f of played) {
      const k = Math.round((f.timestamp - START) / frameMs);
      expect(Buffer.from(f.payload).equals(Buffer.from(clip.units[k % clip.units.length]!.payload))).toBe(true);
    }
  } finally {
    await Promise.all([writer, source, reader, cacher].map((t) => t?.terminate()));
    await fs.remove();
  }
}

describe('one producer per queue', () => {
  it('a source feeds a writer while the owner sends commands without pause for 3 s: no worker dies, every frame written or unmapped, in order', async () => {
    await race(3000, false);
  });

  it('the same with a reader and a cacher taking commands and pulls in the same loop', async () => {
    await race(2000, true);
  });

  it.each(Array.from({ length: 20 }, (_, i) => i + 1))('the race again, short (%i of 20)', async () => {
    await race(300, false);
  });

  it('a FrameQueue refuses a second producer thread, and takes one after releaseProducer()', async () => {
    const queue = FrameQueue.create({ capacity: 64 * 1024 });
    expect(queue.pushFrame({ slot: 1, subsession: 0, timestamp: 1, mediaType: 0, codec: 27, flags: 0, payload: new Uint8Array(4) })).toBe(true);
    const producer = (): Promise<unknown> =>
      new Promise((resolve) => {
        const w = new Worker(new URL('./workers/producer-worker.mjs', import.meta.url), { workerData: { buffer: queue.buffer, count: 3, size: 16 } });
        w.once('error', resolve);
        w.once('message', resolve);
      });
    const refused = await producer();
    expect(refused).toMatchObject({ code: 'ERR_SECOND_PRODUCER' });
    expect((refused as Error).message).toMatch(/already has a producer \(the main thread\).*exactly one producer/);
    expect(queue.stats().frames).toBe(1); // nothing of the second producer got in
    expect(queue.releaseProducer()).toBe(true);
    expect(queue.pop()).toMatchObject({ kind: 'frame' });
    expect(await producer()).toEqual({ accepted: 3 });
  });

  it('a source thread that pushes into a queue someone else produces into dies with the reason instead of corrupting it', async () => {
    const output = FrameQueue.create({ capacity: 64 * 1024 });
    output.pushFrame({ slot: 1, subsession: 0, timestamp: 1, mediaType: 0, codec: 27, flags: 0, payload: new Uint8Array(4) });
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceThread({ path: CLIP, output, clock, slot: 1 });
    await source.start();
    clock.setNow(1000);
    const err = await source.waitStop().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThreadDiedError);
    expect(((err as Error).cause as { code?: string }).code).toBe('ERR_SECOND_PRODUCER');
    expect(output.stats().frames).toBe(1);
  });
});
