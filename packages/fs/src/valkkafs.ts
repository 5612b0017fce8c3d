/**
 * ValkkaSingleFS and ValkkaMultiFS: one directory (valkkafs.json, blockfile, dumpfile or a
 * partition) holding a ring of blocks. A handle is either the single writer (lock held,
 * recovery run on open) or a reader (no lock, follows the writer through refresh()). Blocks are
 * read through a store (block-store.ts): this format's ring, or a libValkka directory opened read-only.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { type BlockDevice, FileDevice } from '@valkka/blockdev';

import { BlockFile } from './blockfile.js';
import { type Variant, statsOfFrames } from './block-stats.js';
import type { BlockStore } from './block-store.js';
import { openDevice, openPartition, wrapDevice } from './device.js';
import { ValkkaFSError, ValkkaFSLoadError } from './errors.js';
import { checkRegular, ioError } from './files.js';
import { FORMAT_VERSION, MAX_BLOCKSIZE, type StreamSummary, encodeBlockHeader, roundBlocksize } from './format.js';
import { verifyIdentity } from './identity.js';
import type { Frame } from './frame.js';
import { type DirectoryLock, lockDirectory } from './lock.js';
import { openLegacyStore } from './legacy/legacy-store.js';
import { BLOCKFILE_NAME, DUMPFILE_NAME, JSON_NAME, MAX_BLOCKS, type Metadata, fsIdBytes, newMetadata, readMetadata, writeMetadata } from './metadata.js';
import type { BlockContents } from './reader.js';
import { RingStore } from './ring-store.js';
import { type DumpedBlock, type FsDescription, type FsFacts, describeBlocks, dumpBlockContents } from './inspect.js';
import { lastConfigFrames } from './config-memory.js';
import { type RecoveryReport, recover } from './recovery.js';
import type { BlockTable } from './block-table.js';
import { type TimeRange, blockAt, getInd, getIndNeigh, getTimeRange } from './search.js';
import { type StreamSpan, recordedRanges } from './timeline.js';
import { StreamIndex } from './stream-index.js';
import { everyInterval } from './ticker.js';
import { type BlockEvent, RingWriter, maxPayloadFor } from './writer.js';
import { RetentionKeeper } from './retention/keeper.js';
import { expiredBlocks, nextBlockAfter } from './retention/policy.js';
import { type Protection, readProtections } from './retention/store.js';
import { wipeBlocks } from './retention/wipe.js';
import { expiredAhead } from './retention/ahead.js';
import * as retention from './retention/api.js';

/**
 * newFromDirectory replaces whatever filesystem `dirname` (or the partition) holds, as the original
 * did: its recordings are gone (every old block carries the old fs id and is foreign to the new one).
 * `valkka init` asks first; callers of the library decide for themselves.
 */
export interface NewFromDirectoryOptions {
  dirname: string;
  /** Rounded down to a multiple of 4096 (at least 4096); at most MAX_BLOCKSIZE (64 MiB). */
  blocksize: number;
  /** Number of blocks, 2 … MAX_BLOCKS (2^24); or give deviceSize (n_blocks = deviceSize / blocksize; a partition's size by default). */
  nBlocks?: number;
  deviceSize?: number;
  /** A GPT partition of type Linux swap (PARTUUID) instead of the dumpfile. */
  partitionUuid?: string;
  /** Default 1000 ms. */
  flushIntervalMs?: number;
  /** Use this device instead of a dumpfile or partition (tests: MemoryDevice). */
  device?: BlockDevice;
  /** The clock the maximum age is measured with (ms since the epoch; default Date.now). */
  clock?: () => number;
}

export interface LoadOptions {
  /** Open as a reader: no lock, no writing, no recovery. Default false (the writer). */
  readOnly?: boolean;
  flushIntervalMs?: number;
  device?: BlockDevice;
  /** The clock the maximum age is measured with (ms since the epoch; default Date.now). */
  clock?: () => number;
}

type Events = { block: [BlockEvent] };

