/**
 * Recorded ranges per stream, for a timeline: the spans each block holds, merged across blocks,
 * with holes where a stream was not recorded.
 */
import { type BlockTable, BlockTableError } from './block-table.js';
import { type TimeRange, getInd } from './search.js';

/** Where one stream's frames lie inside one block. */
export interface StreamSpan {
  streamId: number;
  /** Timestamp of the stream's first frame in the block, ms. */
  first: number;
  /** Timestamp of the stream's last frame in the block, ms. */
  last: number;
}

export interface RecordedRangesOptions {
  /**
   * Two spans of a stream further apart than this (ms) are separate ranges: a hole. Give e.g.
   * twice the usual frame interval, or a threshold per stream.
   */
  maxGapMs: number | ((streamId: number) => number);
  /** Only blocks needed for this interval (getInd), instead of every used block. */
  within?: TimeRange;
}

/**
 * Recorded intervals per stream, merged across blocks: spans closer than maxGapMs join into one
 * range; a larger gap (a hole, a camera that was down) starts a new one. Spans are merged in time
 * order whatever the block order, so overlapping spans after a clock jump merge too.
 * `spansOf(block)` gives the per-stream spans of a used block (the filesystem keeps them).
 */
export function recordedRanges(
  table: BlockTable,
  spansOf: (block: number) => readonly StreamSpan[] | undefined,
  options: RecordedRangesOptions,
): Map<number, Array<[number, number]>> {
  const gapOf = typeof options.maxGapMs === 'function' ? options.maxGapMs : () => options.maxGapMs as number;
  const blocks = options.within ? getInd(table, options.within) : table.timeOrder();
  const byStream = new Map<number, StreamSpan[]>();
  for (const block of blocks) {
    for (const span of spansOf(block) ?? []) {
      if (!(span.first <= span.last)) {
        throw new BlockTableError('EINVAL', `block ${block}, stream ${span.streamId}: span first ${span.first} > last ${span.last}`);
      }
      let list = byStream.get(span.streamId);
      if (!list) byStream.set(span.streamId, (list = []));
      list.push(span);
    }
  }
  const out = new Map<number, Array<[number, number]>>();
  for (const [streamId, spans] of [...byStream].sort(([a], [b]) => a - b)) {
    const maxGap = gapOf(streamId);
    if (!(maxGap >= 0)) throw new BlockTableError('EINVAL', `maxGapMs for stream ${streamId} must be >= 0, got ${maxGap}`);
    spans.sort((a, b) => a.first - b.first);
    const ranges: Array<[number, number]> = [];
    for (const { first, last } of spans) {
      const prev = ranges[ranges.length - 1];
      if (prev && first - prev[1] <= maxGap) prev[1] = Math.max(prev[1], last);
      else ranges.push([first, last]);
    }
    out.set(streamId, ranges);
  }
  return out;
}
