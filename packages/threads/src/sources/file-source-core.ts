import { FrameFlags, MediaType } from '@valkka/fs';
import type { SlotFrame } from '../slot-frame.js';
import type { ClipInfo, UnitCursor } from './clip-feed.js';
import type { ClipUnit, MediaClip } from './media-clip.js';
import { SourceError } from './source-error.js';

/** A stretch of time (from the source's start) in which the camera sends nothing. */
export interface SourceHole {
  afterMs: number;
  lengthMs: number;
}

export interface FileSourceOptions {
  /** The slot the frames carry (as a LiveThread's). */
  slot: number;
  /** Stream time of the first frame, ms since the epoch. Default: the clock's now() at start. */
  startTime?: number;
  /** Play the clip again and again (default true); false stops after `loops` plays (default 1). */
  loop?: boolean;
  loops?: number;
  /** Stop after this many frames (looping as needed), whatever `loop` says. */
  frames?: number;
  /** Times without frames, from the start of the source (in stream ms; they may fall in any loop). */
  holes?: SourceHole[];
  /** A hole that comes back: the last lengthMs of every everyMs (e.g. a camera that drops out 5 s a minute). */
  periodicHole?: { everyMs: number; lengthMs: number };
  /** After a hole, wait for the next key frame as a camera reconnecting would (default true). */
  resumeAtKeyFrame?: boolean;
}

/** Something with the time in ms; PlaybackClock is one, and a manual clock makes tests exact. */
export interface SourceClock {
  now(): number;
}

/** A clip held whole, played through `loops` times. */
class MemoryCursor implements UnitCursor {
  readonly info: ClipInfo;
  private k = 0;

  constructor(
    private readonly clip: MediaClip,
    private readonly total: number,
  ) {
    this.info = { path: clip.path, codec: clip.codec, container: clip.container, frameMs: clip.frameMs };
  }

  get ended(): boolean {
    return this.k >= this.total;
  }

  next(): ClipUnit | undefined {
    return this.ended ? undefined : this.clip.units[this.k++ % this.clip.units.length];
  }
}

/** Most frames one pull() returns: a source far behind its clock (or --fast) goes on in bounded batches. */
const MAX_PULL = 256;

/**
 * Plays a clip as a camera, pure and synchronous: frame k (counting across loops) is due at
 * start + k x frameMs on the clock and carries the timestamp startTime + k x frameMs, so timestamps
 * are spaced by the frame duration and monotone across loops. pull() returns whatever is due (at most
 * MAX_PULL frames at a time). The clip is held whole (MediaClip) or streamed (a ClipFeed, a UnitCursor):
 * with a stream, pull() stops early when the read-ahead runs dry; the owner fills it and pulls again.
 */
export class FileSourceCore {
  private readonly slot: number;
  private readonly holes: SourceHole[];
  private readonly periodic: { everyMs: number; lengthMs: number } | undefined;
  private readonly resumeAtKey: boolean;
  /** Frames to play in all; Infinity when looping. */
  private readonly total: number;
  private readonly units: UnitCursor;
  readonly clip: ClipInfo;
  private startClock: number | undefined;
  private startTime: number;
  private next = 0;
  private waitingForKey = false;

  constructor(
    clip: MediaClip | UnitCursor,
    private readonly clock: SourceClock,
    options: FileSourceOptions,
  ) {
    if (!Number.isInteger(options.slot) || options.slot < 1 || options.slot > 65535) {
      throw new SourceError('ERR_SOURCE_OPTIONS', `slot must be an integer 1..65535, got ${options.slot}`);
    }
    for (const h of options.holes ?? []) {
      if (!(h.afterMs >= 0 && h.lengthMs > 0)) {
        throw new SourceError('ERR_SOURCE_OPTIONS', `a hole needs afterMs >= 0 and lengthMs > 0, got ${JSON.stringify(h)}`);
      }
    }
    const periodic = options.periodicHole;
    if (periodic && !(periodic.everyMs > 0 && periodic.lengthMs > 0 && periodic.lengthMs < periodic.everyMs)) {
      throw new SourceError('ERR_SOURCE_OPTIONS', `periodicHole needs 0 < lengthMs < everyMs, got ${JSON.stringify(periodic)}`);
    }
    const loops = options.loop === false ? (options.loops ?? 1) : Infinity;
    if (!(loops >= 1)) throw new SourceError('ERR_SOURCE_OPTIONS', `loops must be at least 1, got ${options.loops}`);
    const frames = options.frames ?? Infinity;
    if (!(frames >= 1)) throw new SourceError('ERR_SOURCE_OPTIONS', `frames must be at least 1, got ${options.frames}`);
    this.slot = options.slot;
    this.holes = options.holes ?? [];
    this.periodic = periodic;
    this.resumeAtKey = options.resumeAtKeyFrame ?? true;
    if ('units' in clip) {
      this.total = Math.min(frames, loops * clip.units.length);
      this.units = new MemoryCursor(clip, this.total);
    } else {
      this.total = frames; // the stream knows its own loops
      this.units = clip;
    }
    this.clip = this.units.info;
    this.startTime = options.startTime ?? NaN;
  }

  get done(): boolean {
    return this.next >= this.total || this.units.ended;
  }

  /** Frames handed out so far, including those skipped in holes. */
  get position(): number {
    return this.next;
  }

  /** Starts the camera now; the first frame is due at once. */
  start(): void {
    this.startClock = this.clock.now();
    if (Number.isNaN(this.startTime)) this.startTime = Math.round(this.startClock); // a system clock has fractions of a ms; stored timestamps are whole ms
  }

  /** The frames due at the clock's now(), in order (at most `max`). */
  pull(max = MAX_PULL): SlotFrame[] {
    if (this.startClock === undefined) this.start();
    const elapsed = this.clock.now() - this.startClock!;
    const frames: SlotFrame[] = [];
    const { frameMs } = this.clip;
    while (frames.length < max && this.next < this.total && this.next * frameMs <= elapsed) {
      const unit = this.units.next();
      if (!unit) break; // ended, or a stream's read-ahead is empty
      const k = this.next++;
      const offset = k * frameMs;
      if (this.inHole(offset)) {
        this.waitingForKey = this.resumeAtKey;
        continue;
      }
      if (this.waitingForKey && !unit.key) continue;
      this.waitingForKey = false;
      frames.push({
        slot: this.slot,
        subsession: 0,
        timestamp: Math.round(this.startTime + offset),
        mediaType: MediaType.video,
        codec: this.clip.codec,
        flags: unit.key ? FrameFlags.key | FrameFlags.config : 0,
        payload: unit.payload,
      });
    }
    return frames;
  }

  /** Clock time when the next frame is due (Infinity when done). */
  nextWakeAt(): number {
    if (this.done) return Infinity;
    return (this.startClock ?? this.clock.now()) + this.next * this.clip.frameMs;
  }

  private inHole(offset: number): boolean {
    const p = this.periodic;
    if (p && offset % p.everyMs >= p.everyMs - p.lengthMs) return true;
    return this.holes.some((h) => offset >= h.afterMs && offset < h.afterMs + h.lengthMs);
  }
}
