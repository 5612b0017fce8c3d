/**
 * A directory written by libValkka as a ValkkaFS handle's store: read-only, its NAL records coming out
 * as access units. Its blocks carry no seq and no summary: a summary is made by scanning the frames.
 */
import { join } from 'node:path';

import type { BlockStore } from '../block-store.js';
import { type Variant, statsOfFrames } from '../block-stats.js';
import { ValkkaFSError, ValkkaFSLoadError } from '../errors.js';
import { checkReadable } from '../files.js';
import { BLOCKFILE_NAME, DUMPFILE_NAME, type LegacyMetadata } from '../metadata.js';
import type { BlockContents } from '../reader.js';
import type { BlockSummary } from '../stream-index.js';
import { type LegacyDirectory, openLegacyDirectory } from './directory.js';
import { LegacyError } from './errors.js';

/** libValkka has no filesystem id; `info` shows this one. */
const NO_FS_ID = '0'.repeat(32);

export class LegacyStore implements BlockStore {
  readonly format = 'libvalkka';
  readonly formatVersion = 0;
  readonly fsId = NO_FS_ID;
  readonly device = undefined;

  /** `variant`: the handle's, which decides a block's mstime1 in its summary. */
  constructor(
    private readonly dir: LegacyDirectory,
    private readonly variant: Variant,
  ) {}

  get blocksize(): number {
    return this.dir.blocksize;
  }

  get nBlocks(): number {
    return this.dir.nBlocks;
  }

  get table(): LegacyDirectory['table'] {
    return this.dir.table;
  }

  get currentBlock(): number {
    return this.dir.currentBlock;
  }

  get dumpfile(): string {
    return this.dir.dumpfile;
  }

  get partitionUuid(): string | null {
    return this.dir.json.partition_uuid;
  }

  metadata(): undefined {
    return undefined;
  }

  /** No seq to compare: `expectedSeq` is not checked. */
  async readBlock(index: number): Promise<BlockContents> {
    try {
      const { frames } = await this.dir.readAccessUnits(index);
      return { index, seq: 0, sealed: index !== this.dir.currentBlock, frames: frames.map((f) => ({ ...f, offset: -1 })), end: 0, summary: undefined };
    } catch (err) {
      if (err instanceof LegacyError) throw new ValkkaFSError('EBLOCKHEADER', `${this.dir.dirname}: block ${index}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** From the block's frames (a block that cannot be read has none). */
  async readSummary(block: number): Promise<BlockSummary | undefined> {
    const c = await this.readBlock(block).catch(() => undefined);
    return c && { seq: c.seq, streams: statsOfFrames(this.variant, c.frames).summary() };
  }

  /** The directory is read as it was when opened. */
  async refresh(): Promise<number[]> {
    return [];
  }

  async close(): Promise<void> {
    await this.dir.close().catch(() => undefined);
  }
}

/** Opens a libValkka directory as a store; its files are checked first so that errors name them. */
export async function openLegacyStore(dirname: string, json: LegacyMetadata, variant: Variant): Promise<LegacyStore> {
  await checkReadable(join(dirname, BLOCKFILE_NAME), BLOCKFILE_NAME, false);
  const partition = json.partition_uuid !== null;
  const dumpfile = partition ? json.dumpfile : join(dirname, DUMPFILE_NAME);
  if (dumpfile) await checkReadable(dumpfile, DUMPFILE_NAME, partition);
  try {
    return new LegacyStore(await openLegacyDirectory(dirname), variant);
  } catch (err) {
    if (err instanceof LegacyError) {
      throw new ValkkaFSLoadError(err.code === 'ENOENT' ? 'ENOTFOUND' : 'EMETADATA', `${dirname}: libValkka directory: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
