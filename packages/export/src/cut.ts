/**
 * Which frames of a stream go into the file, and where they sit on its timeline. The file starts
 * with the key frame at or before `from`; the frame on screen at `from` is time 0 (an edit list
 * hides the frames before it), the last frame is the last one at or before `to`, and a gap between
 * frames larger than `maxGapMs` is a hole: it stays a gap on the timeline and is listed.
 */
import { ExportError, describeTime } from './errors.js';
import type { RangeFrame } from './range.js';

export type Hole = [number, number];

/** Feed the frames in stream order; it hands back those that belong in the file. */
export class RangeCutter {
  /** ms since the epoch of the file's time 0: the frame shown at `from`, or `from` itself when it falls in a hole. */
  origin: number | undefined;
  /** Frames in the file, including those before `from` that decoding needs. */
  frames = 0;
  /** Frames shown: from the frame at `from` to the last at or before `to`. */
  shown = 0;
  /** Timestamps of the first and last frames shown. */
  firstShown: number | undefined;
  lastShown: number | undefined;
  /** Gaps between frames larger than maxGapMs, the part of each inside [from, to] (ms since the epoch). */
  readonly holes: Hole[] = [];
  private pending: RangeFrame[] = [];
  /** The last frame at or before `from`, key or not, and the first after `to`: where the gaps at the ends start and end. */
  private lastBefore: number | undefined;
  private firstAfter: number | undefined;
  private previous: number | undefined;
  private lastEmitted: number | undefined;
  /** True once a frame after `to` was seen: nothing further is needed. */
  done = false;

  constructor(
    readonly from: number,
    readonly to: number,
    readonly maxGapMs: number,
  ) {}

  /** The frames (zero or more) to write now, given the next frame of the stream. */
  push(frame: RangeFrame): RangeFrame[] {
    if (this.done) return [];
    if (this.previous !== undefined && frame.timestamp < this.previous) {
      throw new ExportError('EMEDIA', `the stream's timestamps go back from ${describeTime(this.previous)} to ${describeTime(frame.timestamp)} (a clock jump); export the ranges on each side of it separately`);
    }
    this.previous = frame.timestamp;
    if (this.origin === undefined) {
      if (frame.timestamp <= this.from) {
        // Keep the run from the latest key frame: only it is needed to decode the frame at `from`.
        // A copy (not Buffer#slice, which shares): the payload points into a block buffer that the reader reuses.
        const held = { ...frame, payload: new Uint8Array(frame.payload) };
        if (frame.key) this.pending = [held];
        else if (this.pending.length > 0) this.pending.push(held);
        this.lastBefore = frame.timestamp;
        return [];
      }
      // `from` falls in a hole when the frames around it are further apart than maxGapMs.
      this.checkKeyFound(frame.timestamp);
      const before = this.pending.at(-1);
      if (before && frame.timestamp - before.timestamp <= this.maxGapMs) {
        this.origin = before.timestamp;
        const out = this.pending.map((f) => this.emit(f));
        this.pending = [];
        return [...out, ...this.next(frame)];
      }
      // `from` falls in a hole: the file starts at `from` and shows the next key frame when it comes.
      this.pending = [];
      if (!frame.key) return [];
      this.origin = this.from;
    }
    return this.next(frame);
  }

  /** After the last frame: the frames still held (a range that ends before the next frame comes). */
  finish(): RangeFrame[] {
    if (this.origin !== undefined) {
      const end = this.firstAfter ?? this.to;
      if (this.lastShown !== undefined && this.lastShown < this.to && end - this.lastShown > this.maxGapMs) this.holes.push([this.lastShown, this.to]);
      return [];
    }
    this.checkKeyFound(this.from);
    const before = this.pending.at(-1);
    if (!before || this.from - before.timestamp > this.maxGapMs) return [];
    this.origin = before.timestamp;
    const out = this.pending.map((f) => this.emit(f));
    this.pending = [];
    return out;
  }

  /** Frames right before `from` without their key frame: the reading started too late. Never a silent skip. */
  private checkKeyFound(next: number): void {
    if (this.pending.length === 0 && this.lastBefore !== undefined && next - this.lastBefore <= this.maxGapMs) {
      throw new ExportError('EMEDIA', `no key frame found before the frame at ${describeTime(this.lastBefore)} (from ${describeTime(this.from)}): it cannot be decoded`);
    }
  }

  private next(frame: RangeFrame): RangeFrame[] {
    if (frame.timestamp > this.to) {
      this.done = true;
      this.firstAfter = frame.timestamp;
      return [];
    }
    return [this.emit(frame)];
  }

  private emit(frame: RangeFrame): RangeFrame {
    const origin = this.origin!;
    if (frame.timestamp >= origin) {
      // A gap counts by its whole length; the part inside [from, to] is listed.
      const gapFrom = this.lastEmitted === undefined || this.lastEmitted < origin ? (this.lastBefore ?? this.from) : this.lastEmitted;
      if (frame.timestamp - gapFrom > this.maxGapMs && frame.timestamp > this.from) this.holes.push([Math.max(gapFrom, this.from), frame.timestamp]);
      this.firstShown ??= frame.timestamp;
      this.lastShown = frame.timestamp;
      this.shown++;
    }
    this.lastEmitted = frame.timestamp;
    this.frames++;
    return frame;
  }
}
