// Exported files checked with ffprobe and against ffmpeg's decode of the source clip: the first
// frame shown is the frame at `from`, the last the frame at `to`, none missing or repeated.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { Codec, MediaType, ValkkaSingleFS, loadValkkaFS } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ExportError, type ExportResult, exportRange } from '../src/index.js';
import { type Clip, type Recording, expectedFrames, haveFfmpeg, inspect, loadClip, record, subtitleCues, withRecording } from './helpers.js';

const why = skipReason('export against ffmpeg', [[haveFfmpeg, 'ffmpeg/ffprobe not installed']]);

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const FRAME = 40;

/** Exports [from, to] of `rec` and checks the file: clean ffprobe, the expected frames in order. */
async function exportAndCheck(rec: Recording, clip: Clip, from: number, to: number, expected = expectedFrames(rec.written, from, to)) {
  const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
  const output = join(rec.dirname, '..', `clip-${from}-${to}.mp4`);
  let result: ExportResult;
  try {
    result = await exportRange(fs, { from, to, output });
  } finally {
    await fs.close();
  }
  const { frames, probe } = inspect(output, clip);
  expect(probe.errors).toBe('');
  expect(frames).toEqual(expected);
  expect(probe.videoFrames).toBe(expected.length);
  expect(result.frames).toBe(expected.length);
  return { result, probe, output };
}

describe.skipIf(why)('exportRange', () => {
  let clip: Clip;
  let rec: Recording;

  beforeAll(async () => {
    clip = loadClip('h264-baseline-gop1s.h264');
    // 64 KiB blocks: a few key frames per block, so ranges cross block edges.
    rec = await record(clip, { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * FRAME });
  });
  afterAll(() => rec?.remove());

  it('starts on a key frame', async () => {
    const { result, probe } = await exportAndCheck(rec, clip, T0 + 25 * FRAME, T0 + 74 * FRAME);
    expect(result.frames).toBe(50);
    expect(result.framesInFile).toBe(50);
    expect(probe.codec).toBe('h264');
    expect(probe.creationTime).toBe(new Date(T0 + 1000).toISOString().replace('Z', '000Z'));
  });

  it('starts between key frames: the edit list hides the frames before from', async () => {
    const { result } = await exportAndCheck(rec, clip, T0 + 37 * FRAME, T0 + 61 * FRAME);
    expect(result.framesInFile).toBe(37 - 25 + 25);
    expect(result.firstFrame).toBe(T0 + 37 * FRAME);
  });

  it('from and to between frames: the frame on screen at from, the last at or before to', async () => {
    await exportAndCheck(rec, clip, T0 + 100 * FRAME + 17, T0 + 180 * FRAME + 39);
  });
});

describe.skipIf(why)('ranges across the ring', () => {
  it('crosses block edges: a range over several blocks, its subtitle track and creation time', async () => {
    const clip = loadClip('h264-baseline-gop1s.h264');
    await withRecording(clip, { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * FRAME }, async (rec) => {
      const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
      const blocks = fs.getInd([T0 + 30 * FRAME, T0 + 220 * FRAME]).length;
      await fs.close();
      expect(blocks).toBeGreaterThan(2);
      const { probe, result, output } = await exportAndCheck(rec, clip, T0 + 30 * FRAME, T0 + 220 * FRAME);
      // The tx3g track, decoded by ffmpeg: a cue per wall-clock second of video, at its place on the
      // timeline (time 0 = frame 30, 1.2 s into the recording's second 12:00:01).
      expect(probe.streams).toEqual(['video:h264', 'subtitle:mov_text']);
      const cues = subtitleCues(output);
      expect(cues[0]).toEqual({ start: 0, end: 800, text: '2026-11-30 12:00:01 UTC' });
      for (let s = 2; s <= 7; s++) expect(cues[s - 1]).toEqual({ start: 800 + (s - 2) * 1000, end: 1800 + (s - 2) * 1000, text: `2026-11-30 12:00:0${s} UTC` });
      // The last one ends with the last frame (frame 220, at 7.6 s, shown for 40 ms).
      expect(cues.at(-1)).toEqual({ start: 6800, end: 7640, text: '2026-11-30 12:00:08 UTC' });
      expect(cues).toHaveLength(8);
      expect(probe.creationTime).toBe(new Date(T0 + 30 * FRAME).toISOString().replace(/\.\d+Z$/, '.000000Z'));
      expect(result.holes).toEqual([]);
    });
  });

  it('across a hole: a gap on the timeline, listed; from inside a hole starts at the next key frame', async () => {
    const clip = loadClip('h264-baseline-gop1s.h264');
    const HOLE = 5000;
    const timeOf = (k: number): number => T0 + k * FRAME + (k >= 125 ? HOLE : 0);
    await withRecording(clip, { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf }, async (rec) => {
      const { result } = await exportAndCheck(rec, clip, timeOf(100), timeOf(160));
      expect(result.holes).toEqual([[timeOf(124), timeOf(125)]]);
      const inHole = await exportAndCheck(rec, clip, timeOf(124) + 2000, timeOf(140), expectedFrames(rec.written, timeOf(125), timeOf(140)));
      expect(inHole.result.origin).toBe(timeOf(124) + 2000);
      expect(inHole.result.holes).toEqual([[timeOf(124) + 2000, timeOf(125)]]);
      // A range entirely inside the hole holds nothing.
      const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
      try {
        const err = await exportRange(fs, { from: timeOf(124) + 1500, to: timeOf(124) + 3000, output: join(rec.dirname, '..', 'none.mp4') }).catch((e: unknown) => e);
        expect((err as ExportError).code).toBe('ERANGE');
        expect((err as ExportError).message).toMatch(/has no frame between/);
      } finally {
        await fs.close();
      }
    });
  });

  it("across the ring's wrap (the last physical block to block 0)", async () => {
    const clip = loadClip('h264-baseline-gop1s.h264');
    await withRecording(clip, { blocksize: 64 * 1024, nBlocks: 6, count: 600, timeOf: (k) => T0 + k * FRAME }, async (rec) => {
      const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
      const last = fs.blockTable.mstime1(5);
      const first = fs.blockTable.mstime1(0);
      const [start] = fs.getTimeRange()!;
      await fs.close();
      // Block 0 was written after block 5: the ring wrapped there.
      expect(first).toBeGreaterThan(last);
      expect(last).toBeGreaterThan(start);
      await exportAndCheck(rec, clip, last + 3 * FRAME, first + 20 * FRAME);
    });
  });
});

