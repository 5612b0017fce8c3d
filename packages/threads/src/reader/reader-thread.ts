import { ThreadsError } from '../errors.js';
import { FrameQueue, type FrameQueueStats } from '../queue/frame-queue.js';
import { type ThreadEvents, ValkkaThread } from '../thread/valkka-thread.js';
import { checkNumber } from '../writer/slot-map.js';
import type { ExpiredBlock, ReaderCommand, ReaderCounts } from './reader-core.js';

export interface ReaderStats extends ReaderCounts {
  output: FrameQueueStats;
}

export interface ReaderThreadOptions {
  /** The filesystem's directory; the worker opens it read-only (no writer lock), so it never blocks the writer. */
  dirname: string;
  name?: string;
  /** Where the frames and markers go (default: a new blocking queue of outputBytes; it must be blocking). Its consumer is the owner or a cacher thread. */
  output?: FrameQueue;
  /** Size of the default output queue (default 8 MiB). */
  outputBytes?: number;
  /**
   * Bytes the reader may hold while it serves a request (one block being read + frames carried to later blocks),
   * whatever the request's size; at least two blocks. Default 4 blocks. The output queue comes on top.
   */
  budgetBytes?: number;
}

export interface ReaderWorkerData {
  dirname: string;
  output: SharedArrayBuffer;
  budgetBytes?: number;
}

/** The default budget, in blocks. */
export const DEFAULT_BUDGET_BLOCKS = 4;

export const READER_COUNTERS = ['requests', 'blocks', 'frames', 'bytes', 'expired', 'invalid', 'heldBytes', 'maxHeldBytes', 'overBudget'] as const;

/** The reader's events: blocks skipped because they were reused, refused commands and budget notes, 'error'. */
export type ReaderEvents = ThreadEvents<{ expired: [ExpiredBlock]; log: [string] }>;

/**
 * libValkka's ValkkaFSReaderThread: on pullBlocks(list) it reads those blocks whole in its own worker and puts
 * a start marker, the frames (id -> slot) in time order and an end marker into `output`.
 * Events: 'expired' (ExpiredBlock) for a block reused by the writer since it was asked for (it is skipped),
 * 'log' (string), 'error' (ThreadDiedError). `output` is closed when a stop is requested (see requestStop).
 */
export class ValkkaFSReaderThread extends ValkkaThread<ReaderWorkerData, ReaderEvents> {
  readonly output: FrameQueue;
  private nextRequest = 1;

  constructor(options: ReaderThreadOptions) {
    const output = options.output ?? FrameQueue.create({ capacity: options.outputBytes ?? 8 * 1024 * 1024, mode: 'block' });
    if (output.mode !== 'block') {
      // A dropping queue would deliver blocks with holes in them: the reader waits for its consumer instead.
      throw new ThreadsError('ERR_READER_OUTPUT', 'the reader output queue must be in blocking mode (a dropping queue would cut blocks short)');
    }
    super({
      name: options.name ?? `reader:${options.dirname}`,
      worker: 'reader-worker',
      outputs: [output],
      counters: READER_COUNTERS,
      data: { dirname: options.dirname, output: output.buffer, ...(options.budgetBytes !== undefined ? { budgetBytes: options.budgetBytes } : {}) },
    });
    this.output = output;
  }

  /** Frames of on-disk stream `id` come out with `slot`. Refused (a 'log' event) when the id is already mapped. */
  async setSlotId(slot: number, id: number): Promise<void> {
    checkNumber('slot', slot);
    checkNumber('id', id);
    return this.send({ type: 'setSlotId', slot, id });
  }

  /** Note: by id, as the original. */
  async unsetSlotId(id: number): Promise<void> {
    checkNumber('id', id);
    return this.send({ type: 'unsetSlotId', id });
  }

  clearSlotIds(): Promise<void> {
    return this.send({ type: 'clearSlotIds' });
  }

  /** The map as [slot, id] pairs, after every command sent before. */
  async reportSlotIds(): Promise<Array<[number, number]>> {
    return this.ask<Array<[number, number]>>({ type: 'reportSlotIds' } satisfies ReaderCommand);
  }

  /**
   * Queues a request for these blocks; resolves to its request number (carried by its two markers).
   * `seqs` (optional, one per block, null for unknown): the sequence numbers the blocks had when they were chosen
   * (BlockInfo.seq of the writer's 'block' events); a block reused since then is reported 'expired' and skipped.
   */
  async pullBlocks(blocks: readonly number[], seqs?: ReadonlyArray<number | null>): Promise<number> {
    const request = this.nextRequest++;
    await this.send({ type: 'pullBlocks', blocks: [...blocks], request, ...(seqs ? { seqs: [...seqs] } : {}) });
    return request;
  }

  stats(): ReaderStats {
    const c = this.counters();
    return {
      requests: c.requests!,
      blocks: c.blocks!,
      frames: c.frames!,
      bytes: c.bytes!,
      expired: c.expired!,
      invalid: c.invalid!,
      heldBytes: c.heldBytes!,
      maxHeldBytes: c.maxHeldBytes!,
      overBudget: c.overBudget!,
      output: this.output.stats(),
    };
  }

  /**
   * Asks the reader to stop without waiting for its consumer: `output` is closed at once, so requests not yet
   * delivered are abandoned (their end marker never comes) and a consumer that stopped reading cannot hold up
   * close(). What is already in `output` stays readable. To get a whole request, read up to its end marker first.
   */
  override requestStop(): void {
    super.requestStop();
    this.output.close();
  }

  protected override onExit(): void {
    this.output.close();
  }

  private send(command: ReaderCommand): Promise<void> {
    return this.command(command);
  }
}
