import { FrameFlags, MediaType } from '@valkka/fs';
import type { SlotFrame } from '../slot-frame.js';
import type { MediaClip } from './media-clip.js';
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

/**
 * Plays a clip as a camera, pure and synchronous: frame k (counting across loops) is due at
 * start + k x frameMs on the clock and carries the timestamp startTime + k x frameMs, so timestamps
 * are spaced by the frame duration and monotone across loops. pull() returns whatever is due.
 */
export class FileSourceCore {
  private readonly slot: number;
  private readonly holes: SourceHole[];
  private readonly periodic: { everyMs: number; lengthMs: number } | undefined;
  private readonly resumeAtKey: boolean;
  /** Frames to play in all; Infinity when looping. */
  private readonly total: number;
  private startClock: number | undefined;
  private startTime: number;
  private next = 0;
  private waitingForKey = false;

  constructor(
    readonly clip: MediaClip,
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
    this.slot = options.slot;
    this.holes = options.holes ?? [];
    this.periodic = periodic;
    this.resumeAtKey = options.resumeAtKeyFrame ?? true;
    this.total = loops * clip.units.length;
    this.startTime = options.startTime ?? NaN;
  }

  get done(): boolean {
    return this.next >= this.total;
  }

  /** Frames handed out so far, including those skipped in holes. */
  get position(): number {
    return this.next;
  }

  /** Starts the camera now; the first frame is due at once. */
  start(): void {
    this.startClock = this.clock.now();
    if (Number.isNaN(this.startTime)) this.startTime = this.startClock;
  }

  /** The frames due at the clock's now(), in order. */
  pull(): SlotFrame[] {
    if (this.startClock === undefined) this.start();
    const elapsed = this.clock.now() - this.startClock!;
    const frames: SlotFrame[] = [];
    const { units, frameMs } = this.clip;
    while (!this.done && this.next * frameMs <= elapsed) {
      const k = this.next++;
      const offset = k * frameMs;
      const unit = units[k % units.length]!;
      if (this.inHole(offset)) {
        this.waitingForKey = this.resumeAtKey;
        continue;
      }
      if (this.waitingForKey && !unit.key) continue;
      this.waitingForKey = false;
      frames.push({
        slot: this.slot,
        subsession: 0,
        timestamp: this.startTime + offset,
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
