import type { Frame } from '@valkka/fs';
import type { BlockSource } from '../fs-port.js';
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
  blocks: number;
  frames: number;
  bytes: number;
  expired: number;
  /** Blocks whose header does not validate (never written, or damaged): delivered as empty. */
  invalid: number;
}

export interface ReaderHooks {
  /** Delivers one output entry (to the output FrameQueue, waiting for room). */
  deliver(entry: QueueEntry): void | Promise<void>;
  expired(block: ExpiredBlock): void;
  log(message: string): void;
  report(map: Array<[number, number]>): void;
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
  readonly counts: ReaderCounts = { requests: 0, blocks: 0, frames: 0, bytes: 0, expired: 0, invalid: 0 };

  constructor(
    private readonly source: BlockSource,
    private readonly hooks: ReaderHooks,
  ) {}

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
        this.hooks.report(this.ids.entries().map(([id, slot]) => [slot, id]));
        return;
      case 'pullBlocks':
        return this.pullBlocks(c.blocks, c.request, c.seqs);
      default:
        this.hooks.log(`unknown reader command ${JSON.stringify(command)} (ignored)`);
    }
  }

  /**
   * Reads every requested block whole (a reused block throws and is reported, so it is never half-delivered),
   * then delivers start marker, the frames of mapped ids in time order, an 'expired' command entry per skipped
   * block, end marker.
   * As the original: the markers carry the first and last frame's timestamp read (mapped or not), 0 when none;
   * indices >= n_blocks are skipped. `seqs[i]`, when given, is the sequence number block `blocks[i]` had when it
   * was chosen (from the writer's 'block' events): a block reused since then is expired too.
   */
  async pullBlocks(blocks: number[], request: number, seqs?: Array<number | null>): Promise<void> {
    this.counts.requests += 1;
    const frames: Frame[] = [];
    const expired: ExpiredBlock[] = [];
    for (const [i, index] of blocks.entries()) {
      if (!Number.isInteger(index) || index < 0 || index >= this.source.nBlocks) continue;
      try {
        for (const frame of await this.source.readBlock(index, seqs?.[i] ?? undefined)) frames.push(frame);
        this.counts.blocks += 1;
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
      }
    }
    sortByTime(frames);
    const first = frames[0]?.timestamp ?? 0;
    const last = frames[frames.length - 1]?.timestamp ?? 0;
    await this.hooks.deliver({ kind: 'marker', marker: { type: 'start', timestamp: first, request } });
    for (const frame of frames) {
      const slot = this.ids.get(frame.streamId);
      if (slot === undefined) continue;
      const { streamId: _id, ...rest } = frame;
      this.counts.frames += 1;
      this.counts.bytes += frame.payload.byteLength;
      const r = this.hooks.deliver({ kind: 'frame', frame: { ...rest, slot } });
      if (r instanceof Promise) await r;
    }
    // In band too, ordered before the end marker: the consumer knows the transmission lacks these blocks.
    for (const notice of expired) await this.hooks.deliver({ kind: 'command', command: { type: 'expired', ...notice } });
    await this.hooks.deliver({ kind: 'marker', marker: { type: 'end', timestamp: last, request } });
  }
}

/** Stable sort by timestamp: frames of equal time (SPS, PPS, IDR; several streams) keep their disk order. */
function sortByTime(frames: Frame[]): void {
  frames.sort((a, b) => a.timestamp - b.timestamp);
}