describe.skipIf(why)('codecs', () => {
  it('H.265', async () => {
    const clip = loadClip('h265-gop1s.h265');
    await withRecording(clip, { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * FRAME }, async (rec) => {
      const { probe, result } = await exportAndCheck(rec, clip, T0 + 40 * FRAME + 5, T0 + 200 * FRAME);
      expect(probe.codec).toBe('hevc');
      expect(result.codec).toBe('h265');
      expect([result.width, result.height]).toEqual([320, 240]);
    });
  });

  it('H.264 high profile, 2 s GOP, parameter sets only at the start of the source', async () => {
    const clip = loadClip('h264-high-gop2s.h264');
    await withRecording(clip, { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * FRAME }, async (rec) => {
      const { result } = await exportAndCheck(rec, clip, T0 + 149 * FRAME, T0 + 249 * FRAME);
      expect(result.framesInFile).toBe(100 + 49 + 1);
    });
  });
});

describe.skipIf(why)('GOPs longer than a block', () => {
  it('finds the key frame blocks before from (blocks without a key frame repeat the previous row)', async () => {
    const clip = loadClip('h264-high-gop2s.h264');
    // 4 KiB blocks: a 2 s GOP spans several blocks, most of them without a key frame.
    await withRecording(clip, { blocksize: 4096, nBlocks: 64, count: 250, timeOf: (k) => T0 + k * FRAME }, async (rec) => {
      const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
      const rows = fs.blockTable.timeOrder().map((b) => fs.blockTable.mstime1(b));
      await fs.close();
      expect(new Set(rows).size).toBeLessThan(rows.length);
      const { result } = await exportAndCheck(rec, clip, T0 + 90 * FRAME, T0 + 200 * FRAME);
      expect(result.framesInFile).toBe(200 - 50 + 1);
    });
  });
});

