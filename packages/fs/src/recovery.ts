/**
 * Recovery when a writer opens a filesystem: from valkkafs.json's current_block, follow the
 * successors whose header carries the next sequence number (a crash can come after a header
 * was written and before the json caught up), then scan the records of the last block. Every
 * seal met is checked against the records; rows that lag are rebuilt. Only the blocks on that
 * path are read.
 */
import type { BlockDevice } from '@valkka/blockdev';

import type { Row, Variant } from './block-stats.js';
import type { BlockFile } from './blockfile.js';
import { BLOCK_HEADER_SIZE, alignDown, decodeBlockHeader, seqSeed } from './format.js';
import type { Frame } from './frame.js';
import { type OpenBlock, newOpenBlock } from './open-block.js';
import { inspectBlock, mendBlock } from './seal.js';
import type { StreamIndex } from './stream-index.js';

export interface RecoveryContext {
  device: BlockDevice;
  blockfile: BlockFile;
  index: StreamIndex;
  fsId: Uint8Array;
  variant: Variant;
  blocksize: number;
  nBlocks: number;
  /** The block the writer enters after `block` (skipping protected ones); default the next in ring order. */
  nextBlock?: (block: number) => number;
}

/** Where the writer resumes, as recovery found it. */
export interface ResumePoint {
  open: OpenBlock;
  /** Final row of the block before `open` (the original's prev_row, for its fallbacks). */
  previousRow: Row;
  /** current_block in valkkafs.json now. */
  jsonBlock: number;
  /** Stored key frames whose parameter sets the writer remembers, per stream (config-memory.ts). */
  configFrames?: readonly Frame[];
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
  /** Blocks passed on the way whose seal did not match their records: resealed from the records. */
  resealed: number[];
  /** The resume block carried a seal that did not match its records (a crash kept the seal, not all records): reopened. */
  sealRejected: boolean;
  /** Damaged ranges between valid records of the resume block, zeroed (their records were lost in the crash). */
  gapsZeroed: number;
  /** The block after a sealed resume block held sectors of a lost entry into it (same sequence number): zeroed. */
  lostSuccessorCleared: boolean;
  /** The json's block had no valid header: recovery started from the newest valid header instead. */
  jsonHeaderInvalid: string | undefined;
  /** No block had a valid header: the ring was re-entered with a fresh block. */
  freshBlock: boolean;
}

