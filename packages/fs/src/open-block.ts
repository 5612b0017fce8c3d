/**
 * The open block: the block the writer appends to (or is sealing), held whole in an aligned buffer
 * that in-process readers see at once. Recovery builds the one where writing resumes; the writer
 * makes a fresh one for every block it enters.
 */
import { BlockStats, type Row, type Variant } from './block-stats.js';
import { BLOCK_HEADER_SIZE, FORMAT_VERSION, encodeBlockHeader, seqSeed } from './format.js';

/** The block being written (or being sealed) and its buffer. */
export interface OpenBlock {
  block: number;
  seq: number;
  seed: number;
  buf: Buffer;
  /** Bytes of buf in use: header + records. */
  filled: number;
  /** Bytes of the block known to be durable on the device. */
  durable: number;
  stats: BlockStats;
  sealed: boolean;
  /** The row last written to the blockfile for this block. */
  rowOnDisk: Row;
  /** The job writing the sealed block. */
  done?: Promise<void>;
  /** Set when sealed: the block's final row and the original's message. */
  final?: { row: Row; msg: '' | 'frame' | 'keyframe' };
}

/** What a block header and the block's stats need to know of the filesystem. */
export interface OpenBlockRing {
  fsId: Uint8Array;
  variant: Variant;
  blocksize: number;
  nBlocks: number;
}

/**
 * A block buffer starting with the block header. The rest is not cleared (it may hold an older
 * block): every write of the buffer zeroes what follows the records first.
 */
export function newOpenBlock(ring: OpenBlockRing, buf: Buffer, block: number, seq: number): OpenBlock {
  encodeBlockHeader(buf, { version: FORMAT_VERSION, block, fsId: ring.fsId, seq, blocksize: ring.blocksize, nBlocks: ring.nBlocks });
  return { block, seq, seed: seqSeed(seq), buf, filled: BLOCK_HEADER_SIZE, durable: 0, stats: new BlockStats(ring.variant), sealed: false, rowOnDisk: [0, 0] };
}