export abstract class ValkkaFS extends EventEmitter<Events> {
  static readonly variant: Variant;
  /** How the last open recovered the ring (writer handles only). */
  recovery: RecoveryReport | undefined;
  private blockCallback: ((event: BlockEvent) => void) | undefined;
  private closed = false;
  private indexComplete = false;
  /** Summary of the block another process is writing, as of the last loadStreamIndex(). */
  private othersOpenBlock: { block: number; streams: StreamSummary[] } | undefined;
  /** False for a device the caller passed in (it stays open and unlocked by us). */
  ownsDevice = true;
  /** Why the last rewrite of valkkafs.json's current_block failed (writing goes on), or undefined. */
  metadataError: Error | undefined;
  /** Why the last retention round (protections poll, expiry) failed, or undefined. */
  retentionError: Error | undefined;
  /** @internal the clock of the maximum age */
  now: () => number = Date.now;
  private keeper: RetentionKeeper | undefined;
  private saveMeta: ((patch: Partial<Metadata>) => Promise<void>) | undefined;
  /** Stops the retention poll. */
  private stopRetentionPoll: (() => void) | undefined;
  /** Writer handles: the first expiry round (on open) has run. */
  private expiredOnce = false;
  /** Reader handles: blocks hidden because their video expired (not yet wiped by a writer). */
  private hiddenExpired = new Set<number>();

  private readonly writer: RingWriter | undefined;

  /** @internal use newFromDirectory / loadFromDirectory */
  constructor(
    readonly dirname: string,
    /** Where the blocks are read: this format's ring, or a libValkka directory (read-only). */
    private readonly store: BlockStore,
    private readonly index: StreamIndex,
    /** The writer handle's side: its ring writer, the ring it writes and the directory's lock. */
    private readonly writing?: Writing,
  ) {
    super();
    this.writer = writing?.writer;
  }

  abstract get variant(): Variant;

  /** True for a directory written by libValkka (opened read-only). */
  get isLegacy(): boolean {
    return this.store.format === 'libvalkka';
  }

  get blocksize(): number {
    return this.store.blocksize;
  }

  get nBlocks(): number {
    return this.store.nBlocks;
  }

  get readOnly(): boolean {
    return this.writer === undefined;
  }

  /** The block being written now (the original's current_block). */
  get currentBlock(): number {
    return this.store.currentBlock;
  }

  /** ValkkaSingleFS: the stream it holds (the first one written); undefined while empty, and for a MultiFS. */
  get streamId(): number | undefined {
    return this.store.metadata()?.stream_id;
  }

  get fsId(): string {
    return this.store.fsId;
  }

  /** The device of the dumpfile or partition (undefined for a libValkka directory). */
  get device(): BlockDevice | undefined {
    return this.store.device;
  }

  /** Largest frame payload that fits into one block. */
  get maxFramePayload(): number {
    return maxPayloadFor(this.blocksize);
  }

  // ---------- writing ----------