export async function recover(ctx: RecoveryContext, jsonBlock: number, nextHint?: number): Promise<{ resume: ResumePoint; report: RecoveryReport }> {
  const { device, blocksize, nBlocks } = ctx;
  const head = device.allocBuffer(device.alignment);
  const readHeader = async (block: number) => {
    await device.read(block * blocksize, head);
    return decodeBlockHeader(head, { ...ctx, block });
  };
  const report: RecoveryReport = {
    jsonBlock,
    resumeBlock: jsonBlock,
    followed: 0,
    recoveredFrames: 0,
    resumeOffset: 0,
    stop: '',
    rowsRebuilt: [],
    resealed: [],
    sealRejected: false,
    gapsZeroed: 0,
    lostSuccessorCleared: false,
    jsonHeaderInvalid: undefined,
    freshBlock: false,
  };
  const buf = device.allocBuffer(blocksize);

  let block = jsonBlock;
  const first = await readHeader(jsonBlock);
  let seq: number;
  if (typeof first === 'string') {
    // Damage, not a crash (the json only ever names a block whose header is durable): resume from the
    // newest valid header in the ring, found by reading them all.
    report.jsonHeaderInvalid = first;
    const newest = await newestHeader(ctx);
    if (!newest) {
      const open = newOpenBlock(ctx, buf, jsonBlock, 1);
      // Row invalid first; the writer's first flush then puts the header on the device.
      await setRowIfDifferent(ctx, jsonBlock, [0, 0], report);
      await ctx.blockfile.sync();
      report.freshBlock = true;
      report.resumeOffset = BLOCK_HEADER_SIZE;
      report.stop = `header of block ${jsonBlock}: ${first}`;
      return { resume: { open, previousRow: ctx.blockfile.row((jsonBlock - 1 + nBlocks) % nBlocks), jsonBlock }, report };
    }
    block = newest.block;
    seq = newest.seq;
  } else {
    seq = first.seq;
  }

  // Follow successors: blocks entered after the json was last written.
  const start = block;
  const passed: Array<{ block: number; seq: number }> = [];
  for (let i = 1; i < nBlocks; i++) {
    let nb = (block + 1) % nBlocks;
    let h = await readHeader(nb);
    if ((typeof h === 'string' || h.seq !== seq + 1) && i === 1 && block === jsonBlock && nextHint !== undefined) {
      // The writer skipped protected blocks after the json's block; the json names where it went (§6).
      nb = nextHint;
      h = await readHeader(nb);
    }
    if (typeof h === 'string' || h.seq !== seq + 1) break;
    passed.push({ block, seq });
    block = nb;
    seq = h.seq;
  }
  report.followed = passed.length;

  // The blocks passed are final (a successor exists, and the writer enters a block only after the
  // previous one's seal is durable): their seals are checked against their records and their rows made final.
  let previousRow = ctx.blockfile.row((start - 1 + nBlocks) % nBlocks);
  for (const p of passed) {
    await device.read(p.block * blocksize, buf);
    const v = inspectBlock(buf, p.seq, blocksize, ctx.variant);
    if (!v.sealOk) {
      const from = alignDown(mendBlock(buf, v, blocksize, true), device.alignment);
      await device.write(p.block * blocksize + from, buf.subarray(from, blocksize));
      await device.flush();
      report.resealed.push(p.block);
    }
    const { row } = v.stats.finalRow(previousRow);
    await setRowIfDifferent(ctx, p.block, row, report);
    ctx.index.set(p.block, { seq: p.seq, streams: v.stats.summary() });
    previousRow = row;
  }

  // The last block: every valid record. A seal counts only when it matches them; otherwise the block
  // is reopened: damaged bytes between records (sectors a crash lost while later ones persisted) and
  // everything after the last record are zeroed on the device before appending resumes, so nothing
  // of this sequence number is left to line up with new records.
  await device.read(block * blocksize, buf);
  const v = inspectBlock(buf, seq, blocksize, ctx.variant);
  const { scan, stats } = v;
  const sealed = v.sealOk;
  if (!sealed) {
    report.sealRejected = v.summary !== undefined;
    report.gapsZeroed = v.damage.length;
    const from = alignDown(mendBlock(buf, v, blocksize, false), device.alignment);
    await device.write(block * blocksize + from, buf.subarray(from, blocksize));
    await device.flush();
  }
  if (sealed) await clearLostSuccessor(ctx, block, seq, report);
  const row = sealed ? stats.finalRow(previousRow).row : stats.liveRow(previousRow);
  await setRowIfDifferent(ctx, block, row, report);
  const open: OpenBlock = { block, seq, seed: seqSeed(seq), buf, filled: scan.end, durable: sealed ? blocksize : scan.end, stats, sealed, rowOnDisk: row };
  if (sealed) ctx.index.set(block, { seq, streams: stats.summary() });
  await ctx.blockfile.sync();
  ctx.blockfile.table.setCurrentBlock(block);

  report.resumeBlock = block;
  report.recoveredFrames = scan.frames.length;
  report.resumeOffset = scan.end;
  report.stop = open.sealed ? 'sealed' : scan.stop;
  return { resume: { open, previousRow, jsonBlock }, report };
}

/**
 * The writer enters the block after a sealed resume block with the next sequence number. A crash may
 * have lost that block's header while other sectors written with it (records, even a seal) persisted:
 * they would validate in the new block. Such a block is zeroed (its row first) before it is entered.
 */
async function clearLostSuccessor(ctx: RecoveryContext, block: number, seq: number, report: RecoveryReport): Promise<void> {
  const { device, blocksize, nBlocks } = ctx;
  const next = ctx.nextBlock?.(block) ?? (block + 1) % nBlocks;
  const buf = device.allocBuffer(blocksize);
  await device.read(next * blocksize, buf);
  const v = inspectBlock(buf, seq + 1, blocksize, ctx.variant);
  if (v.scan.frames.length === 0 && v.trailerAt === undefined) return;
  await setRowIfDifferent(ctx, next, [0, 0], report);
  await ctx.blockfile.sync();
  buf.fill(0);
  await device.write(next * blocksize, buf);
  await device.flush();
  report.lostSuccessorCleared = true;
}

async function setRowIfDifferent(ctx: RecoveryContext, block: number, row: Row, report: RecoveryReport): Promise<void> {
  const [a, b] = ctx.blockfile.row(block);
  if (a === row[0] && b === row[1]) return;
  await ctx.blockfile.setRow(block, row);
  report.rowsRebuilt.push(block);
}

/** The block holding the highest sequence number of any valid header (reads every header: only after damage). */
export async function newestHeader(ctx: Pick<RecoveryContext, 'device' | 'blocksize' | 'nBlocks' | 'fsId'>): Promise<{ block: number; seq: number } | undefined> {
  const head = ctx.device.allocBuffer(ctx.device.alignment);
  let newest: { block: number; seq: number } | undefined;
  for (let b = 0; b < ctx.nBlocks; b++) {
    await ctx.device.read(b * ctx.blocksize, head);
    const h = decodeBlockHeader(head, { fsId: ctx.fsId, block: b, blocksize: ctx.blocksize, nBlocks: ctx.nBlocks });
    if (typeof h !== 'string' && (!newest || h.seq > newest.seq)) newest = { block: b, seq: h.seq };
  }
  return newest;
}
