/**
 * Per-block, per-stream summaries in memory (where each stream's frames and key frames are),
 * for MultiFS seeks and recorded ranges. Filled by the writer as blocks seal, and from the
 * summaries at the tails of sealed blocks when a filesystem is opened (lazily, on first use).
 * Bounded: one entry list per block of the ring.
 */
import type { StreamSummary } from './format.js';

export interface BlockSummary {
  seq: number;
  streams: StreamSummary[];
}

export class StreamIndex {
  private readonly blocks: Array<BlockSummary | undefined>;

  constructor(readonly nBlocks: number) {
    this.blocks = new Array<BlockSummary | undefined>(nBlocks).fill(undefined);
  }

  set(block: number, summary: BlockSummary): void {
    this.blocks[block] = summary;
  }

  get(block: number): BlockSummary | undefined {
    return this.blocks[block];
  }

  /** The block is being reused: what it held is gone. */
  forget(block: number): void {
    this.blocks[block] = undefined;
  }

  has(block: number): boolean {
    return this.blocks[block] !== undefined;
  }
}
