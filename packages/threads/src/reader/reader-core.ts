import type { Frame } from '@valkka/fs';
import type { BlockSource } from '../fs-port.js';
import { ThreadsError } from '../errors.js';
import type { QueueEntry, ThreadCommand } from '../slot-frame.js';
import { StreamMap } from '../writer/slot-map.js';

/** Commands of the reader thread. */
export type ReaderCommand =
  | { type: 'setSlotId'; slot: number; id: number }
  | { type: 'unsetSlotId'; id: number }
  | { type: 'clearSlotIds' }
  | { type: 'reportSlotIds' }
  | { type: 'pullBlocks'; blocks: number[]; request: number; seqs?: Array<number | null> };

/** A block that was reused by the writer between the request and the read: skipped, never half-delivered. */
export interface ExpiredBlock {
  index: number;
  request: number;
  message: string;
}

export interface ReaderCounts {
  requests: number;
  /** Blocks delivered. */
  blocks: number;
  frames: number;
  bytes: number;
  expired: number;
  /** Blocks whose header does not validate (never written, or damaged): delivered as empty. */
  invalid: number;
  /** Bytes of block data and carried frames the reader holds now, and the most it ever held (bounded by its budget). */
  heldBytes: number;
  maxHeldBytes: number;
  /** Frames delivered before a later block's earlier frames because holding them back would exceed the budget. */
  overBudget: number;
}

export interface ReaderHooks {
  /** Delivers one output entry (to the output FrameQueue, waiting for room); false when nobody will take it (stopping). */
  deliver(entry: QueueEntry): boolean | Promise<boolean>;
  expired(block: ExpiredBlock): void;
  log(message: string): void;
  /** Answers reportSlotIds (the command is the question). */
  report(map: Array<[number, number]>, command: ThreadCommand): void;
}

export interface ReaderLimits {
  /** Bytes of a whole block: what one block read holds. */
  blocksize: number;
  /** Bytes the reader may hold for a request: one block being read plus the frames carried to later blocks. */
  budgetBytes: number;
}

/** A block of the request as the first pass found it. */
interface Span {
  index: number;
  seq: number;
  first: number;
  last: number;
}

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;
/** @valkka/fs's BlockExpiredError. */
const EXPIRED = 'EEXPIRED';
/** @valkka/fs's BlockHeaderError: a block never written, or damaged. */
const BAD_HEADER = 'EBLOCKHEADER';

/** The reader thread's work: id -> slot mapping and pullBlocks with start/end markers (libValkka §6). */
export class ReaderCore {
  /** id -> slot. */
  readonly ids = new StreamMap('id', 'slot');
  readonly counts: ReaderCounts = { requests: 0, blocks: 0, frames: 0, bytes: 0, expired: 0, invalid: 0, heldBytes: 0, maxHeldBytes: 0, overBudget: 0 };
  /** Time spans of sealed blocks by index (they cannot change until reused, which changes their seq). */
  private readonly sealedSpans = new Map<number, Span>();

  constructor(
    private readonly source: BlockSource,
    private readonly hooks: ReaderHooks,
    private readonly limits: ReaderLimits,
  ) {
    if (!(limits.budgetBytes >= 2 * limits.blocksize)) {
      throw new ThreadsError(
        'ERR_READER_BUDGET',
        `the reader's budget of ${limits.budgetBytes} bytes is less than two blocks (2 x ${limits.blocksize}): give it at least ${2 * limits.blocksize}`,
      );
    }
  }

  command(command: ThreadCommand): void | Promise<void> {
    const c = command as ReaderCommand;
    switch (c.type) {
      case 'setSlotId':
        if (!this.ids.set(c.id, c.slot, this.hooks.log)) this.hooks.log(`setSlotId: id ${c.id} is already mapped to slot ${this.ids.get(c.id)} (ignored)`);
        return;
      case 'unsetSlotId':
        this.ids.unset(c.id);
        return;
      case 'clearSlotIds':
        this.ids.clear();
        return;
      case 'reportSlotIds':
        this.hooks.report(
          this.ids.entries().map(([id, slot]) => [slot, id]),
          command,
        );
        return;
      case 'pullBlocks':
        return this.pullBlocks(c.blocks, c.request, c.seqs);
      default:
        this.hooks.log(`unknown reader command ${JSON.stringify(command)} (ignored)`);
    }
  }

