/**
 * What one block holds, accumulated frame by frame: the blockfile row (the original's mstime1/mstime2
 * rules for Single and Multi) and the per-stream summary written at the block's tail.
 */
import { type Frame, isKeyFrame } from './frame.js';
import type { StreamSummary } from './format.js';

export type Variant = 'single' | 'multi';

/** [mstime1, mstime2]; [0, 0] = unused. */
export type Row = [number, number];

const keyOf = (streamId: number, subsession: number): number => streamId * 256 + subsession;

export class BlockStats {
  /** mstime1 so far: Single = first (min) lead key frame, Multi = last (max) lead key frame; 0 = none. */
  mstime1 = 0;
  /** mstime2 so far: max lead frame timestamp; 0 = none. */
  mstime2 = 0;
  frames = 0;
  private readonly streams = new Map<number, StreamSummary>();

  constructor(readonly variant: Variant) {}

  /** Entries the summary would hold after adding a frame of this (stream, subsession). */
  entriesWith(streamId: number, subsession: number): number {
    return this.streams.size + (this.streams.has(keyOf(streamId, subsession)) ? 0 : 1);
  }

  get entryCount(): number {
    return this.streams.size;
  }

  add(frame: Pick<Frame, 'streamId' | 'subsession' | 'timestamp' | 'flags'>): void {
    const ts = frame.timestamp;
    const key = isKeyFrame(frame);
    this.frames++;
    if (frame.subsession === 0) {
      // Only lead-stream frames update the table, as in the original.
      this.mstime2 = Math.max(this.mstime2, ts);
      if (key) this.mstime1 = this.variant === 'multi' ? Math.max(this.mstime1, ts) : this.mstime1 <= 0 ? ts : Math.min(this.mstime1, ts);
    }
    const k = keyOf(frame.streamId, frame.subsession);
    let s = this.streams.get(k);
    if (!s) {
      s = { streamId: frame.streamId, subsession: frame.subsession, frames: 0, keyFrames: 0, firstTs: ts, lastTs: ts, firstKeyTs: 0, lastKeyTs: 0 };
      this.streams.set(k, s);
    }
    s.frames++;
    s.firstTs = Math.min(s.firstTs, ts);
    s.lastTs = Math.max(s.lastTs, ts);
    if (key) {
      s.keyFrames++;
      s.firstKeyTs = s.firstKeyTs === 0 ? ts : Math.min(s.firstKeyTs, ts);
      s.lastKeyTs = Math.max(s.lastKeyTs, ts);
    }
  }

  summary(): StreamSummary[] {
    return [...this.streams.values()].map((s) => ({ ...s }));
  }

  /**
   * The row to show while the block is open, so that playback reaches the live edge: [0, 0] until
   * it has a lead frame; without a lead key frame yet, mstime1 is the previous row's (the fallback
   * the original applied when it sealed such a block).
   */
  liveRow(previous: Row): Row {
    if (this.mstime2 === 0) return [0, 0];
    return [this.mstime1 > 0 ? this.mstime1 : previous[0], this.mstime2];
  }

  /** The row of the sealed block, with the original's fallbacks to the previous row ("frame", "keyframe"). */
  finalRow(previous: Row): { row: Row; msg: '' | 'frame' | 'keyframe' } {
    let msg: '' | 'frame' | 'keyframe' = '';
    let mstime2 = this.mstime2;
    let mstime1 = this.mstime1;
    if (mstime2 === 0) {
      mstime2 = previous[1];
      msg = 'frame';
    }
    if (mstime1 === 0) {
      mstime1 = previous[0];
      msg = 'keyframe';
    }
    return { row: [mstime1, mstime2], msg };
  }
}

/** The stats of a block's frames. */
export function statsOfFrames(variant: Variant, frames: Iterable<Pick<Frame, 'streamId' | 'subsession' | 'timestamp' | 'flags'>>): BlockStats {
  const stats = new BlockStats(variant);
  for (const f of frames) stats.add(f);
  return stats;
}

/** Rebuilds the stats of a block from its summary (recovery and check of sealed blocks). */
export function statsFromSummary(variant: Variant, entries: readonly StreamSummary[]): BlockStats {
  const stats = new BlockStats(variant);
  for (const e of entries) {
    // Feed the extremes: enough to reproduce mstime1/mstime2 and the entry itself.
    const base = { streamId: e.streamId, subsession: e.subsession };
    if (e.firstKeyTs > 0) stats.add({ ...base, timestamp: e.firstKeyTs, flags: 1 });
    if (e.lastKeyTs > 0 && e.lastKeyTs !== e.firstKeyTs) stats.add({ ...base, timestamp: e.lastKeyTs, flags: 1 });
    stats.add({ ...base, timestamp: e.firstTs, flags: 0 });
    stats.add({ ...base, timestamp: e.lastTs, flags: 0 });
  }
  return stats;
}

/** Whether two summaries hold the same entries (in any order): a seal checked against its records. */
export function sameSummary(a: readonly StreamSummary[], b: readonly StreamSummary[]): boolean {
  if (a.length !== b.length) return false;
  const byStream = (x: StreamSummary, y: StreamSummary) => x.streamId - y.streamId || x.subsession - y.subsession;
  const sb = [...b].sort(byStream);
  return [...a].sort(byStream).every((x, i) => {
    const y = sb[i]!;
    return (
      x.streamId === y.streamId && x.subsession === y.subsession && x.frames === y.frames && x.keyFrames === y.keyFrames &&
      x.firstTs === y.firstTs && x.lastTs === y.lastTs && x.firstKeyTs === y.firstKeyTs && x.lastKeyTs === y.lastKeyTs
    );
  });
}
