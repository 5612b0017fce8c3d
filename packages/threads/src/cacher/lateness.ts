/** Summary of how late frames went out after their instant on the clock (ms). */
export interface LatenessSummary {
  /** Frames measured (sent while playing). */
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Histogram resolution and range: 0.05 ms buckets up to 200 ms; later frames share the last bucket, whose percentile is the max. */
const BUCKET_MS = 0.05;
const BUCKETS = 4000;
const COUNT = BUCKETS;
const MAX = BUCKETS + 1;

/**
 * A histogram of emission lateness in shared memory: the cacher's worker records each frame it sends while
 * playing (emission instant − the frame's instant on the PlaybackClock), the owner reads percentiles at any time
 * without a message round trip. One writer (the worker); a reader may see a frame counted a moment late.
 */
export class LatenessHistogram {
  private readonly values: Float64Array;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.values = new Float64Array(buffer);
  }

  static create(): LatenessHistogram {
    return new LatenessHistogram(new SharedArrayBuffer(8 * (BUCKETS + 2)));
  }

  static attach(buffer: SharedArrayBuffer): LatenessHistogram {
    return new LatenessHistogram(buffer);
  }

  /** Records one frame `ms` late (early frames count as 0). */
  record(ms: number): void {
    const late = Math.max(0, ms);
    const v = this.values;
    v[Math.min(BUCKETS - 1, Math.floor(late / BUCKET_MS))]! += 1;
    v[COUNT]! += 1;
    if (late > v[MAX]!) v[MAX] = late;
  }

  /** Percentiles at the upper edge of their bucket (never under-reported), 0 when nothing was recorded. */
  summary(): LatenessSummary {
    const v = this.values;
    const count = v[COUNT]!;
    const max = v[MAX]!;
    const percentile = (p: number): number => {
      const rank = Math.ceil((p / 100) * count);
      let seen = 0;
      for (let b = 0; b < BUCKETS; b++) {
        seen += v[b]!;
        if (seen >= rank) return b === BUCKETS - 1 ? max : Math.min(max, (b + 1) * BUCKET_MS);
      }
      return max;
    };
    return count === 0 ? { count: 0, p50: 0, p99: 0, max: 0 } : { count, p50: percentile(50), p99: percentile(99), max };
  }
}
