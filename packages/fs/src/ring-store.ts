/**
 * The store of this project's format: valkkafs.json, the blockfile and the device (dumpfile or
 * partition) holding the ring. With this process's writer attached, blocks it holds in memory are
 * read from its snapshots.
 */
import type { BlockDevice } from '@valkka/blockdev';

import type { BlockFile } from './blockfile.js';
import type { BlockStore } from './block-store.js';
import type { BlockTable } from './block-table.js';
import { BlockExpiredError, ValkkaFSLoadError } from './errors.js';
import { FORMAT_VERSION } from './format.js';
import { type Metadata, fsIdBytes, readMetadata } from './metadata.js';
import { type BlockContents, type Geometry, parseBlock, readBlockFromDevice, readSummary } from './reader.js';
import type { BlockSummary } from './stream-index.js';
import type { RingWriter } from './writer.js';

export class RingStore implements BlockStore {
  readonly format = 'valkkafs-ts';
  readonly formatVersion = FORMAT_VERSION;
  readonly geometry: Geometry;

  constructor(
    readonly dirname: string,
    /** Shared with the writer, which rewrites it; a reader replaces it on refresh. */
    private meta: Metadata,
    readonly device: BlockDevice,
    readonly blockfile: BlockFile,
    private readonly writer?: RingWriter,
  ) {
    this.geometry = { fsId: fsIdBytes(meta), blocksize: meta.blocksize, nBlocks: meta.n_blocks };
  }

  get blocksize(): number {
    return this.meta.blocksize;
  }

  get nBlocks(): number {
    return this.meta.n_blocks;
  }

  get table(): BlockTable {
    return this.blockfile.table;
  }

  get currentBlock(): number {
    return this.writer ? this.writer.currentBlock : this.meta.current_block;
  }

  get fsId(): string {
    return this.meta.fs_id;
  }

  get dumpfile(): string {
    return this.meta.dumpfile;
  }

  get partitionUuid(): string | null {
    return this.meta.partition_uuid;
  }

  metadata(): Metadata {
    return this.meta;
  }

  async readBlock(index: number, expectedSeq?: number, buffer?: Buffer): Promise<BlockContents> {
    const snap = this.writer?.snapshot(index);
    if (snap) {
      if (expectedSeq !== undefined && snap.seq !== expectedSeq) throw new BlockExpiredError(index, expectedSeq, snap.seq);
      return parseBlock(snap.bytes, index, this.geometry, snap.sealed);
    }
    const contents = await readBlockFromDevice(this.device, this.geometry, index, expectedSeq, buffer);
    // Entered by this process's writer while we read: its old contents are no longer the block's.
    const now = this.writer?.snapshot(index);
    if (now && now.seq !== contents.seq) throw new BlockExpiredError(index, contents.seq, now.seq);
    return contents;
  }

  /** From the block's tail: sealed blocks only. */
  readSummary(block: number): Promise<BlockSummary | undefined> {
    return readSummary(this.device, this.geometry, block);
  }

  /** Reader handles: valkkafs.json and the blockfile again, to follow the writer (live edge). */
  async refresh(): Promise<number[]> {
    const loaded = await readMetadata(this.dirname);
    if (loaded.kind !== 'ours' || loaded.meta.fs_id !== this.meta.fs_id) {
      throw new ValkkaFSLoadError('EMETADATA', `${this.dirname}: the filesystem was replaced while open`);
    }
    const table = await this.blockfile.reread(loaded.meta.current_block);
    const before = this.table;
    const changed: number[] = [];
    for (let i = 0; i < table.n; i++) {
      const [a, b] = table.get(i);
      const [c, d] = before.get(i);
      if (a !== c || b !== d) {
        before.set(i, a, b);
        changed.push(i);
      }
    }
    before.setCurrentBlock(loaded.meta.current_block);
    this.meta = loaded.meta;
    return changed;
  }

  async close(device: boolean): Promise<void> {
    await this.blockfile.close().catch(() => undefined);
    if (device) await this.device.close().catch(() => undefined);
  }
}