describe.skipIf(why)('while recording goes on', () => {
  it('exports up to the live edge', async () => {
    const clip = loadClip('h264-baseline-gop1s.h264');
    const base = await record(clip, { blocksize: 64 * 1024, nBlocks: 32, count: 0, timeOf: (k) => T0 + k * FRAME });
    const writer = await ValkkaSingleFS.loadFromDirectory(base.dirname);
    const written: Array<{ ts: number; frame: number }> = [];
    const write = async (k: number): Promise<void> => {
      const frame = k % clip.units.length;
      await writer.write({ streamId: 7, subsession: 0, timestamp: T0 + k * FRAME, mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload: clip.units[frame]!.payload });
      written.push({ ts: T0 + k * FRAME, frame });
    };
    try {
      for (let k = 0; k < 150; k++) await write(k);
      await writer.flush();
      const liveEdge = T0 + 149 * FRAME;
      // Recording goes on while the export reads.
      let k = 150;
      const more = (async () => {
        for (; k < 400; k++) {
          await write(k);
          if (k % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const rec = { ...base, written };
      await exportAndCheck(rec, clip, T0 + 60 * FRAME + 3, liveEdge);
      await more;
      expect(k).toBe(400);
    } finally {
      await writer.close();
      await base.remove();
    }
  });

  it('fails naming the lost instant when the recording overwrites blocks of the range meanwhile', async () => {
    const clip = loadClip('h264-baseline-gop1s.h264');
    const base = await record(clip, { blocksize: 64 * 1024, nBlocks: 6, count: 0, timeOf: (k) => T0 + k * FRAME });
    const writer = await ValkkaSingleFS.loadFromDirectory(base.dirname);
    let k = 0;
    const write = (): Promise<void> =>
      writer.write({ streamId: 7, subsession: 0, timestamp: T0 + k * FRAME, mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload: clip.units[k++ % clip.units.length]!.payload });
    const dir = join(base.dirname, '..');
    try {
      while (k < 250) await write();
      await writer.flush();
      const reader = await loadValkkaFS(base.dirname, { readOnly: true });
      const [start, end] = reader.getTimeRange()!;
      const plannedRows: number[] = [];
      let overwrote = false;
      const err = await exportRange(reader, {
        from: start,
        to: end,
        output: join(dir, 'lost.mp4'),
        onProgress: async (done) => {
          if (done !== 1) return;
          // After the first block: record another ring's worth, over every block not read yet.
          plannedRows.push(...reader.blockTable.timeOrder().map((b) => reader.blockTable.mstime1(b)));
          const until = k + 300;
          while (k < until) await write();
          await writer.flush();
          overwrote = true;
        },
      }).catch((e: unknown) => e);
      await reader.close();
      expect(overwrote).toBe(true);
      expect(err).toBeInstanceOf(ExportError);
      const e = err as ExportError;
      expect(e.code).toBe('EEXPIRED');
      expect(e.message).toMatch(/was overwritten by the ongoing recording during the export; nothing was written/);
      // The instant named starts the first block not read yet: the second or, when the read ahead
      // finished before the overwrite, the third.
      expect([plannedRows[1], plannedRows[2]]).toContain(e.lostAt);
      expect(e.message).toContain(new Date(e.lostAt!).toISOString());
      expect(readdirSync(dir).filter((f) => f.includes('lost'))).toEqual([]);
    } finally {
      await writer.close();
      await base.remove();
    }
  });
});

describe.skipIf(why)('bad input', () => {
  let rec: Recording;
  beforeAll(async () => {
    rec = await record(loadClip('h264-baseline-gop1s.h264'), { blocksize: 64 * 1024, nBlocks: 16, count: 100, timeOf: (k) => T0 + k * FRAME });
  });
  afterAll(() => rec?.remove());

  it('an output directory that does not exist: EARGUMENT naming it', async () => {
    const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
    const output = join(rec.dirname, '..', 'missing', 'clip.mp4');
    const err = await exportRange(fs, { from: T0, to: T0 + 1000, output }).catch((e: unknown) => e).finally(() => fs.close());
    expect((err as ExportError).code).toBe('EARGUMENT');
    expect((err as ExportError).message).toContain(`the directory ${join(rec.dirname, '..', 'missing')} does not exist`);
  });

  const cases: Array<[string, { from: number; to: number; streamId?: number }, string, RegExp]> = [
    ['from after to', { from: T0 + 2000, to: T0 + 1000 }, 'EARGUMENT', /is after to/],
    ['an unknown id', { from: T0, to: T0 + 1000, streamId: 9 }, 'ENOTFOUND', /stream id 9 is not in .* \(it holds stream 7\)/],
    ['before the recording', { from: T0 - 5000, to: T0 + 1000 }, 'ERANGE', /before the start of the recording/],
    ['after the recording', { from: T0, to: T0 + 60_000 }, 'ERANGE', /after the end of the recording/],
  ];
  for (const [name, range, code, message] of cases) {
    it(`${name}: a clear error, nothing written`, async () => {
      const fs = await loadValkkaFS(rec.dirname, { readOnly: true });
      const dir = join(rec.dirname, '..');
      const before = readdirSync(dir);
      try {
        const err = await exportRange(fs, { ...range, output: join(dir, 'bad.mp4') }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ExportError);
        expect((err as ExportError).code).toBe(code);
        expect((err as ExportError).message).toMatch(message);
      } finally {
        await fs.close();
      }
      expect(existsSync(join(dir, 'bad.mp4'))).toBe(false);
      expect(readdirSync(dir)).toEqual(before);
    });
  }
});
