import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ValkkaFS } from '@valkka/fs';
import { type FrameFilter, type FrameQueue, ValkkaFSWriterThread } from '@valkka/threads';
import type { MapOptions, StreamOutput, TimeRange } from './types.js';

/** One mapped stream of a group. */
export interface Mapping {
  id: number;
  writeSlot: number | undefined;
  readSlot: number | undefined;
  /** The slot it has inside the manager's reader and cacher (unique across the manager's filesystems). */
  slot: number | undefined;
  output: StreamOutput | undefined;
}

/** Blocks read for one window at most, per filesystem: the reader streams them, the cache keeps its budget. */
const MAX_BLOCKS = 16;

/**
 * One filesystem of a manager (the original's FSGroup): its mapped streams, its writer thread when the process
 * records into it, and which of its blocks to read for a stretch of time. Its reader and cacher are the
 * manager's, shared by every group, so a manager runs on a fixed number of threads whatever the number of
 * filesystems. Created by ValkkaFSManager.
 */
export class FSGroup {
  readonly mappings = new Map<number, Mapping>();
  writer: ValkkaFSWriterThread | undefined;
  /** The first error of this filesystem; while set its streams are not read. */
  error: Error | undefined;
  /** Newest frame time of the table when last looked at. */
  newest: number | undefined;
  /** Modification times of valkkafs.json and the blockfile when last re-read: unchanged files are not re-read. */
  private seen = '';

  constructor(
    readonly valkkafs: ValkkaFS,
    /** Its number in the manager's shared reader. */
    readonly key: number,
  ) {}

  /** Adds a mapping (refusing a second one of the same id, as the original's slot maps). */
  map(options: Omit<MapOptions, 'valkkafs'>, slot: number | undefined): Mapping {
    if (this.mappings.has(options.id)) throw new Error(`${this.valkkafs.dirname}: stream id ${options.id} is already mapped; unmap it first`);
    if (options.writeSlot !== undefined && !this.valkkafs.readOnly) {
      throw new Error(`${this.valkkafs.dirname} is open for writing in this process: open it read-only (loadFromDirectory(dir, { readOnly: true })) so the manager's writer thread can take the lock`);
    }
    const m: Mapping = { id: options.id, writeSlot: options.writeSlot, readSlot: options.readSlot, slot, output: options.output };
    this.mappings.set(options.id, m);
    return m;
  }

  unmap(id: number): Mapping | undefined {
    const m = this.mappings.get(id);
    this.mappings.delete(id);
    return m;
  }

  /** Mappings that play. */
  played(): Mapping[] {
    return [...this.mappings.values()].filter((m) => m.slot !== undefined);
  }

  get records(): boolean {
    return [...this.mappings.values()].some((m) => m.writeSlot !== undefined);
  }

  /** The writer thread, created on first use (started by the manager). */
  writerThread(): ValkkaFSWriterThread {
    this.writer ??= new ValkkaFSWriterThread({ dirname: this.valkkafs.dirname, name: `writer:${this.valkkafs.dirname}` });
    return this.writer;
  }

  /** Where a source puts frames to record (writeSlot mappings): a FrameFilter, or the queue itself. */
  getInputFilter(): FrameFilter {
    return this.writerThread().getFrameFilter();
  }

  get input(): FrameQueue {
    return this.writerThread().input;
  }

  /** Follows the writer (another process's or our writer thread's): re-reads the table. Returns whether it grew. */
  async refresh(): Promise<boolean> {
    if (this.error) return false;
    const { dirname } = this.valkkafs;
    const [json, blockfile] = await Promise.all(['valkkafs.json', 'blockfile'].map((f) => stat(join(dirname, f), { bigint: true })));
    const seen = `${json!.mtimeNs}:${json!.size}:${blockfile!.mtimeNs}`;
    if (seen === this.seen) return false;
    await this.valkkafs.refresh();
    this.seen = seen;
    const newest = this.valkkafs.getTimeRange()?.[1];
    const grew = newest !== this.newest;
    this.newest = newest;
    return grew;
  }

  getTimeRange(): TimeRange | undefined {
    return this.error ? undefined : this.valkkafs.getTimeRange();
  }

  /**
   * The blocks to read to play [t0, t1], in time order: from the block holding each played stream's key frame
   * at or before t0 up to the first block past t1, at most MAX_BLOCKS (the end farther from `near` is cut).
   */
  async blocksFor([t0, t1]: TimeRange, near: number): Promise<number[]> {
    const fs = this.valkkafs;
    if (this.error || fs.blockTable.usedCount === 0) return [];
    let blocks = fs.getInd([Math.max(0, t0), Math.max(0, t1)]);
    if (fs.variant === 'multi') {
      // A MultiFS row's first column is the last key frame among all streams: one stream's may be earlier.
      const order = fs.blockTable.timeOrder();
      const first = blocks.length > 0 ? order.indexOf(blocks[0]!) : order.length;
      let start = first;
      for (const m of this.played()) {
        const b = await fs.keyBlockFor(m.id, Math.max(0, t0));
        if (b !== undefined) start = Math.min(start, order.indexOf(b));
      }
      if (start < first) blocks = [...order.slice(start, first), ...blocks];
    }
    if (blocks.length <= MAX_BLOCKS) return blocks;
    // Keep the blocks nearest to the position: find the one holding it and take MAX_BLOCKS around it.
    const at = Math.max(0, blocks.findIndex((b) => fs.blockTable.get(b)[1] >= near));
    const from = Math.min(Math.max(0, at - 1), blocks.length - MAX_BLOCKS);
    return blocks.slice(from, from + MAX_BLOCKS);
  }

  /** First recorded time after `t` (the start of the next block), or undefined. */
  nextDataAfter(t: number): number | undefined {
    if (this.error) return undefined;
    const table = this.valkkafs.blockTable;
    let best: number | undefined;
    for (const b of this.valkkafs.getInd([Math.max(0, t), Math.max(0, t)])) {
      const [a] = table.get(b);
      if (a > t && (best === undefined || a < best)) best = a;
    }
    return best;
  }

  /** Last recorded time before `t` (the end of the previous block), or undefined. */
  previousDataBefore(t: number): number | undefined {
    if (this.error) return undefined;
    const table = this.valkkafs.blockTable;
    let best: number | undefined;
    for (const b of this.valkkafs.getIndNeigh(1, Math.max(0, t))) {
      const [, z] = table.get(b);
      if (z < t && (best === undefined || z > best)) best = z;
    }
    return best;
  }

  /** Records durably what was queued, and stops the writer thread. */
  async close(): Promise<void> {
    await this.writer?.close();
  }
}
