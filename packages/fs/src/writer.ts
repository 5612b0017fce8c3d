/**
 * The ring writer: appends frame records into the open block (an aligned buffer in memory,
 * readable in-process at once), makes the filled part durable at every flush interval, and
 * seals full blocks and moves to the next one in the order the invariants need:
 *
 *   seal b:  [write the rest of b, flush]  alongside  [row b+1 zeroed, blockfile synced]
 *            -> row b final  -> header of b+1 (seq+1) written with b+1's first flush or its seal
 *            -> valkkafs.json current_block = b+1 (after a flush)
 *
 * so a block's row is invalid before any of its bytes is reused, and the json never points
 * to a block whose header is not durable. Rows are zeroed a few blocks ahead at a time
 * (rowsInvalidatedAhead): one blockfile sync per few blocks. All device I/O runs on one serial
 * chain; while sealed blocks are written the next one fills another buffer (three in all), and
 * the frame path never waits for I/O unless every buffer is taken.
 */
import type { BlockStats, Row } from './block-stats.js';
import { FrameTooLargeError, StreamMismatchError, ValkkaFSError } from './errors.js';
import {
  BLOCK_HEADER_SIZE,
  RECORD_HEADER_SIZE,
  alignDown,
  alignUp,
  encodeFrameRecord,
  encodeSummary,
  recordSize,
  tailReserve,
} from './format.js';
import type { Frame } from './frame.js';
import { FrameIngest, validateFrame } from './ingest.js';
import { type OpenBlock, newOpenBlock } from './open-block.js';
import type { RecoveryContext, ResumePoint } from './recovery.js';
import { nextBlockAfter } from './retention/policy.js';
import { everyInterval } from './ticker.js';

export interface BlockEvent {
  /** The block just sealed. */
  index: number;
  /** Its final row [mstime1, mstime2]. */
  range: Row;
  seq: number;
  /** The block being written now. */
  currentBlock: number;
  /** The original's message: '' normally, 'frame' / 'keyframe' when a column was copied from the previous row. */
  msg: '' | 'frame' | 'keyframe';
}

/** Protected blocks and the maximum age (retention/): what the writer must skip and may expire. */
export interface RingRetention {
  /** Blocks the writer must not enter (they hold protected video), from the in-memory table now. */
  held(): ReadonlySet<number>;
  /**
   * Makes valkkafs.json say {current_block: from, next_block: to} durably before the writer enters
   * `to` after `from` (not the next block in ring order): recovery's walk follows the hint.
   */
  saveSkip(from: number, to: number): Promise<void>;
}

export interface RingContext extends RecoveryContext {
  /** Persists current_block in valkkafs.json (atomically). */
  saveCurrentBlock(block: number): Promise<void>;
  onBlock(event: BlockEvent): void;
  retention?: RingRetention;
  /** Set for a ValkkaSingleFS: frames of any other stream are refused. */
  single?: SingleStream;
}

/** The one stream of a ValkkaSingleFS (valkkafs.json stream_id). */
export interface SingleStream {
  dirname: string;
  /** Undefined until the first frame is written. */
  id: number | undefined;
  /** Persists the id in valkkafs.json (atomically); runs on the writer's I/O chain. */
  save(id: number): Promise<void>;
}

export interface WriterOptions {
  /** The filled part of the open block is made durable at least this often. Default 1000 ms. */
  flushIntervalMs?: number;
}

/** Block buffers per writer: the open one and up to two being sealed. */
const BUFFERS = 3;

const APPLIED: Promise<void> = Promise.resolve();

/**
 * How many rows the writer invalidates on disk at once, from the block it enters on: one
 * blockfile fdatasync per this many blocks instead of one per block. The rows after the
 * entered one still show their (intact) blocks in the writer's process; other processes,
 * and a recovery after a crash, lose sight of up to this many oldest blocks a little early.
 */
export const rowsInvalidatedAhead = (nBlocks: number): number => Math.max(1, Math.min(16, Math.floor(nBlocks / 16)));

export const maxPayloadFor = (blocksize: number): number => blocksize - BLOCK_HEADER_SIZE - RECORD_HEADER_SIZE - tailReserve(1);

