/**
 * Per-block, per-stream summaries in memory (where each stream's frames and key frames are),
 * for MultiFS seeks and recorded ranges. Filled by the writer as blocks seal, and from the
 * summaries at the tails of sealed blocks when a filesystem is opened (lazily, on first use).
 * Bounded: one entry list per block of the ring, and only for blocks whose summary was read (a
 * reader of a huge ring that looks at a few blocks keeps a few).
 */
import type { StreamSummary } from './format.js';

export interface BlockSummary {
  seq: number;
  streams: StreamSummary[];
}

export class StreamIndex {
  private readonly blocks = new Map<number, BlockSummary>();

  constructor(readonly nBlocks: number) {}

  set(block: number, summary: BlockSummary): void {
    this.blocks.set(block, summary);
  }

  get(block: number): BlockSummary | undefined {
    return this.blocks.get(block);
  }

  /** The block is being reused: what it held is gone. */
  forget(block: number): void {
    this.blocks.delete(block);
  }

  has(block: number): boolean {
    return this.blocks.has(block);
  }
}