  /** Appends one frame (access unit). Throws FrameTooLargeError when it cannot fit into a block. */
  write(frame: Frame): Promise<void> {
    // Not async: the writer's promise is returned as is (the frame path is hot).
    try {
      return this.requireWriting().writer.write(frame);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Makes everything written durable now (the writer also does it every flush interval). */
  async flush(): Promise<void> {
    return this.requireWriting().writer.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopRetentionPoll?.();
    try {
      await this.writer?.close();
    } finally {
      await this.store.close(this.ownsDevice);
      await this.writing?.lock?.release().catch(() => undefined);
    }
  }

  // ---------- the block table and search ----------

  /** The live table (block-table.ts); do not modify. */
  get blockTable(): BlockTable {
    return this.store.table;
  }

  /** A copy of the table rows, [mstime1, mstime2] per block, as the original's numpy array. */
  getBlockTable(): Array<[number, number]> {
    const t = this.blockTable;
    return Array.from({ length: t.n }, (_, i) => t.get(i));
  }

  /** Reader handles: re-reads valkkafs.json and the blockfile to follow the writer (live edge). */
  async refresh(): Promise<void> {
    if (this.writer) return;
    for (const block of await this.store.refresh()) this.index.forget(block);
    await this.hideExpired();
  }

  /** [first key frame, last frame] over the used blocks, or undefined when empty. */
  getTimeRange(): [number, number] | undefined {
    return getTimeRange(this.blockTable);
  }

  /** Blocks to read to cover [t0, t1], in time order (the original's getInd). */
  getInd(times: TimeRange): number[] {
    return getInd(this.blockTable, times);
  }

  /** n blocks before `time` and n+1 from it, in time order (the original's getIndNeigh). */
  getIndNeigh(n = 1, time = 0): number[] {
    return getIndNeigh(this.blockTable, n, time);
  }

  /** The block to start reading from to show instant t. */
  blockAt(t: number): number | undefined {
    return blockAt(this.blockTable, t);
  }

  /**
   * The block holding the last key frame of `streamId` at or before t (for a MultiFS seek,
   * where a block's mstime1 says nothing about one stream), or undefined when there is none.
   */
  async keyBlockFor(streamId: number, t: number): Promise<number | undefined> {
    const used = this.blockTable.usedCount;
    // Widening windows of blocks around t (binary search, then a few blocks): the first window
    // holding a key frame of the stream at or before t has the latest one.
    for (let n = 2; ; n *= 4) {
      let best: { block: number; ts: number } | undefined;
      const window = getIndNeigh(this.blockTable, n, t);
      await this.loadSummaries(window);
      for (const block of window) {
        for (const s of this.spansOfBlock(block)) {
          if (s.streamId !== streamId || s.subsession !== 0 || s.firstKeyTs <= 0 || s.firstKeyTs > t) continue;
          const ts = s.lastKeyTs <= t ? s.lastKeyTs : s.firstKeyTs;
          if (!best || ts >= best.ts) best = { block, ts };
        }
      }
      if (best || n >= used) return best?.block;
    }
  }

  /**
   * Recorded intervals of each stream (or one), merged across blocks: a gap larger than maxGapMs
   * (default 5000) is a hole.
   */
  async recordedRanges(streamId?: number, options: { maxGapMs?: number; within?: TimeRange } = {}): Promise<Map<number, Array<[number, number]>>> {
    await this.loadStreamIndex();
    const spansOf = (block: number): StreamSpan[] =>
      this.spansOfBlock(block)
        .filter((s) => streamId === undefined || s.streamId === streamId)
        .map((s) => ({ streamId: s.streamId, first: s.firstTs, last: s.lastTs }));
    const opts = { maxGapMs: options.maxGapMs ?? 5000, ...(options.within ? { within: options.within } : {}) };
    return recordedRanges(this.blockTable, spansOf, opts);
  }

  /** Per-stream summary of a block (sealed: from its tail; open: from the writer), if known. */
  private spansOfBlock(block: number): StreamSummary[] {
    if (this.writer && block === this.writer.currentBlock) return this.writer.openStats.summary();
    const known = this.index.get(block);
    if (known) return known.streams;
    if (this.othersOpenBlock?.block === block && block === this.currentBlock) return this.othersOpenBlock.streams;
    return [];
  }

  /** Reads the summaries of every used block not known yet (two small reads per block, once). */
  async loadStreamIndex(): Promise<void> {
    if (this.indexComplete && this.writer) return;
    await this.loadSummaries(this.blockTable.timeOrder());
    this.indexComplete = true;
  }

  /** Summaries of these blocks: sealed ones from their tails (kept), an open one from its frames. */
  private async loadSummaries(blocks: readonly number[]): Promise<void> {
    for (const block of blocks) {
      if (this.index.has(block) || (this.writer && block === this.writer.currentBlock)) continue;
      const s = await this.store.readSummary(block);
      if (s) this.index.set(block, s);
      else if (!this.writer && block === this.currentBlock) {
        // Another process's open block (no summary yet): scan its frames.
        const c = await this.readBlock(block).catch(() => undefined);
        if (!c) continue;
        this.othersOpenBlock = { block, streams: statsOfFrames(this.variant, c.frames).summary() }; // it grows: not kept in the index
      }
    }
  }

  // ---------- reading ----------

  /**
   * Frames of block `index` (whole block, checked). The open block is read up to the last frame
   * written (this process's writer) or flushed (another process's). Throws BlockExpiredError when
   * the block is reused during the read or its seq differs from `expectedSeq`. `buffer` (blocksize
   * bytes from `device.allocBuffer`) saves a new buffer per read for a reader going through many
   * blocks: the payloads then point into it, so it must not be reused while they are needed.
   */
  async readBlock(index: number, options: { expectedSeq?: number; buffer?: Buffer } = {}): Promise<BlockContents> {
    if (this.closed) throw new ValkkaFSError('ECLOSED', `${this.dirname}: the filesystem is closed`);
    if (!Number.isInteger(index) || index < 0 || index >= this.nBlocks) {
      throw new ValkkaFSError('EBLOCKINDEX', `block ${index} is outside 0..${this.nBlocks - 1}`);
    }
    if (options.buffer && options.buffer.length !== this.blocksize) {
      throw new ValkkaFSError('EARGUMENT', `readBlock: a buffer of ${options.buffer.length} bytes, the blocksize is ${this.blocksize}`);
    }
    if (this.hiddenExpired.has(index)) throw new ValkkaFSError('EEXPIRED', `${this.dirname}: block ${index} holds video older than the maximum age (${this.store.metadata()?.max_age_ms} ms)`);
    return this.store.readBlock(index, options.expectedSeq, options.buffer);
  }

  /** Records of block n, without payloads (for `valkka dump-block`; inspect.ts). */
  async dumpBlock(n: number): Promise<DumpedBlock> {
    return dumpBlockContents(await this.readBlock(n));
  }

  /**
   * Format, geometry, time range and streams with their recorded ranges (for `valkka info`; inspect.ts).
   * One pass over the used blocks in time order; summaries not already known are read and dropped, so
   * memory stays bounded by the streams and their ranges whatever the size of the ring.
   */
  describe(options: { maxGapMs?: number } = {}): Promise<FsDescription> {
    const facts = (): FsFacts => ({
      format: this.store.format,
      formatVersion: this.store.formatVersion,
      variant: this.variant,
      dirname: this.dirname,
      dumpfile: this.store.dumpfile,
      partitionUuid: this.store.partitionUuid,
      fsId: this.store.fsId,
      blocksize: this.blocksize,
      nBlocks: this.nBlocks,
      capacityBytes: this.blocksize * this.nBlocks,
      maxFramePayload: this.maxFramePayload,
      currentBlock: this.currentBlock,
      timeRange: this.getTimeRange() ?? null,
    });
    return describeBlocks(this.summariesInTimeOrder(), facts, options.maxGapMs);
  }

  /** The per-stream summary of every used block, in time order. */
  private async *summariesInTimeOrder(): AsyncGenerator<StreamSummary[]> {
    const table = this.blockTable;
    // A writer's table changes while this awaits: walk a copy of its order. A reader's stands still.
    const order = this.writer ? table.timeOrder() : undefined;
    const used = order ? order.length : table.usedCount;
    for (let k = 0; k < used; k++) yield await this.summaryFor(order ? order[k]! : table.rowAt(k));
  }

  /** A block's per-stream summary for one pass: kept when this handle keeps it anyway, else read and dropped. */
  private async summaryFor(block: number): Promise<StreamSummary[]> {
    if (this.index.has(block) || block === this.currentBlock) {
      await this.loadSummaries([block]);
      return this.spansOfBlock(block);
    }
    const s = await this.store.readSummary(block).catch(() => undefined);
    return s?.streams ?? [];
  }

  // ---------- retention (retention/) ----------

  /** The protections of this directory, with the blocks and bytes each holds now. */
  listProtections(): Promise<retention.ProtectionInfo[]> {
    return retention.listProtections(this.retentionHost());
  }

  /** Protects [from, to] from the ring's wrap and from expiry until unprotect(); refused beyond the cap. */
  protect(request: retention.ProtectRequest): Promise<retention.ProtectionInfo> {
    return retention.protect(this.retentionHost(), request);
  }

  /** Releases a protection: its blocks return to the ring (and expire when too old). */
  unprotect(id: number): Promise<Protection> {
    return retention.unprotect(this.retentionHost(), id);
  }

  /** Writer handles: sets (ms) or removes (null) the maximum age, then expires what is due; resolves to the blocks wiped. */
  setMaxAge(ms: number | null): Promise<number[]> {
    return retention.setMaxAge(this.retentionHost(), ms);
  }

  /** Writer handles: the share of the ring protections may hold (default 0.5, at most 0.9). */
  setMaxProtected(share: number): Promise<void> {
    return retention.setMaxProtected(this.retentionHost(), share);
  }

  /** Oldest instant kept, maximum age, protections and their share of the ring. */
  retentionSummary(): Promise<retention.RetentionSummary> {
    return retention.retentionSummary(this.retentionHost());
  }

  /**
   * Writer handles: wipes the blocks whose video is older than the maximum age now (the writer also
   * does it every few seconds); resolves to the blocks wiped.
   */
  async expireNow(): Promise<number[]> {
    const { writer, ring } = this.requireWriting();
    const maxAge = ring.metadata().max_age_ms;
    if (maxAge === undefined) return [];
    const cutoff = this.now() - maxAge;
    const firstRound = !this.expiredOnce;
    const wiped = await writer.afterFlush(async (busy) => {
      const held = this.keeper?.held();
      const keep = (b: number): boolean => busy.has(b) || held?.has(b) === true;
      const gone = expiredBlocks(this.blockTable, cutoff, keep);
      // The first round also looks at the blocks whose rows were zeroed ahead before this writer opened.
      if (firstRound) gone.push(...(await expiredAhead(ring.device, ring.geometry, this.blockTable, writer.currentBlock, cutoff, keep)));
      this.expiredOnce = true;
      await wipeBlocks({ device: ring.device, blockfile: ring.blockfile, index: this.index, blocksize: this.blocksize }, gone);
      return gone;
    });
    return wiped ?? [];
  }

  private retentionHost(): retention.RetentionHost {
    if (this.closed) throw new ValkkaFSError('ECLOSED', `${this.dirname}: the filesystem is closed`);
    return {
      dirname: this.dirname,
      blocksize: this.blocksize,
      nBlocks: this.nBlocks,
      isLegacy: this.isLegacy,
      blockTable: this.blockTable,
      metadata: () => this.store.metadata(),
      now: () => this.now(),
      keeper: this.keeper,
      writer: this.writer,
      saveMetadata: this.saveMeta,
      expireNow: this.writer ? () => this.expireNow() : undefined,
    };
  }

  /** @internal openWriter's hook: the writer's retention, polled and enforced while it runs. */
  attachRetention(keeper: RetentionKeeper, saveMeta: (patch: Partial<Metadata>) => Promise<void>): void {
    this.keeper = keeper;
    this.saveMeta = saveMeta;
    let ticks = 0;
    // On the thread's shared tick (ticker.ts): with the flushes of the same interval, and the other filesystems'.
    this.stopRetentionPoll = everyInterval(RETENTION_POLL_MS, () => {
      ticks++;
      void (async () => {
        if (await keeper.reload()) await this.writer!.heldChanged();
        // Expiry every few seconds: well within the minute the maximum age allows.
        if (ticks % EXPIRY_TICKS === 0) await this.expireNow();
        this.retentionError = undefined;
      })().catch((err: unknown) => {
        if (!this.closed) this.retentionError = err as Error;
      });
    });
  }

  /** Reader handles: rows of expired video are hidden until a writer wipes them. */
  private async hideExpired(): Promise<void> {
    const meta = this.store.metadata();
    if (this.writer || meta?.max_age_ms === undefined) return;
    // A protections file that cannot be read hides nothing: protected video must never disappear.
    const protections = await readProtections(this.dirname).catch(() => undefined);
    if (protections) this.hiddenExpired = retention.hideExpired(this.blockTable, meta, protections, this.now());
  }

  // ---------- callbacks ----------

  /** The original's single callback slot, called with each sealed block; also emitted as 'block'. */
  setBlockCallback(cb: ((event: BlockEvent) => void) | undefined): void {
    this.blockCallback = cb;
  }

  /** @internal the writer's hook */
  deliverBlockEvent(event: BlockEvent): void {
    this.blockCallback?.(event);
    this.emit('block', event);
  }

  private requireWriting(): Writing {
    if (this.closed) throw new ValkkaFSError('ECLOSED', `${this.dirname}: the filesystem is closed`);
    if (!this.writing) throw new ValkkaFSError('EREADONLY', `${this.dirname}: opened read-only`);
    return this.writing;
  }

  // ---------- opening ----------

  protected static async create<T extends ValkkaFS>(this: FsClass<T>, options: NewFromDirectoryOptions): Promise<T> {
    const { dirname } = options;
    if (typeof dirname !== 'string' || dirname === '') throw new ValkkaFSError('EARGUMENT', 'dirname must be a non-empty string');
    const blocksize = checkBlocksize(options.blocksize);
    // Geometry known up front is refused before anything is touched on disk.
    if (options.nBlocks !== undefined || options.deviceSize !== undefined) checkNBlocks(nBlocksOf(options, blocksize, undefined), blocksize, 'requested');
    const paths = { json: join(dirname, JSON_NAME), blockfile: join(dirname, BLOCKFILE_NAME), dumpfile: join(dirname, DUMPFILE_NAME) };
    // Ours to replace only when each is absent or a regular file (never through a symlink or FIFO).
    const existed = {
      json: await checkRegularIn(dirname, paths.json, JSON_NAME),
      blockfile: await checkRegularIn(dirname, paths.blockfile, BLOCKFILE_NAME),
      dumpfile: options.partitionUuid || options.device ? true : await checkRegularIn(dirname, paths.dumpfile, DUMPFILE_NAME),
    };
    let madeDir: string | undefined;
    try {
      madeDir = await mkdir(dirname, { recursive: true });
    } catch (err) {
      throw ioError(dirname, 'cannot create the directory', err);
    }
    let lock: DirectoryLock | undefined;
    let device: BlockDevice | undefined;
    try {
      // Lock first: never wipe a directory another writer is using.
      lock = await lockDirectory(dirname, paths.blockfile);
      let dumpfile = paths.dumpfile;
      let partitionUuid: string | undefined;
      if (options.device) {
        device = options.device;
      } else if (options.partitionUuid) {
        partitionUuid = options.partitionUuid.toLowerCase();
        const part = await openPartition(partitionUuid, false, dirname);
        device = part;
        dumpfile = part.partition.device ?? part.name;
      }
      const nBlocks = checkNBlocks(nBlocksOf(options, blocksize, device), blocksize, device ? device.name : 'requested');
      if (!device) device = await wrapDevice(dirname, () => FileDevice.create(dumpfile, blocksize * nBlocks, { overwrite: true }));
      else if (partitionUuid) await rm(paths.dumpfile, { force: true });
      if (blocksize * nBlocks > device.size) {
        throw new ValkkaFSError('EARGUMENT', `${device.name}: ${nBlocks} blocks of ${blocksize} bytes need ${blocksize * nBlocks} bytes, the device has ${device.size}`);
      }
      if (blocksize % device.alignment !== 0) throw new ValkkaFSError('EARGUMENT', `blocksize ${blocksize} is not a multiple of ${device.name}'s alignment ${device.alignment}`);
      if (!options.device) await wrapDevice(dirname, () => device!.lock());
      // A new id: every header of an earlier filesystem on this device is foreign from now on. And a
      // random first sequence number: record and seal CRCs are seeded by the sequence number alone,
      // so an old block's records must not carry the number its block gets in the new ring.
      const fsId = randomBytes(16);
      const firstSeq = 1 + randomBytes(6).readUIntLE(0, 6);
      const variant = this.variant;
      // Block 0's header is durable before the json points at it.
      const head = device.allocBuffer(device.alignment);
      encodeBlockHeader(head, { version: FORMAT_VERSION, block: 0, fsId, seq: firstSeq, blocksize, nBlocks });
      await device.write(0, head);
      await device.flush();
      const blockfile = await BlockFile.create(paths.blockfile, nBlocks);
      await blockfile.sync();
      const meta = newMetadata({ dirname, partitionUuid, dumpfile, blocksize, nBlocks, fsId, variant });
      await writeMetadata(dirname, meta);
      const fs = await openWriter(this, dirname, meta, device, blockfile, lock, options.flushIntervalMs, options.clock);
      fs.ownsDevice = !options.device;
      return fs;
    } catch (err) {
      if (device && !options.device) await device.close().catch(() => undefined);
      await lock?.release().catch(() => undefined);
      // A failed init leaves nothing half-made: the directory if it made it, else the files it made.
      if (madeDir !== undefined) await rm(madeDir, { recursive: true, force: true }).catch(() => undefined);
      else for (const k of ['json', 'blockfile', 'dumpfile'] as const) if (!existed[k]) await rm(paths[k], { force: true }).catch(() => undefined);
      throw err;
    }
  }

  protected static async load<T extends ValkkaFS>(this: FsClass<T>, dirname: string, options: LoadOptions = {}): Promise<T> {
    const loaded = await readMetadata(dirname);
    if (loaded.kind === 'legacy') {
      const fs = new this(dirname, await openLegacyStore(dirname, loaded.meta, this.variant), new StreamIndex(loaded.meta.n_blocks));
      fs.ownsDevice = false;
      return fs;
    }
    const meta = loaded.meta;
    if (meta.variant !== this.variant) {
      throw new ValkkaFSLoadError('EMETADATA', `${dirname}: holds a ${meta.variant} filesystem, not a ${this.variant} one`);
    }
    const readOnly = options.readOnly ?? false;
    const blockfilePath = join(dirname, BLOCKFILE_NAME);
    const lock = readOnly ? undefined : await lockDirectory(dirname, blockfilePath);
    let device: BlockDevice | undefined;
    let blockfile: BlockFile | undefined;
    try {
      device = options.device ?? (await openDevice(dirname, meta, readOnly));
      if (!readOnly && !options.device) await wrapDevice(dirname, () => device!.lock());
      // Before anything is read or written: the device is this filesystem's, with the json's geometry.
      await verifyIdentity(dirname, meta, device, !options.device && !meta.partition_uuid);
      blockfile = await BlockFile.open(blockfilePath, meta.n_blocks, meta.current_block, { write: !readOnly });
      const fs = readOnly
        ? new this(dirname, new RingStore(dirname, meta, device, blockfile), new StreamIndex(meta.n_blocks))
        : await openWriter(this, dirname, meta, device, blockfile, lock, options.flushIntervalMs, options.clock);
      fs.ownsDevice = !options.device;
      if (readOnly) {
        if (options.clock) fs.now = options.clock;
        await fs.hideExpired();
      }
      return fs;
    } catch (err) {
      await blockfile?.close().catch(() => undefined);
      if (device && !options.device) await device.close().catch(() => undefined);
      await lock?.release().catch(() => undefined);
      throw err;
    }
  }

}

/** The requested blocksize, rounded down to 4096, or a clear refusal (before anything is touched). */
function checkBlocksize(requested: number): number {
  if (!Number.isSafeInteger(requested) || requested <= 0) throw new ValkkaFSError('EARGUMENT', `blocksize must be a positive integer, got ${requested}`);
  if (requested > MAX_BLOCKSIZE) {
    throw new ValkkaFSError('EARGUMENT', `blocksize ${requested} is larger than the maximum ${MAX_BLOCKSIZE} (${MAX_BLOCKSIZE / 2 ** 20} MiB): the writer holds three blocks in memory`);
  }
  return roundBlocksize(requested);
}

function nBlocksOf(options: NewFromDirectoryOptions, blocksize: number, device: BlockDevice | undefined): number {
  return options.nBlocks ?? Math.floor((options.deviceSize ?? device?.size ?? 0) / blocksize);
}

/** 2 ≤ n_blocks ≤ MAX_BLOCKS: two at least, so the block being written is never the only one holding the recording. */
function checkNBlocks(nBlocks: number, blocksize: number, where: string): number {
  if (!Number.isSafeInteger(nBlocks) || nBlocks < 2) {
    throw new ValkkaFSError('EARGUMENT', `n_blocks must be an integer >= 2 (give nBlocks, or a deviceSize of at least two blocks of ${blocksize} bytes), got ${nBlocks} (${where})`);
  }
  if (nBlocks > MAX_BLOCKS) {
    throw new ValkkaFSError('EARGUMENT', `n_blocks ${nBlocks} (${where}) is more than the maximum ${MAX_BLOCKS} blocks: use a larger blocksize`);
  }
  return nBlocks;
}

/** checkRegular, with a missing directory being fine (init creates it). */
async function checkRegularIn(dirname: string, path: string, what: string): Promise<boolean> {
  try {
    return await checkRegular(path, what);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'ENOTDIR') throw ioError(dirname, 'is not a directory', (err as { cause: unknown }).cause);
    throw err;
  }
}

/** The writer: recovery first, then the ring writer resumes where it ends. */
async function openWriter<T extends ValkkaFS>(
  ctor: FsClass<T>,
  dirname: string,
  meta: Metadata,
  device: BlockDevice,
  blockfile: BlockFile,
  lock: DirectoryLock | undefined,
  flushIntervalMs: number | undefined,
  clock: (() => number) | undefined,
): Promise<T> {
  const index = new StreamIndex(meta.n_blocks);
  const keeper = new RetentionKeeper(dirname, () => blockfile.table);
  await keeper.reload();
  const nextBlock = (b: number): number => nextBlockAfter(b, meta.n_blocks, keeper.held());
  const base = { device, blockfile, index, fsId: fsIdBytes(meta), variant: meta.variant, blocksize: meta.blocksize, nBlocks: meta.n_blocks, nextBlock };
  const hint = meta.next_block !== undefined && meta.next_block < meta.n_blocks ? meta.next_block : undefined;
  const { resume, report } = await recover(base, meta.current_block, hint);
  resume.configFrames = await lastConfigFrames(device, { fsId: base.fsId, blocksize: base.blocksize, nBlocks: base.nBlocks }, index, resume.open);
  let fs: T | undefined;
  // current_block is a hint recovery does not need (it follows successors): a json that cannot be
  // rewritten (a full disk, with a json too long to rewrite in place) must not stop the recording.
  const saveCurrentBlock = async (block: number): Promise<void> => {
    meta.current_block = block;
    delete meta.next_block;
    try {
      await writeMetadata(dirname, meta);
      if (fs) fs.metadataError = undefined;
    } catch (err) {
      if (fs) fs.metadataError = err as Error;
    }
  };
  const saveStreamId = async (id: number): Promise<void> => {
    meta.stream_id = id;
    await writeMetadata(dirname, meta);
  };
  // Skipping protected blocks: the json names the jump before the writer enters the block (recovery's
  // walk follows it). Unlike current_block this must not fail silently: the writer stops instead.
  const saveSkip = async (from: number, to: number): Promise<void> => {
    meta.current_block = from;
    meta.next_block = to;
    await writeMetadata(dirname, meta);
  };
  const single = meta.variant === 'single' ? { dirname, id: meta.stream_id, save: saveStreamId } : undefined;
  const writer = await RingWriter.start(
    { ...base, saveCurrentBlock, onBlock: (e) => fs?.deliverBlockEvent(e), retention: { held: () => keeper.held(), saveSkip }, ...(single ? { single } : {}) },
    resume,
    flushIntervalMs === undefined ? {} : { flushIntervalMs },
  );
  const ring = new RingStore(dirname, meta, device, blockfile, writer);
  fs = new ctor(dirname, ring, index, { writer, ring, lock });
  fs.recovery = report;
  if (clock) fs.now = clock;
  const saveMeta = (patch: Partial<Metadata>): Promise<void> =>
    writer.exclusive(async () => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete (meta as Record<string, unknown>)[k];
        else (meta as Record<string, unknown>)[k] = v;
      }
      await writeMetadata(dirname, meta);
    });
  fs.attachRetention(keeper, saveMeta);
  // Opening enforces the maximum age at once (the writer may have been stopped for days).
  try {
    await fs.expireNow();
  } catch (err) {
    fs.ownsDevice = false; // the caller's failure path closes the device and releases the lock
    await fs.close().catch(() => undefined);
    throw err;
  }
  return fs;
}

