import { openReader } from '../fs-open.js';
import type { BlockRead, BlockSource } from '../fs-port.js';

/**
 * Several filesystems seen as one BlockSource, so one ReaderCore (and one worker) serves them all:
 * a block is addressed as `key * 2^32 + index` and a stream as `key * 2^32 + id`, where `key` names the
 * filesystem (0 .. 2^20). A filesystem that fails (gone, damaged) is reported through `onError` and
 * delivers nothing, while the others go on.
 */
export const FS_SPAN = 2 ** 32;
export const MAX_FS_KEY = 2 ** 20;

export const compositeOf = (key: number, n: number): number => key * FS_SPAN + n;

/** What the shared reader reports about one of its filesystems. */
export interface FsErrorEvent {
  key: number;
  /** The block being read when it failed (undefined: while opening). */
  block?: number;
  message: string;
  code?: string;
}

const EXPIRED = 'EEXPIRED';

export class SharedSource implements BlockSource {
  /** Large enough for every composite index (ReaderCore skips indices >= nBlocks). */
  readonly nBlocks = Number.MAX_SAFE_INTEGER;
  private readonly sources = new Map<number, BlockSource>();

  /** `blocksize`: the largest blocksize of the filesystems it will serve (the reader's budget is counted in it). */
  constructor(
    readonly blocksize: number,
    private readonly onError: (event: FsErrorEvent) => void,
  ) {}

  async add(key: number, dirname: string): Promise<void> {
    await this.remove(key);
    try {
      this.sources.set(key, await openReader(dirname));
    } catch (err) {
      this.onError({ key, message: `${dirname}: ${(err as Error).message}`, code: codeOf(err) });
    }
  }

  async remove(key: number): Promise<void> {
    const source = this.sources.get(key);
    this.sources.delete(key);
    await source?.close();
  }

  async readBlock(composite: number, expectedSeq?: number): Promise<BlockRead> {
    const key = Math.floor(composite / FS_SPAN);
    const index = composite % FS_SPAN;
    const source = this.sources.get(key);
    if (!source) return { frames: [], seq: 0, sealed: true };
    try {
      const read = await source.readBlock(index, expectedSeq);
      if (source.blocksize > this.blocksize) throw new Error(`blocksize ${source.blocksize} is larger than the reader was set up for (${this.blocksize})`);
      for (const f of read.frames) f.streamId = compositeOf(key, f.streamId);
      return read;
    } catch (err) {
      if (codeOf(err) === EXPIRED) throw err; // ReaderCore reports it as expired
      this.onError({ key, block: index, message: (err as Error).message, code: codeOf(err) });
      return { frames: [], seq: 0, sealed: false };
    }
  }

  async close(): Promise<void> {
    for (const key of [...this.sources.keys()]) await this.remove(key).catch(() => undefined);
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
