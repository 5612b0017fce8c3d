import { loadValkkaFS } from '@valkka/fs';
import type { BlockInfo, BlockSource, FrameSink } from './fs-port.js';

/**
 * Opens the filesystem in `dirname` as its writer (taking the writer lock in this thread).
 * The fs flushes the open block on its own interval (flushIntervalMs, default 1 s); close() seals nothing
 * but makes everything durable.
 */
export async function openWriter(dirname: string, onBlock: (block: BlockInfo) => void, flushIntervalMs?: number): Promise<FrameSink> {
  const fs = await loadValkkaFS(dirname, flushIntervalMs === undefined ? {} : { flushIntervalMs });
  fs.on('block', (e) => onBlock({ index: e.index, range: [e.range[0], e.range[1]], seq: e.seq, currentBlock: e.currentBlock }));
  return fs;
}

/** Opens the filesystem in `dirname` read-only: no lock, so it never gets in the writer's way. */
export async function openReader(dirname: string): Promise<BlockSource> {
  const fs = await loadValkkaFS(dirname, { readOnly: true });
  return {
    get nBlocks() {
      return fs.nBlocks;
    },
    blocksize: fs.blocksize,
    readBlock: (index, expectedSeq) => fs.readBlock(index, expectedSeq === undefined ? {} : { expectedSeq }),
    close: () => fs.close(),
  };
}