  /**
   * Delivers start marker, the frames of mapped ids in time order, an 'expired' command entry per skipped block,
   * end marker, holding at most budgetBytes: blocks are streamed, not gathered.
   * A first pass reads each block once for its time span and sequence number (sealed blocks' spans are kept);
   * the second takes the blocks in order of their first frame and, from each, delivers what is earlier than
   * every block still to come. Frames of its block that must wait (blocks may overlap in time: several
   * streams, clocks apart) are copied out, so the block's buffer is let go; if the copies would exceed the
   * budget they go out at once, counted in overBudget (in order among themselves, not with later blocks).
   * A block reused by the writer (its sequence number changed: since `seqs[i]`, or between the passes) is
   * skipped whole and reported, never half-delivered (libValkka's L10).
   * As the original: the markers carry the first and last frame's timestamp read (mapped or not), 0 when none;
   * indices >= n_blocks are skipped.
   */
  async pullBlocks(blocks: number[], request: number, seqs?: Array<number | null>): Promise<void> {
    this.counts.requests += 1;
    const expired: ExpiredBlock[] = [];
    const spans: Span[] = [];
    for (const [i, index] of blocks.entries()) {
      if (!Number.isInteger(index) || index < 0 || index >= this.source.nBlocks) continue;
      const wanted = seqs?.[i] ?? undefined;
      const known = this.sealedSpans.get(index);
      if (known && wanted !== undefined && known.seq === wanted) {
        spans.push(known);
        continue;
      }
      const contents = await this.read(index, wanted, request, expired);
      if (!contents || contents.frames.length === 0) continue;
      let first = Infinity;
      let last = -Infinity;
      for (const f of contents.frames) {
        if (f.timestamp < first) first = f.timestamp;
        if (f.timestamp > last) last = f.timestamp;
      }
      const span = { index, seq: contents.seq, first, last };
      if (contents.sealed) this.sealedSpans.set(index, span);
      spans.push(span);
    }
    spans.sort((a, b) => a.first - b.first); // stable: equal starts keep the request's order
    const first = spans.length > 0 ? Math.min(...spans.map((s) => s.first)) : 0;
    let last = spans.length > 0 ? Math.max(...spans.map((s) => s.last)) : 0;
    if (!(await this.hooks.deliver({ kind: 'marker', marker: { type: 'start', timestamp: first, request } }))) return;
    let carried: Frame[] = [];
    for (const [j, span] of spans.entries()) {
      const contents = await this.read(span.index, span.seq, request, expired);
      if (!contents) continue;
      this.counts.blocks += 1;
      const mine = contents.frames.filter((f) => this.ids.get(f.streamId) !== undefined);
      for (const f of contents.frames) last = Math.max(last, f.timestamp); // the open block grew since the first pass
      const copies = new Set(carried);
      const pending = sortByTime(carried.concat(mine));
      const limit = spans[j + 1]?.first ?? Infinity;
      let cut = pending.findIndex((f) => f.timestamp > limit);
      if (cut < 0) cut = pending.length;
      carried = pending.slice(cut).map((f) => (copies.has(f) ? f : { ...f, payload: f.payload.slice() }));
      const carriedBytes = carried.reduce((n, f) => n + f.payload.byteLength, 0);
      this.hold(this.limits.blocksize + carriedBytes);
      if (this.limits.blocksize + carriedBytes > this.limits.budgetBytes) {
        this.counts.overBudget += carried.length;
        this.hooks.log(`request ${request}: ${carried.length} frames (${carriedBytes} bytes) would exceed the reader's budget waiting for block ${spans[j + 1]?.index}: delivered now, ahead of earlier frames of later blocks`);
        cut = pending.length;
        carried = [];
      }
      if (!(await this.send(pending.slice(0, cut)))) return;
      this.hold(carried.reduce((n, f) => n + f.payload.byteLength, 0)); // the block's buffer is let go
    }
    if (!(await this.send(carried))) return;
    this.hold(0);
    // In band too, ordered before the end marker: the consumer knows the transmission lacks these blocks.
    for (const notice of expired) if (!(await this.hooks.deliver({ kind: 'command', command: { type: 'expired', ...notice } }))) return;
    await this.hooks.deliver({ kind: 'marker', marker: { type: 'end', timestamp: last, request } });
  }

  /** One block whole, or undefined when it expired (reported) or is invalid (logged). */
  private async read(index: number, expectedSeq: number | undefined, request: number, expired: ExpiredBlock[]) {
    try {
      this.hold(this.counts.heldBytes + this.limits.blocksize);
      return await this.source.readBlock(index, expectedSeq);
    } catch (err) {
      if (codeOf(err) === EXPIRED) {
        this.counts.expired += 1;
        const notice = { index, request, message: (err as Error).message };
        expired.push(notice);
        this.hooks.expired(notice);
      } else if (codeOf(err) === BAD_HEADER) {
        // As the original's terminator at the block start: nothing to deliver.
        this.counts.invalid += 1;
        this.hooks.log(`block ${index}: ${(err as Error).message} (delivered as empty)`);
      } else throw err;
      return undefined;
    } finally {
      this.hold(this.counts.heldBytes - this.limits.blocksize);
    }
  }

  /** Frames out, id -> slot; false when the output no longer takes them (stopping). */
  private async send(frames: Frame[]): Promise<boolean> {
    for (const frame of frames) {
      const { streamId, ...rest } = frame;
      this.counts.frames += 1;
      this.counts.bytes += frame.payload.byteLength;
      const r = this.hooks.deliver({ kind: 'frame', frame: { ...rest, slot: this.ids.get(streamId)! } });
      if (!(r instanceof Promise ? await r : r)) return false;
    }
    return true;
  }

  private hold(bytes: number): void {
    this.counts.heldBytes = bytes;
    if (bytes > this.counts.maxHeldBytes) this.counts.maxHeldBytes = bytes;
  }
}

/** Stable sort by timestamp: frames of equal time (SPS, PPS, IDR; several streams) keep their disk order. */
function sortByTime(frames: Frame[]): Frame[] {
  return frames.sort((a, b) => a.timestamp - b.timestamp);
}
