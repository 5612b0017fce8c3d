import { ThreadsError } from './errors.js';
import type { BlockInfo, BlockSource, FrameSink } from './fs-port.js';

export interface OpenedWriter {
  sink: FrameSink;
  flushIntervalMs: number;
}

/** Opens the filesystem in `dirname` for writing (taking its writer lock). */
export async function openWriter(dirname: string, onBlock: (block: BlockInfo) => void): Promise<OpenedWriter> {
  void onBlock;
  throw new ThreadsError('ERR_FS', `@valkka/fs cannot open ${dirname} yet`);
}

/** Opens the filesystem in `dirname` read-only. */
export async function openReader(dirname: string): Promise<BlockSource> {
  throw new ThreadsError('ERR_FS', `@valkka/fs cannot open ${dirname} yet`);
}
