import { isKeyFrame } from '@valkka/fs';
import { ThreadsError } from '../errors.js';
import type { SlotFrame } from '../slot-frame.js';

/** One elementary stream of a cache: (slot, subsession), packed in one number. */
export type StreamKey = number;
export const streamKey = (slot: number, subsession: number): StreamKey => slot * 65536 + subsession;
export const streamSlot = (key: StreamKey): number => Math.floor(key / 65536);
export const streamSubsession = (key: StreamKey): number => key % 65536;

/** Fraction of the budget a cache shrinks to when it evicts, so eviction is not redone at every frame. */
const LOW_WATER = 0.9;

/**
 * The frames of one transmission (one pullBlocks of the reader), sorted by time, with an index per
 * (slot, subsession) stream so a seek finds each stream's own key frame (the original kept insertion
 * order and one seek point per slot: its B9 and L2).
 *
 * Memory is the sum of payload bytes, bounded by `budgetBytes`. Over budget while filling, the cache
 * keeps what the target needs: it drops the oldest frames that come before the key frame starting the
 * target's GOP (of every stream that has one), and when that is not enough it refuses the rest of the
 * transmission (the newest frames); `truncated` then says so and the limits show what was kept.
 */
export class FrameCache {
  private frames: SlotFrame[] = [];
  private byStream = new Map<StreamKey, number[]>();
  private finished = false;
  private refusing = false;
  bytes = 0;
  /** Frames dropped or refused to stay within the budget. */
  dropped = 0;

  constructor(readonly budgetBytes: number) {}

  get length(): number {
    return this.frames.length;
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  /** Stream time of the first and last frame, or null when empty. */
  get limits(): { min: number; max: number } | null {
    if (!this.finished) throw new ThreadsError('ERR_CACHE_STATE', 'FrameCache.limits before finish()');
    const first = this.frames[0];
    const last = this.frames[this.frames.length - 1];
    return first && last ? { min: first.timestamp, max: last.timestamp } : null;
  }

  /**
   * Adds a frame of the transmission being filled. `target` is the stream time playback needs
   * (undefined when none is set: then the newest frames are kept).
   */
  add(frame: SlotFrame, target: number | undefined): void {
    if (this.finished) throw new ThreadsError('ERR_CACHE_STATE', 'FrameCache.add after finish()');
    if (this.refusing) {
      this.dropped++;
      return;
    }
    this.frames.push(frame);
    this.bytes += frame.payload.byteLength;
    if (this.bytes > this.budgetBytes) this.evict(target);
  }

  private evict(target: number | undefined): void {
    const keep = target === undefined ? Infinity : this.targetGopStart(target);
    let drop = 0;
    let bytes = this.bytes;
    const low = this.budgetBytes * LOW_WATER;
    while (drop < this.frames.length && bytes > low && this.frames[drop]!.timestamp < keep) {
      bytes -= this.frames[drop]!.payload.byteLength;
      drop++;
    }
    this.frames.splice(0, drop);
    this.dropped += drop;
    this.bytes = bytes;
    if (this.bytes > this.budgetBytes) {
      // Nothing more may go from the front: refuse the newest frame and everything after it.
      const last = this.frames.pop()!;
      this.bytes -= last.payload.byteLength;
      this.dropped++;
      this.refusing = true;
    }
  }

  /** The earliest, over the streams, of each stream's last key frame at or before `target` (-Infinity if none). */
  private targetGopStart(target: number): number {
    const keyTime = new Map<StreamKey, number>();
    for (const f of this.frames) {
      if (f.timestamp <= target && isKeyFrame(f)) keyTime.set(streamKey(f.slot, f.subsession), f.timestamp);
    }
    return keyTime.size === 0 ? -Infinity : Math.min(...keyTime.values());
  }

  /** Ends the transmission: sorts by time (stable: frames of one instant keep their order) and indexes the streams. */
  finish(): this {
    this.finished = true;
    this.frames.sort((a, b) => a.timestamp - b.timestamp); // Array.prototype.sort is stable
    this.frames.forEach((f, i) => {
      const key = streamKey(f.slot, f.subsession);
      let list = this.byStream.get(key);
      if (!list) this.byStream.set(key, (list = []));
      list.push(i);
    });
    return this;
  }

  frameAt(index: number): SlotFrame | undefined {
    return this.frames[index];
  }

  streams(): IterableIterator<StreamKey> {
    return this.byStream.keys();
  }

  /** Indices of the frames of `stream`, in time order. */
  indicesOf(stream: StreamKey): readonly number[] {
    return this.byStream.get(stream) ?? [];
  }

  /** Index of the last key frame of `stream` at or before `t`, or -1. */
  keyAtOrBefore(stream: StreamKey, t: number): number {
    const list = this.byStream.get(stream) ?? [];
    for (let j = this.countAtOrBefore(list, t) - 1; j >= 0; j--) {
      if (isKeyFrame(this.frames[list[j]!]!)) return list[j]!;
    }
    return -1;
  }

  /** Timestamp of the last frame of `stream` at or before `t` (-Infinity if none). */
  lastTimeAtOrBefore(stream: StreamKey, t: number): number {
    const list = this.byStream.get(stream) ?? [];
    const n = this.countAtOrBefore(list, t);
    return n === 0 ? -Infinity : this.frames[list[n - 1]!]!.timestamp;
  }

  /** Index of the first key frame of `stream` after `t`, or -1. */
  firstKeyAfter(stream: StreamKey, t: number): number {
    const list = this.byStream.get(stream) ?? [];
    for (let j = this.countAtOrBefore(list, t); j < list.length; j++) {
      if (isKeyFrame(this.frames[list[j]!]!)) return list[j]!;
    }
    return -1;
  }

  /** Index of the first key frame of `stream`, or -1. */
  firstKey(stream: StreamKey): number {
    return (this.byStream.get(stream) ?? []).find((i) => isKeyFrame(this.frames[i]!)) ?? -1;
  }

  /** Index of the first frame of `stream` after `t`, or `length` if none. */
  firstAfter(stream: StreamKey, t: number): number {
    const list = this.byStream.get(stream) ?? [];
    return list[this.countAtOrBefore(list, t)] ?? this.frames.length;
  }

  /** Timestamp of the first frame of `stream` (Infinity if it has none). */
  firstTime(stream: StreamKey): number {
    const first = this.byStream.get(stream)?.[0];
    return first === undefined ? Infinity : this.frames[first]!.timestamp;
  }

  /** How many entries of `list` (indices of frames, in time order) have a timestamp <= t: a binary search. */
  private countAtOrBefore(list: number[], t: number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.frames[list[mid]!]!.timestamp <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
