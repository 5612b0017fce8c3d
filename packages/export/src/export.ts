/**
 * exportRange: one stream's range of a ValkkaFS into an MP4 file, block by block. The file is
 * written under a temporary name beside the output and renamed at the end, so a failed export
 * (bad range, blocks overwritten meanwhile, a full disk) leaves nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import type { ValkkaFS } from '@valkka/fs';

import { type Hole, RangeCutter } from './cut.js';
import { ExportError, describeTime } from './errors.js';
import { Mp4Writer, type VideoCodecName } from './mp4.js';
import { type RangeFrame, type RangeRequest, planRange, readRange } from './range.js';

export interface ExportOptions extends RangeRequest {
  /** Path of the MP4 to write (replaced atomically when it exists). */
  output: string;
  /** A gap between frames larger than this is a hole (default 1000 ms). */
  maxGapMs?: number;
  /** Add the WebVTT track with the wall-clock time of each second (default true). */
  subtitles?: boolean;
  /** Also compute the SHA-256 of the file written (one more read of it). */
  sha256?: boolean;
  /** Called after each block read: blocks done and planned (a promise it returns is awaited). */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** Aborts the export (e.g. the HTTP client went away); nothing is written. */
  signal?: AbortSignal;
}

export interface ExportResult {
  file: string;
  streamId: number;
  codec: VideoCodecName;
  width: number;
  height: number;
  /** The range asked for, ms since the epoch, both ends inclusive. */
  range: [number, number];
  /** Time 0 of the file (ms since the epoch): the frame shown at `from`, or `from` when it falls in a hole. */
  origin: number;
  /** Timestamps of the first and last frames shown. */
  firstFrame: number;
  lastFrame: number;
  /** Frames shown, from the frame at `from` to the last at or before `to`. */
  frames: number;
  /** Frames in the file: also those from the key frame before `from`, hidden by the edit list. */
  framesInFile: number;
  /** Gaps in the recording inside the range, [last frame before, first frame after] (ms); `from`/`to` at the ends. */
  holes: Hole[];
  bytes: number;
  sha256?: string;
}

/** Exports [from, to] of one stream of `fs` into `options.output`. */
export async function exportRange(fs: ValkkaFS, options: ExportOptions): Promise<ExportResult> {
  const maxGapMs = options.maxGapMs ?? 1000;
  if (!(maxGapMs > 0)) throw new ExportError('EARGUMENT', `maxGapMs must be > 0, got ${maxGapMs}`);
  const outDir = dirname(options.output);
  if (!(await stat(outDir).then((st) => st.isDirectory(), () => false))) {
    throw new ExportError('EARGUMENT', `output ${options.output}: the directory ${outDir} does not exist`);
  }
  const plan = await planRange(fs, options);
  const { from, to, streamId } = plan;
  const temp = join(outDir, `.${basename(options.output)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
  const cutter = new RangeCutter(from, to, maxGapMs);
  const clock = new WallClockCues();
  let writer: Mp4Writer | undefined;
  const write = async (frames: RangeFrame[]): Promise<void> => {
    for (const frame of frames) {
      writer ??= new Mp4Writer(temp, cutter.origin!, options.subtitles ?? true);
      await writer.addFrame(frame);
      for (const cue of clock.next(frame.timestamp, cutter.origin!)) await writer.addCue(...cue);
    }
  };
  try {
    for await (const frames of readRange(fs, plan, options.onProgress)) {
      options.signal?.throwIfAborted();
      for (const frame of frames) {
        await write(cutter.push(frame));
        if (cutter.done) break;
      }
      if (cutter.done) break;
    }
    await write(cutter.finish());
    if (!writer || cutter.firstShown === undefined || cutter.lastShown === undefined) {
      throw new ExportError('ERANGE', `stream ${streamId} of ${fs.dirname} has no frame between ${describeTime(from)} and ${describeTime(to)} (a hole in the recording)`);
    }
    for (const cue of clock.end(to, cutter.origin!)) await writer.addCue(...cue);
    options.signal?.throwIfAborted();
    await writer.finish();
    const result: ExportResult = {
      file: options.output,
      streamId,
      codec: writer.codec!,
      width: writer.width,
      height: writer.height,
      range: [from, to],
      origin: cutter.origin!,
      firstFrame: cutter.firstShown,
      lastFrame: cutter.lastShown,
      frames: cutter.shown,
      framesInFile: cutter.frames,
      holes: cutter.holes,
      bytes: (await stat(temp)).size,
    };
    if (options.sha256) result.sha256 = await sha256Of(temp);
    await rename(temp, options.output);
    return result;
  } catch (err) {
    await writer?.cancel();
    await rm(temp, { force: true });
    throw err;
  }
}

/** The SHA-256 of a file, hex. */
export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 2 ** 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Start and end in ms on the file's timeline. */
type Cue = [start: number, end: number, text: string];

/**
 * One cue per wall-clock second that holds a frame shown, saying the time (UTC); a second with no
 * frame (a hole) gets none, so the clock never runs over a picture that is not of that time.
 */
class WallClockCues {
  /** Start (ms since the epoch) of the second of the last frame shown. */
  private second: number | undefined;

  /** The cue of the previous second when frame time `t` enters a new one. */
  next(t: number, origin: number): Cue[] {
    if (t < origin) return [];
    const second = Math.floor(t / 1000) * 1000;
    const done = this.second !== undefined && second > this.second ? [this.cue(this.second, this.second + 1000, origin)] : [];
    this.second = second;
    return done;
  }

  /** The cue of the last second, up to `to`. */
  end(to: number, origin: number): Cue[] {
    return this.second === undefined ? [] : [this.cue(this.second, Math.min(this.second + 1000, to + 1), origin)];
  }

  private cue(second: number, end: number, origin: number): Cue {
    const text = new Date(second).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    return [Math.max(0, second - origin), end - origin, text];
  }
}