export class RingWriter {
  private open: OpenBlock;
  /** Sealed blocks whose bytes are still being written (readable from memory meanwhile). */
  private sealing: OpenBlock[] = [];
  /** Free block buffers: BUFFERS in all, so that filling goes on while sealed blocks are written. */
  private readonly spares: Buffer[] = [];
  private sealDone: Promise<void> = Promise.resolve();
  private io: Promise<void> = Promise.resolve();
  /** The last queued write (writes wait here while an earlier one waits for a free buffer). */
  private tail: Promise<void> = Promise.resolve();
  /** Writes queued and not settled yet; 0 = a write may be applied at once. */
  private pending = 0;
  private failure: unknown;
  private flushQueued = false;
  private closed = false;
  /** Stops the flush tick. */
  private readonly stopTick: () => void;
  private previousRow: Row;
  private readonly ingest = new FrameIngest();
  private readonly maxPayload: number;
  /** current_block as valkkafs.json has it. */
  private jsonBlock: number;
  /** Blocks ahead of the open one whose rows are already zero on disk (durably). */
  private readonly zeroAhead = new Set<number>();

  private constructor(
    private readonly ctx: RingContext,
    resume: ResumePoint,
    options: WriterOptions,
  ) {
    this.open = resume.open;
    this.previousRow = resume.previousRow;
    this.jsonBlock = resume.jsonBlock;
    for (let i = 1; i < BUFFERS; i++) this.spares.push(ctx.device.allocBuffer(ctx.blocksize));
    this.maxPayload = maxPayloadFor(ctx.blocksize);
    const interval = options.flushIntervalMs ?? 1000;
    if (!(interval > 0)) throw new ValkkaFSError('EARGUMENT', `flushIntervalMs must be > 0, got ${interval}`);
    // Shared with the thread's other writers of this interval: their flushes overlap (ticker.ts).
    this.stopTick = everyInterval(interval, () => void this.requestFlush().catch(() => undefined));
  }

  /** Starts writing at the resume point; a sealed resume block is left at once for the next one. */
  static async start(ctx: RingContext, resume: ResumePoint, options: WriterOptions = {}): Promise<RingWriter> {
    const writer = new RingWriter(ctx, resume, options);
    for (const f of resume.configFrames ?? []) writer.ingest.learn(f);
    if (resume.open.sealed) await writer.advance();
    // Puts the header of the block where writing resumes on the device, and the json in step.
    await writer.requestFlush(true);
    return writer;
  }

  get currentBlock(): number {
    return this.open.block;
  }

  /** Sequence number of the block being written. */
  get currentSeq(): number {
    return this.open.seq;
  }

  /** Stats of the open block (for in-process per-stream queries). */
  get openStats(): BlockStats {
    return this.open.stats;
  }

  /**
   * Appends one frame (an access unit). Resolves once it is in the open block, readable in-process;
   * durable after the next flush. Calls are applied in order.
   */
  write(frame: Frame): Promise<void> {
    if (this.pending === 0) {
      // The common case: nothing queued and the frame fits: appended now, no promise chain.
      let waiting: Promise<void> | undefined;
      try {
        waiting = this.writeNow(frame);
      } catch (err) {
        return Promise.reject(err);
      }
      return waiting === undefined ? APPLIED : this.queue(waiting);
    }
    return this.queue(this.tail.then(() => this.writeNow(frame)));
  }

  private queue(p: Promise<void>): Promise<void> {
    this.pending++;
    const settled = (): void => {
      this.pending--;
    };
    this.tail = p.then(settled, settled);
    return p;
  }

  /** Makes everything written so far durable (and the open block's row visible to other processes). */
  async flush(): Promise<void> {
    await this.tail;
    await this.requestFlush(true);
  }

  /** Seals the partial block (as the original's stop did), waits for all I/O, stops the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopTick();
    await this.tail;
    this.closed = true;
    if (this.failure === undefined && this.open.stats.frames > 0) await this.advance();
    if (this.failure === undefined) await this.requestFlush(true).catch(() => undefined);
    await this.io;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Bytes of a block the writer holds in memory (open or being sealed), with its seq; undefined otherwise. */
  snapshot(block: number): { seq: number; bytes: Buffer; sealed: boolean } | undefined {
    for (const ob of [this.open, ...this.sealing]) {
      if (ob && ob.block === block) return { seq: ob.seq, bytes: Buffer.from(ob.buf.subarray(0, ob.sealed ? this.ctx.blocksize : ob.filled)), sealed: ob.sealed };
    }
    return undefined;
  }

  // ---------- internals ----------

