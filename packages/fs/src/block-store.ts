/**
 * What a ValkkaFS handle reads its blocks through. Two formats are behind it: this project's ring
 * (ring-store.ts) and a directory written by libValkka (legacy/legacy-store.ts, read-only). The
 * handle keeps lifecycle, search, summaries and retention; the store knows the files.
 */
import type { BlockDevice } from '@valkka/blockdev';

import type { BlockTable } from './block-table.js';
import type { Metadata } from './metadata.js';
import type { BlockContents } from './reader.js';
import type { BlockSummary } from './stream-index.js';

export interface BlockStore {
  /** What `valkka info` calls the format, and its version (0 for libValkka). */
  readonly format: 'valkkafs-ts' | 'libvalkka';
  readonly formatVersion: number;
  readonly blocksize: number;
  readonly nBlocks: number;
  /** The live table (block-table.ts). */
  readonly table: BlockTable;
  /** The block being written: this process's writer's, else as the directory last said. */
  readonly currentBlock: number;
  readonly fsId: string;
  readonly dumpfile: string;
  readonly partitionUuid: string | null;
  /** The dumpfile's or partition's device; undefined for a libValkka directory (read through plain file reads). */
  readonly device: BlockDevice | undefined;
  /** This format's valkkafs.json; undefined for a libValkka directory (no stream id, no retention settings). */
  metadata(): Metadata | undefined;
  /**
   * Frames of a block, checked; BlockExpiredError when its seq is not `expectedSeq` (where seqs exist).
   * A device read goes into `buffer` when given (the libValkka store reads its own way and ignores it).
   */
  readBlock(index: number, expectedSeq?: number, buffer?: Buffer): Promise<BlockContents>;
  /** A block's per-stream summary, or undefined when it has none to give (unsealed, damaged). */
  readSummary(block: number): Promise<BlockSummary | undefined>;
  /** Re-reads the directory to follow a writer elsewhere; the rows that changed. */
  refresh(): Promise<number[]>;
  /** Closes the files; the device too when `device` (false: the caller passed it in). */
  close(device: boolean): Promise<void>;
}
