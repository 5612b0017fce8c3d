// Exported files checked with ffprobe and against ffmpeg's decode of the source clip: the first
// frame shown is the frame at `from`, the last the frame at `to`, none missing or repeated.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { loadValkkaFS } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ExportError, type ExportResult, exportRange } from '../src/index.js';
import { type Clip, type Recording, expectedFrames, haveFfmpeg, inspect, loadClip, record } from './helpers.js';

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

describe.skipIf(why)('bad input', () => {
  let rec: Recording;
  beforeAll(async () => {
    rec = await record(loadClip('h264-baseline-gop1s.h264'), { blocksize: 64 * 1024, nBlocks: 16, count: 100, timeOf: (k) => T0 + k * FRAME });
  });
  afterAll(() => rec?.remove());

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
