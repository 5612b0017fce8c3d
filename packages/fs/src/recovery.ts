/**
 * Recovery when a writer opens a filesystem: from valkkafs.json's current_block, follow the
 * successors whose header carries the next sequence number (a crash can come after a header
 * was written and before the json caught up), then scan the records of the last block to its
 * last valid one. Rows that lag are rebuilt. Only the blocks on that path are read.
 */
import type { BlockDevice } from '@valkka/blockdev';

import { type Row, statsFromSummary, statsOfFrames, type Variant } from './block-stats.js';
import type { BlockFile } from './blockfile.js';
import { BLOCK_HEADER_SIZE, alignDown, decodeBlockHeader, decodeSummary, scanBlock, scanRecords, seqSeed } from './format.js';
import type { StreamIndex } from './stream-index.js';
import { type OpenBlock, type ResumePoint, newOpenBlock } from './writer.js';

export interface RecoveryContext {
  device: BlockDevice;
  blockfile: BlockFile;
  index: StreamIndex;
  fsId: Uint8Array;
  variant: Variant;
  blocksize: number;
  nBlocks: number;
}

export interface RecoveryReport {
  /** current_block in the json, and where writing resumes. */
  jsonBlock: number;
  resumeBlock: number;
  /** Blocks sealed after the json's current_block (the json lagged). */
  followed: number;
  /** Frames recovered in the resume block and the byte offset where appending continues. */
  recoveredFrames: number;
  resumeOffset: number;
  /** Why the scan of the resume block stopped. */
  stop: string;
  /** Rows rewritten because they lagged. */
  rowsRebuilt: number[];
  /** The json's block had no valid header: the ring was re-entered with a fresh block. */
  freshBlock: boolean;
}

export async function recover(ctx: RecoveryContext, jsonBlock: number): Promise<{ resume: ResumePoint; report: RecoveryReport }> {
  const { device, blocksize, nBlocks } = ctx;
  const head = device.allocBuffer(device.alignment);
  const readHeader = async (block: number) => {
    await device.read(block * blocksize, head);
    return decodeBlockHeader(head, { ...ctx, block });
  };
  const report: RecoveryReport = { jsonBlock, resumeBlock: jsonBlock, followed: 0, recoveredFrames: 0, resumeOffset: 0, stop: '', rowsRebuilt: [], freshBlock: false };
  const buf = device.allocBuffer(blocksize);

  const first = await readHeader(jsonBlock);
  if (typeof first === 'string') {
    // Damaged beyond what a crash does: start a fresh block above every sequence number in the ring.
    const seq = (await maxSeq(ctx)) + 1;
    const open = newOpenBlock(ctx, buf, jsonBlock, seq);
    // Row invalid first; the writer's first flush then puts the header on the device.
    await setRowIfDifferent(ctx, jsonBlock, [0, 0], report);
    await ctx.blockfile.sync();
    report.freshBlock = true;
    report.resumeOffset = BLOCK_HEADER_SIZE;
    report.stop = `header of block ${jsonBlock}: ${first}`;
    return { resume: { open, previousRow: ctx.blockfile.row((jsonBlock - 1 + nBlocks) % nBlocks), jsonBlock }, report };
  }

  // Follow successors: blocks entered after the json was last written.
  let block = jsonBlock;
  let seq = first.seq;
  const passed: Array<{ block: number; seq: number }> = [];
  for (let i = 1; i < nBlocks; i++) {
    const nb = (block + 1) % nBlocks;
    const h = await readHeader(nb);
    if (typeof h === 'string' || h.seq !== seq + 1) break;
    passed.push({ block, seq });
    block = nb;
    seq = h.seq;
  }
  report.followed = passed.length;

  // The blocks passed were sealed (a successor exists): their rows must be final.
  let previousRow = ctx.blockfile.row((jsonBlock - 1 + nBlocks) % nBlocks);
  for (const p of passed) {
    await device.read(p.block * blocksize, buf);
    const summary = decodeSummary(buf, 0, blocksize, p.seq);
    const stats = summary ? statsFromSummary(ctx.variant, summary) : statsOfFrames(ctx.variant, scanRecords(buf, p.seq, blocksize).frames);
    const { row } = stats.finalRow(previousRow);
    await setRowIfDifferent(ctx, p.block, row, report);
    if (summary) ctx.index.set(p.block, { seq: p.seq, streams: summary });
    previousRow = row;
  }

  // The last block: its records up to the first that does not validate.
  await device.read(block * blocksize, buf);
  const { summary, scan } = scanBlock(buf, seq, blocksize);
  const stats = statsOfFrames(ctx.variant, scan.frames);
  const sealed = summary !== undefined;
  if (!sealed) {
    // Bytes past the recovered end may hold records of this very sequence number that a crash let
    // through out of order (a sector persisted while an earlier one was lost). Zero them on the device
    // before appending resumes, so they can never line up with new records and be read back.
    buf.fill(0, scan.end);
    const from = alignDown(scan.end, device.alignment);
    await device.write(block * blocksize + from, buf.subarray(from, blocksize));
    await device.flush();
  }
  const row = sealed ? stats.finalRow(previousRow).row : stats.liveRow(previousRow);
  await setRowIfDifferent(ctx, block, row, report);
  const open: OpenBlock = { block, seq, seed: seqSeed(seq), buf, filled: scan.end, durable: sealed ? blocksize : scan.end, stats, sealed, rowOnDisk: row };
  if (summary) ctx.index.set(block, { seq, streams: summary });
  await ctx.blockfile.sync();
  ctx.blockfile.table.setCurrentBlock(block);

  report.resumeBlock = block;
  report.recoveredFrames = scan.frames.length;
  report.resumeOffset = scan.end;
  report.stop = open.sealed ? 'sealed' : scan.stop;
  return { resume: { open, previousRow, jsonBlock }, report };
}

async function setRowIfDifferent(ctx: RecoveryContext, block: number, row: Row, report: RecoveryReport): Promise<void> {
  const [a, b] = ctx.blockfile.row(block);
  if (a === row[0] && b === row[1]) return;
  await ctx.blockfile.setRow(block, row);
  report.rowsRebuilt.push(block);
}

/** The highest sequence number of any valid block header (reads every header: only after damage). */
export async function maxSeq(ctx: Pick<RecoveryContext, 'device' | 'blocksize' | 'nBlocks' | 'fsId'>): Promise<number> {
  const head = ctx.device.allocBuffer(ctx.device.alignment);
  let max = 0;
  for (let b = 0; b < ctx.nBlocks; b++) {
    await ctx.device.read(b * ctx.blocksize, head);
    const h = decodeBlockHeader(head, { fsId: ctx.fsId, block: b, blocksize: ctx.blocksize, nBlocks: ctx.nBlocks });
    if (typeof h !== 'string') max = Math.max(max, h.seq);
  }
  return max;
}
