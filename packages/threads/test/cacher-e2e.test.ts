import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCacherThread } from '../src/cacher/cacher-thread.js';
import { PlaybackClock } from '../src/cacher/playback-clock.js';
import type { FrameQueue } from '../src/queue/frame-queue.js';
import { ValkkaFSReaderThread } from '../src/reader/reader-thread.js';
import type { SlotFrame } from '../src/slot-frame.js';
import { FileSourceThread } from '../src/sources/file-source-thread.js';
import { ValkkaFSWriterThread } from '../src/writer/writer-thread.js';
import { readFrameNumber } from './fixtures/frame-number.js';
import { makeFs } from './helpers.js';

// Record a fixture into a real ValkkaFS (FileSourceThread -> ValkkaFSWriterThread), read it back with the reader thread into a
// cacher thread, seek to many instants and decode each burst with ffmpeg: the last picture must be the
// exact frame at the target. Runs the built workers: `pnpm --filter @valkka/threads build` first.

const why = skipReason('cacher end to end', [[hasCommand('ffmpeg', ['-version']), 'ffmpeg not installed']]);
const CLIP = join(import.meta.dirname, 'fixtures', 'h264-high-gop2s.h264');
const START = 1_700_000_000_000;
const FRAME_MS = 40;
const FRAMES = 600; // two loops and a bit of the 250-frame clip: 24 s, GOP 2 s

describe.skipIf(why)('FileCacherThread end to end: record, read back, seek to exact frames', () => {
  let fs: Awaited<ReturnType<typeof makeFs>>;
  let reader: ValkkaFSReaderThread;
  let cacher: FileCacherThread;
  let tmp: string;
  const blocks: number[] = [];
  const playClock = PlaybackClock.manual(0);

  beforeAll(async () => {
    fs = await makeFs({ blocksize: 64 * 1024, nBlocks: 16 });
    tmp = fs.dirname;
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
    writer.on('block', (b: { index: number }) => blocks.push(b.index));
    await writer.start();
    await writer.setSlotId(1, 77);
    // The file source thread as the camera, straight into the writer's queue, on a manual clock: 24 s in no time.
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceThread({ path: CLIP, output: writer.input, clock, slot: 1, startTime: START });
    await source.start();
    clock.setNow((FRAMES - 1) * FRAME_MS);
    while ((source.counters().position ?? 0) < FRAMES) await new Promise((resolve) => setTimeout(resolve, 10));
    await source.close();
    await writer.close();

    reader = new ValkkaFSReaderThread({ dirname: fs.dirname });
    await reader.start();
    await reader.setSlotId(2, 77);
    cacher = new FileCacherThread({ input: reader.output, clock: playClock });
    await cacher.start();
    await cacher.registerSlot(2);
  });

  afterAll(async () => {
    await cacher?.close();
    await reader?.close();
    await fs?.remove();
  });

  /** Everything the cacher sends for one seek: from its seek state to its stop state. */
  async function burst(output: FrameQueue): Promise<SlotFrame[]> {
    const frames: SlotFrame[] = [];
    let started = false;
    for (;;) {
      const entry = await output.popAsync(10_000);
      if (!entry) throw new Error('the cacher sent no stop state within 10 s');
      if (entry.kind === 'frame' && started) frames.push(entry.frame);
      if (entry.kind === 'command' && entry.command.type === 'stream_state') {
        if (entry.command.state === 'seek') started = true;
        if (entry.command.state === 'stop' && started) return frames;
      }
    }
  }

  function decodedFrameNumbers(frames: SlotFrame[], name: string): number[] {
    const file = join(tmp, `${name}.h264`);
    writeFileSync(file, Buffer.concat(frames.map((f) => f.payload)));
    const gray = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 });
    const size = 320 * 240;
    return Array.from({ length: gray.length / size }, (_, i) => readFrameNumber(gray.subarray(i * size, (i + 1) * size), 320, 240));
  }

  it('every seek shows the exact frame at its target, decoded from its key frame', async () => {
    expect(blocks.length).toBeGreaterThan(2); // the recording spans several blocks
    const limits = new Promise<{ limits: { min: number; max: number } }>((resolve) => cacher.once('limits', resolve));
    await reader.pullBlocks(blocks);
    expect((await limits).limits).toEqual({ min: START, max: START + (FRAMES - 1) * FRAME_MS });

    // Targets all over the recording, including on key frames, just before them, and between frames.
    const targets = [0, 1, 39, 40, 1999, 2000, 2039, 5013, 9999, 10_000, 10_040, 13_333, 17_777, 19_960, 21_000, 23_960];
    for (let i = 0; i < 30; i++) targets.push(Math.floor(Math.random() * ((FRAMES - 1) * FRAME_MS + 1))); // within the recording
    for (const [n, offset] of targets.entries()) {
      await cacher.seek(START + offset);
      const frames = await burst(cacher.output);
      const expected = Math.floor(offset / FRAME_MS); // the frame shown at the target
      expect(frames[0]!.flags & 1, `seek ${offset}: the burst starts at a key frame`).toBe(1);
      expect(frames[frames.length - 1]!.timestamp, `seek ${offset}`).toBe(START + expected * FRAME_MS);
      const numbers = decodedFrameNumbers(frames, `seek-${n}`);
      expect(numbers.length, `seek ${offset}: every frame of the burst decodes`).toBe(frames.length);
      expect(numbers[numbers.length - 1], `seek ${offset}: the picture at the target`).toBe(expected % 250);
    }
  });

  it('plays on from a seek: the burst and the played frames decode to consecutive frame numbers', async () => {
    await cacher.seek(START + 5013);
    const shown = await burst(cacher.output);
    await cacher.play();
    for (let e = await cacher.output.popAsync(10_000); !(e?.kind === 'command' && e.command.state === 'play'); e = await cacher.output.popAsync(10_000)) {
      if (!e) throw new Error('no play state');
    }
    playClock.advance(2000); // the worker anchored the timeline before sending play: stream time 7013, frames 5040..7000
    const played: SlotFrame[] = [];
    while (played.length < 50) {
      const entry = await cacher.output.popAsync(10_000);
      if (!entry) throw new Error(`only ${played.length} frames played`);
      if (entry.kind === 'frame') played.push(entry.frame);
    }
    await cacher.stop();
    expect(played.map((f) => f.timestamp)).toEqual(Array.from({ length: 50 }, (_, i) => START + 5040 + i * FRAME_MS));
    const numbers = decodedFrameNumbers([...shown, ...played], 'play');
    const first = numbers[0]!;
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => first + i));
    expect(numbers[numbers.length - 1]).toBe(175);
  });
});