  /** Appends the frame; when the open block is full, returns the promise of sealing it and appending to the next. */
  private writeNow(frame: Frame): Promise<void> | undefined {
    if (this.closed) throw new ValkkaFSError('ECLOSED', 'the writer is closed');
    if (this.failure !== undefined) throw this.failure;
    const single = this.ctx.single;
    if (single?.id !== undefined && frame.streamId !== single.id) {
      validateFrame(frame); // a malformed frame is reported as such
      throw new StreamMismatchError(single.dirname, single.id, frame.streamId);
    }
    const f = this.ingest.prepare(frame);
    if (f.payload.length > this.maxPayload) throw new FrameTooLargeError(f.payload.length, this.maxPayload, this.ctx.blocksize);
    if (single && single.id === undefined) {
      // The first frame ever: the json names the stream before the frame can reach the device.
      single.id = f.streamId;
      return this.enqueue(() => single.save(f.streamId)).then(() => this.place(f));
    }
    return this.place(f);
  }

  /** Appends f to the open block, or returns the promise of sealing it and appending to the next. */
  private place(f: Frame): Promise<void> | undefined {
    const size = recordSize(f.payload.length);
    if (this.open.filled + size + tailReserve(this.open.stats.entriesWith(f.streamId, f.subsession)) > this.ctx.blocksize) {
      return this.advance().then(() => this.append(f));
    }
    this.append(f);
    return undefined;
  }

  private append(f: Frame): void {
    const ob = this.open;
    ob.filled = encodeFrameRecord(ob.buf, ob.filled, f, ob.seed);
    ob.stats.add(f);
    this.showLiveRow(ob);
  }

  /** The open block's live row in the in-memory table (readers in this process see the live edge). */
  private showLiveRow(ob: OpenBlock): void {
    const table = this.ctx.blockfile.table;
    const [mstime1, mstime2] = ob.stats.liveRow(this.previousRow);
    if (mstime2 === 0 || ob.sealed) return;
    if (mstime1 !== table.mstime1(ob.block) || mstime2 !== table.mstime2(ob.block)) table.set(ob.block, mstime1, mstime2);
  }

  /** Seals the open block (summary at its tail) and enters the next one in a fresh buffer. */
  private async advance(): Promise<void> {
    const old = this.open;
    if (!old.sealed) {
      // Zeros between the last record and the summary: a sealed block's records end cleanly.
      const at = this.ctx.blocksize - tailReserve(old.stats.entryCount);
      old.buf.fill(0, old.filled, at);
      encodeSummary(old.buf, this.ctx.blocksize, old.stats.summary(), old.seed);
      old.sealed = true;
    }
    // The final row now: the next block's live row falls back on it.
    old.final = old.stats.finalRow(this.previousRow);
    this.previousRow = old.final.row;
    this.ctx.blockfile.table.set(old.block, old.final.row[0], old.final.row[1]);
    let buf: Buffer | undefined;
    while ((buf = this.spares.pop()) === undefined) {
      // The oldest seal in flight frees a buffer first.
      await (this.sealing[0]?.done ?? this.sealDone).catch(() => undefined);
      if (this.failure !== undefined) throw this.failure;
    }
    const next = newOpenBlock(this.ctx, buf, this.nextBlock(old.block), old.seq + 1);
    // In memory at once: the next block is no longer what its row said (on disk in the seal job).
    this.ctx.index.forget(next.block);
    this.ctx.blockfile.table.set(next.block, 0, 0);
    this.ctx.blockfile.table.setCurrentBlock(next.block);
    this.sealing.push(old);
    this.open = next;
    this.sealDone = old.done = this.enqueue(() => this.seal(old, next));
  }

