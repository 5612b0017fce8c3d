/**
 * What `valkka info` and `valkka dump-block` show: a description of a filesystem (format, geometry,
 * streams and their recorded ranges) built in one pass with memory bounded by the streams and their
 * ranges, and the records of one block without their payloads.
 */
import type { Variant } from './block-stats.js';
import type { StreamSummary } from './format.js';
import type { BlockContents } from './reader.js';

export interface DumpedRecord {
  offset: number;
  streamId: number;
  subsession: number;
  timestamp: number;
  mediaType: number;
  codec: number;
  flags: number;
  key: boolean;
  config: boolean;
  length: number;
}

export interface DumpedBlock {
  index: number;
  seq: number;
  sealed: boolean;
  end: number;
  records: DumpedRecord[];
  summary: StreamSummary[] | null;
}

export interface FsDescription {
  /** 'libvalkka' for a directory written by the original (formatVersion 0). */
  format: 'valkkafs-ts' | 'libvalkka';
  formatVersion: number;
  variant: Variant;
  dirname: string;
  dumpfile: string;
  partitionUuid: string | null;
  fsId: string;
  blocksize: number;
  nBlocks: number;
  capacityBytes: number;
  maxFramePayload: number;
  currentBlock: number;
  usedBlocks: number;
  timeRange: [number, number] | null;
  streams: Array<{ streamId: number; frames: number; keyFrames: number; ranges: Array<[number, number]> }>;
}

/** What a handle says of itself, read after the pass over its blocks. */
export type FsFacts = Omit<FsDescription, 'usedBlocks' | 'streams'>;

/** A block's records without payloads. */
export function dumpBlockContents(c: BlockContents): DumpedBlock {
  return {
    index: c.index,
    seq: c.seq,
    sealed: c.sealed,
    end: c.end,
    summary: c.summary ?? null,
    records: c.frames.map((f) => ({
      offset: f.offset,
      streamId: f.streamId,
      subsession: f.subsession,
      timestamp: f.timestamp,
      mediaType: f.mediaType,
      codec: f.codec,
      flags: f.flags,
      key: (f.flags & 1) !== 0,
      config: (f.flags & 2) !== 0,
      length: f.payload.length,
    })),
  };
}

/**
 * The description from the per-stream summaries of every used block, in time order: frames and key
 * frames summed per stream, spans closer than maxGapMs joined into one recorded range.
 */
export async function describeBlocks(summaries: AsyncIterable<readonly StreamSummary[]>, facts: () => FsFacts, maxGapMs = 5000): Promise<FsDescription> {
  const streams = new Map<number, { frames: number; keyFrames: number; ranges: Array<[number, number]> }>();
  let used = 0;
  for await (const blockSummary of summaries) {
    used++;
    for (const s of blockSummary) {
      let acc = streams.get(s.streamId);
      if (!acc) streams.set(s.streamId, (acc = { frames: 0, keyFrames: 0, ranges: [] }));
      acc.frames += s.frames;
      acc.keyFrames += s.keyFrames;
      if (s.firstTs <= s.lastTs) addSpan(acc.ranges, s.firstTs, s.lastTs, maxGapMs);
    }
  }
  const { timeRange, ...rest } = facts();
  return {
    ...rest,
    usedBlocks: used,
    timeRange,
    streams: [...streams]
      .sort(([a], [b]) => a - b)
      .map(([streamId, acc]) => ({ streamId, frames: acc.frames, keyFrames: acc.keyFrames, ranges: mergeRanges(acc.ranges, maxGapMs) })),
  };
}

/** Joins [first, last] to the last range when they are at most maxGap apart (blocks come in time order). */
function addSpan(ranges: Array<[number, number]>, first: number, last: number, maxGap: number): void {
  const prev = ranges[ranges.length - 1];
  if (prev && first - prev[1] <= maxGap && prev[0] - last <= maxGap) {
    prev[0] = Math.min(prev[0], first);
    prev[1] = Math.max(prev[1], last);
  } else ranges.push([first, last]);
}

/** Ranges sorted and merged where at most maxGap apart (spans out of order, after a clock jump). */
function mergeRanges(ranges: Array<[number, number]>, maxGap: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [first, last] of ranges.sort((a, b) => a[0] - b[0])) addSpan(out, first, last, maxGap);
  return out;
}
