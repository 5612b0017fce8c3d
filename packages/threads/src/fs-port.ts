import type { Frame } from '@valkka/fs';

/** What the writer thread needs from a filesystem's writer. */
export interface FrameSink {
  write(frame: Frame): void | Promise<void>;
  flush(): void | Promise<void>;
  close(): void | Promise<void>;
}

/** A finished (sealed) block, as the writer reports it. */
export interface BlockInfo {
  index: number;
  /** [first key frame, last frame] in ms, as the block table row. */
  range: [number, number];
  /** The block's write sequence number (readers compare it to spot reuse). */
  seq: number;
  /** The block being written now. */
  currentBlock: number;
}

/** One block as the reader gets it: its frames (views into one buffer of the block), sequence number, sealed or open. */
export interface BlockRead {
  frames: Frame[];
  seq: number;
  sealed: boolean;
}

/** What the reader thread needs from a filesystem opened read-only. */
export interface BlockSource {
  readonly nBlocks: number;
  readonly blocksize: number;
  /**
   * Every frame of the block, in disk order. Throws @valkka/fs's BlockExpiredError (code 'EEXPIRED') when the
   * block was reused during the read, or when its sequence number is not `expectedSeq`.
   */
  readBlock(index: number, expectedSeq?: number): BlockRead | Promise<BlockRead>;
  close(): void | Promise<void>;
}
