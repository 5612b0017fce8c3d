/**
 * A block's seal checked against its records, and a block mended in memory: what recovery and
 * check --repair both need. A seal (summary + trailer) counts only when the summary equals what the
 * records say, no damaged bytes lie between the records, and the bytes after the last record up to
 * the summary are zero. Pure functions over a whole block's bytes; the callers do the I/O.
 */
import { type BlockStats, sameSummary, statsOfFrames, type Variant } from './block-stats.js';
import { type RecordGap, type RecordScan, type StreamSummary, encodeSummary, isZero, scanBlock, seqSeed } from './format.js';

export interface BlockVerdict {
  seq: number;
  scan: RecordScan;
  /** Stats of the valid records (what a new seal would say). */
  stats: BlockStats;
  /** The summary the block carries (trailer and summary validate), checked or not. */
  summary: StreamSummary[] | undefined;
  /** Where the trailer puts the summary, when the trailer validates. */
  trailerAt: number | undefined;
  /** Ranges between valid records that hold damaged (non-zero) bytes. */
  damage: RecordGap[];
  /** Non-zero bytes between the last valid record and the summary of a sealed block. */
  junkTail: boolean;
  /** The block carries a seal and it matches its records: nothing to mend. */
  sealOk: boolean;
}

export function inspectBlock(buf: Buffer, seq: number, blocksize: number, variant: Variant): BlockVerdict {
  const { trailer, summary, scan } = scanBlock(buf, seq, blocksize);
  const stats = statsOfFrames(variant, scan.frames);
  const damage = scan.gaps.filter((g) => !g.zero);
  const junkTail = summary !== undefined && trailer !== undefined && !isZero(buf.subarray(scan.end, trailer.at));
  const sealOk = summary !== undefined && damage.length === 0 && !junkTail && sameSummary(summary, stats.summary());
  return { seq, scan, stats, summary, trailerAt: trailer?.at, damage, junkTail, sealOk };
}

/**
 * Rewrites the block in `buf` so that it holds only its valid records: damaged gaps and everything
 * after the last valid record are zeroed; with `seal`, a summary and trailer computed from the
 * records are written at its tail. Returns the lowest offset changed (the caller writes from there).
 */
export function mendBlock(buf: Buffer, v: BlockVerdict, blocksize: number, seal: boolean): number {
  let first = v.scan.end;
  for (const g of v.damage) {
    buf.fill(0, g.offset, g.end);
    first = Math.min(first, g.offset);
  }
  buf.fill(0, v.scan.end, blocksize);
  // The writer always kept room for the summary of the streams it had appended, so this fits.
  if (seal) encodeSummary(buf, blocksize, v.stats.summary(), seqSeed(v.seq));
  return first;
}