/** Protections are polled this often; expiry runs every EXPIRY_TICKS polls. */
const RETENTION_POLL_MS = 1000;
const EXPIRY_TICKS = 5;

type FsClass<T extends ValkkaFS> = {
  new (dirname: string, store: BlockStore, index: StreamIndex, writing?: Writing): T;
  readonly variant: Variant;
};

/** A writer handle's side: only this format's ring is written. */
interface Writing {
  writer: RingWriter;
  ring: RingStore;
  lock: DirectoryLock | undefined;
}

/** One camera per filesystem; mstime1 = the block's first key frame. */
export class ValkkaSingleFS extends ValkkaFS {
  static override readonly variant: Variant = 'single';
  get variant(): Variant {
    return 'single';
  }
  static newFromDirectory(options: NewFromDirectoryOptions): Promise<ValkkaSingleFS> {
    return ValkkaSingleFS.create(options);
  }
  static loadFromDirectory(dirname: string, options?: LoadOptions): Promise<ValkkaSingleFS> {
    return ValkkaSingleFS.load(dirname, options);
  }
}

/** Several cameras per filesystem; mstime1 = the block's last key frame among all streams. */
export class ValkkaMultiFS extends ValkkaFS {
  static override readonly variant: Variant = 'multi';
  get variant(): Variant {
    return 'multi';
  }
  static newFromDirectory(options: NewFromDirectoryOptions): Promise<ValkkaMultiFS> {
    return ValkkaMultiFS.create(options);
  }
  static loadFromDirectory(dirname: string, options?: LoadOptions): Promise<ValkkaMultiFS> {
    return ValkkaMultiFS.load(dirname, options);
  }
}

/** Opens a directory whatever its variant. */
export async function loadValkkaFS(dirname: string, options?: LoadOptions): Promise<ValkkaSingleFS | ValkkaMultiFS> {
  const loaded = await readMetadata(dirname);
  if (loaded.kind === 'ours' && loaded.meta.variant === 'multi') return ValkkaMultiFS.loadFromDirectory(dirname, options);
  return ValkkaSingleFS.loadFromDirectory(dirname, options);
}
