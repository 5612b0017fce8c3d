import type { BlockInfo } from '../fs-port.js';
import { type FrameFilter, queueFilter } from '../filters.js';
import { FrameQueue, type FrameQueueStats, type QueueMode } from '../queue/frame-queue.js';
import { type ThreadEvents, ValkkaThread } from '../thread/valkka-thread.js';
import { checkNumber } from './slot-map.js';
import type { WriterCommand } from './writer-core.js';

export interface WriterThreadOptions {
  /** The filesystem's directory (made with newFromDirectory); the worker opens it and holds its writer lock. */
  dirname: string;
  name?: string;
  /** Size of the input frame queue in bytes (default 8 MiB): it must hold the largest frame. */
  queueBytes?: number;
  /** 'block' (default): producers wait when the queue is full. 'drop': frames are dropped and counted. */
  mode?: QueueMode;
}

/** Settings the writer worker gets. */
export interface WriterWorkerData {
  dirname: string;
}

export const WRITER_COUNTERS = ['written', 'writtenBytes', 'unmapped', 'tooLarge', 'wrongStream', 'blocks'] as const;

export interface WriterStats {
  queue: FrameQueueStats;
  /** Frames and payload bytes written to the filesystem. */
  written: number;
  writtenBytes: number;
  /** Frames dropped because their slot was not mapped to an id. */
  unmapped: number;
  /** Frames dropped because they cannot fit into one block. */
  tooLarge: number;
  /** Frames dropped because the (Single) filesystem holds another stream id. */
  wrongStream: number;
  /** Blocks finished so far. */
  blocks: number;
}

/** The writer's events: each finished block, refused commands and dropped frames, and 'error'. */
export type WriterEvents = ThreadEvents<{ block: [BlockInfo]; log: [string] }>;

/**
 * libValkka's ValkkaFSWriterThread: takes frames (by slot) from its input queue, maps slot -> id and writes
 * them through @valkka/fs in its own worker. Events: 'block' (BlockInfo) for each finished block,
 * 'log' (string) for refused commands, 'error' (ThreadDiedError).
 */
export class ValkkaFSWriterThread extends ValkkaThread<WriterWorkerData, WriterEvents> {
  /**
   * The frames to write. It has exactly one producer (a source thread, or the owner pushing frames itself);
   * commands travel on their own queue, so the owner may send them at any time while a source feeds this.
   */
  readonly input: FrameQueue;

  constructor(options: WriterThreadOptions) {
    const input = FrameQueue.create({ capacity: options.queueBytes ?? 8 * 1024 * 1024, mode: options.mode ?? 'block' });
    super({
      name: options.name ?? `writer:${options.dirname}`,
      worker: 'writer-worker',
      input,
      counters: WRITER_COUNTERS,
      data: { dirname: options.dirname },
    });
    this.input = input;
  }

  /** The filter that feeds this writer: connect a source's output to it. */
  getFrameFilter(): FrameFilter {
    return queueFilter(this.input);
  }

  /** Maps a slot to an on-disk stream id. Refused (with a 'log' event) when the slot is already mapped: unset it first. */
  async setSlotId(slot: number, id: number): Promise<void> {
    checkNumber('slot', slot);
    checkNumber('id', id);
    return this.send({ type: 'setSlotId', slot, id });
  }

  async unsetSlotId(slot: number): Promise<void> {
    checkNumber('slot', slot);
    return this.send({ type: 'unsetSlotId', slot });
  }

  clearSlotIds(): Promise<void> {
    return this.send({ type: 'clearSlotIds' });
  }

  /** The slot -> id map as [slot, id] pairs, once every command sent before has been applied. */
  async reportSlotIds(): Promise<Array<[number, number]>> {
    return this.ask<Array<[number, number]>>({ type: 'reportSlotIds' } satisfies WriterCommand);
  }

  /** Asks for the open block to be written out now (it also happens on the fs's flush interval). */
  flush(): Promise<void> {
    return this.send({ type: 'flush' });
  }

  /** The original's callback style: called with each finished block (same as the 'block' event). */
  setBlockCallback(callback: ((block: BlockInfo) => void) | undefined): void {
    this.removeAllListeners('block');
    if (callback) this.on('block', callback);
  }

  stats(): WriterStats {
    const c = this.counters();
    return { queue: this.input.stats(), written: c.written!, writtenBytes: c.writtenBytes!, unmapped: c.unmapped!, tooLarge: c.tooLarge!, wrongStream: c.wrongStream!, blocks: c.blocks! };
  }

  private send(command: WriterCommand): Promise<void> {
    return this.command(command);
  }
}