  private async seal(old: OpenBlock, next: OpenBlock): Promise<void> {
    const { device, blockfile, blocksize } = this.ctx;
    const from = alignDown(old.durable, device.alignment);
    // Two independent things at once: the rest of the old block, and the next block's row made
    // invalid on disk (before any of its bytes is written: that happens in later jobs).
    // Each with its own fdatasync, running side by side.
    const settled = await Promise.allSettled([
      (from < blocksize ? device.write(old.block * blocksize + from, old.buf.subarray(from, blocksize)) : Promise.resolve()).then(() => device.flush()),
      this.invalidateRow(next.block),
    ]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    old.durable = blocksize;
    if (next.block !== (old.block + 1) % this.ctx.nBlocks) {
      // Protected blocks skipped: the json names the jump before any byte of `next` is written.
      await this.ctx.retention!.saveSkip(old.block, next.block);
      this.jsonBlock = old.block;
    }
    // The final row after the data is durable; the row itself is synced before the json moves past it.
    const { row, msg } = old.final!;
    await blockfile.setRow(old.block, row);
    old.rowOnDisk = row;
    this.ctx.index.set(old.block, { seq: old.seq, streams: old.stats.summary() });
    // The next block's header reaches the device with its first flush; the json follows then.
    this.sealing = this.sealing.filter((b) => b !== old);
    this.spares.push(old.buf);
    this.ctx.onBlock({ index: old.block, range: row, seq: old.seq, currentBlock: next.block, msg });
  }

  /** Makes block's row zero on disk (durably), with the rows of the next few blocks when it is not yet. */
  private async invalidateRow(block: number): Promise<void> {
    if (this.zeroAhead.delete(block)) return;
    this.zeroAhead.clear();
    // The run of blocks from `block` on, up to the first protected one (its row must stay).
    const held = this.ctx.retention?.held();
    let count = 1;
    while (count < rowsInvalidatedAhead(this.ctx.nBlocks) && !held?.has((block + count) % this.ctx.nBlocks)) count++;
    await this.ctx.blockfile.zeroRowsOnDisk(block, count);
    await this.ctx.blockfile.sync();
    for (let i = 1; i < count; i++) this.zeroAhead.add((block + i) % this.ctx.nBlocks);
  }

  /** The block entered after `block`: the next one in ring order that is not protected. */
  private nextBlock(block: number): number {
    return nextBlockAfter(block, this.ctx.nBlocks, this.ctx.retention?.held());
  }

  /** Runs `job` on the writer's I/O chain (alone: no device or json write of the writer runs meanwhile). */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    let result: T;
    return this.enqueue(async () => {
      result = await job();
    }).then(() => result);
  }

  /**
   * Protections changed: a newly protected block whose row was zeroed ahead gets its row back on
   * disk (its bytes are intact; this process's table still shows it).
   */
  heldChanged(): Promise<void> {
    return this.enqueue(async () => {
      const held = this.ctx.retention?.held();
      let restored = false;
      for (const b of [...this.zeroAhead]) {
        if (!held?.has(b)) continue;
        this.zeroAhead.delete(b);
        await this.ctx.blockfile.setRow(b, this.ctx.blockfile.row(b));
        restored = true;
      }
      if (restored) await this.ctx.blockfile.sync();
    });
  }

  /**
   * Runs `job` on the I/O chain after a flush, when valkkafs.json names the open block (so the blocks
   * the job wipes are never on recovery's walk). `job` gets the blocks it must leave alone: the open
   * one and those being sealed. Resolves to undefined when the json lagged (try again later).
   */
  async afterFlush<T>(job: (busy: ReadonlySet<number>) => Promise<T>): Promise<T | undefined> {
    await this.requestFlush(true);
    let result: T | undefined;
    await this.enqueue(async () => {
      if (this.jsonBlock !== this.open.block) return;
      result = await job(new Set([this.open.block, ...this.sealing.map((b) => b.block)]));
    });
    return result;
  }

  private requestFlush(force = false): Promise<void> {
    if (this.closed && !force) return Promise.resolve();
    if (this.flushQueued && !force) return this.io;
    this.flushQueued = true;
    const ob = this.open;
    return this.enqueue(async () => {
      this.flushQueued = false;
      await this.flushOpen(ob);
    });
  }

  /** Writes the filled part of `ob` not yet durable (from its last aligned offset, one write), flushes, publishes its row. */
  private async flushOpen(ob: OpenBlock): Promise<void> {
    if (ob.sealed) return; // its seal, queued after this job, writes everything
    const { device, blocksize } = this.ctx;
    const end = ob.filled;
    const row = ob.stats.liveRow(this.previousRow);
    if (end > ob.durable) {
      const from = alignDown(ob.durable, device.alignment);
      const to = Math.min(blocksize, alignUp(end, device.alignment));
      ob.buf.fill(0, end, to); // the buffer is reused: what follows the records must not be an older block's bytes
      await device.write(ob.block * blocksize + from, ob.buf.subarray(from, to));
      await device.flush();
      ob.durable = end;
    }
    if (row[0] !== ob.rowOnDisk[0] || row[1] !== ob.rowOnDisk[1]) {
      await this.ctx.blockfile.setRow(ob.block, row);
      ob.rowOnDisk = row;
      // The in-memory row may already be newer than the one just written.
      this.showLiveRow(ob);
    }
    // current_block follows at most once per flush, and only to a block whose header is durable:
    // recovery follows the successors of the json's block, so a json that lags loses nothing.
    if (this.jsonBlock !== ob.block && ob.durable > 0) {
      await this.ctx.blockfile.sync();
      await this.ctx.saveCurrentBlock(ob.block);
      this.jsonBlock = ob.block;
    }
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const p = this.io.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return job();
    });
    this.io = p.catch((err: unknown) => {
      this.failure ??= err;
    });
    return p;
  }
}

