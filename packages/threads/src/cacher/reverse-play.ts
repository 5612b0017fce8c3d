import { isKeyFrame } from '@valkka/fs';
import type { FrameCache, StreamKey } from './frame-cache.js';

/** One GOP of one stream as reverse play sends it: its frames in decode order, due when the timeline reaches `last`. */
export interface ReverseGop {
  stream: StreamKey;
  /** Indices into the cache, in decode (= time) order. */
  indices: number[];
  /** Time of its key frame (the last instant it is shown at on the reversed timeline). */
  first: number;
  /** Time of its newest frame (the first instant it is shown at). */
  last: number;
}

const EPSILON_MS = 0.01;

/**
 * Where reverse play stands in each stream: the next GOP to send is the newest one whose frames lie before
 * `before[stream]`. A GOP goes out whole, in decode order, when the reversed timeline reaches its newest frame,
 * so a consumer decodes it and shows its frames backwards at their instants. A GOP whose key frame is not in
 * the cache (it starts in an older block) waits for a cache that holds it; nothing is sent half.
 * Above the key-frame-only rate each key frame is a GOP of its own.
 */
export class ReverseCursor {
  private before = new Map<StreamKey, number>();
  /** Per stream, the oldest instant shown so far (the key frame of the last GOP sent). */
  private shownFrom = new Map<StreamKey, number>();

  reset(): void {
    this.before.clear();
    this.shownFrom.clear();
  }

  /** Streams new to reverse play start with the GOP holding `s` (frames up to `s`); the others go on where they were. */
  position(cache: FrameCache, s: number): void {
    for (const stream of cache.streams()) if (!this.before.has(stream)) this.before.set(stream, s + EPSILON_MS);
  }

  /** The oldest instant shown of a stream, if any GOP of it went out. */
  shownSince(stream: StreamKey): number | undefined {
    return this.shownFrom.get(stream);
  }

  /** The next GOP of `stream`, or undefined when none is complete in the cache. */
  next(cache: FrameCache, stream: StreamKey, keyOnly: boolean): ReverseGop | undefined {
    const before = this.before.get(stream);
    if (before === undefined) return undefined;
    const list = cache.indicesOf(stream);
    let n = countBefore(cache, list, before);
    if (n === 0) return undefined;
    let k = n - 1;
    while (k >= 0 && !isKeyFrame(cache.frameAt(list[k]!)!)) k--;
    if (k < 0) return undefined;
    if (keyOnly) n = k + 1;
    const indices = list.slice(k, n);
    return { stream, indices, first: cache.frameAt(indices[0]!)!.timestamp, last: cache.frameAt(indices[indices.length - 1]!)!.timestamp };
  }

  /** Marks a GOP as sent: the stream goes on with the GOP before it. */
  sent(gop: ReverseGop): void {
    this.before.set(gop.stream, gop.first);
    this.shownFrom.set(gop.stream, gop.first);
  }

  /** The GOPs due at stream time `s` (the timeline runs backwards), newest first. */
  due(cache: FrameCache, s: number, keyOnly: boolean, playable: (stream: StreamKey) => boolean): ReverseGop[] {
    const out: ReverseGop[] = [];
    for (const stream of cache.streams()) {
      if (!playable(stream)) continue;
      // Stop at the first GOP that is not due yet; mark what is taken so the next one is found.
      const saved = this.before.get(stream);
      for (let g = this.next(cache, stream, keyOnly); g && s <= g.last + EPSILON_MS; g = this.next(cache, stream, keyOnly)) {
        out.push(g);
        this.before.set(stream, g.first);
      }
      if (saved !== undefined) this.before.set(stream, saved);
    }
    return out.sort((a, b) => b.last - a.last);
  }

  /** Clock-independent: the newest instant at which some stream has a GOP to send (undefined: none). */
  nextDue(cache: FrameCache, keyOnly: boolean, playable: (stream: StreamKey) => boolean): number | undefined {
    let best: number | undefined;
    for (const stream of cache.streams()) {
      if (!playable(stream)) continue;
      const g = this.next(cache, stream, keyOnly);
      if (g && (best === undefined || g.last > best)) best = g.last;
    }
    return best;
  }
}

/** How many entries of `list` have a timestamp < t (binary search; the list is in time order). */
function countBefore(cache: FrameCache, list: readonly number[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cache.frameAt(list[mid]!)!.timestamp < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
