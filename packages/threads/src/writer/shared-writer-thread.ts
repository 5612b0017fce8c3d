import { ThreadsError } from '../errors.js';
import { type FrameFilter, queueFilter } from '../filters.js';
import type { BlockInfo } from '../fs-port.js';
import { FrameQueue, type QueueMode } from '../queue/frame-queue.js';
import { type ThreadEvents, ValkkaThread } from '../thread/valkka-thread.js';
import { checkNumber } from './slot-map.js';
import type { WriterCommand } from './writer-core.js';
import { WRITER_COUNTERS, type WriterStats } from './writer-thread.js';

/** One filesystem of a SharedWriterThread. */
export interface SharedWriterFs {
  /** The filesystem's directory (made with newFromDirectory); the worker opens it and holds its writer lock. */
  dirname: string;
  /** Size of this filesystem's input queue in bytes (default 8 MiB): it must hold the largest frame. */
  queueBytes?: number;
  /** 'block' (default): its producer waits when the queue is full. 'drop': frames are dropped and counted. */
  mode?: QueueMode;
  /**
   * How often the fs makes what was written durable (default the fs's, 1000 ms). Each flush is a write and an
   * fdatasync: with many filesystems per worker it is most of the writer's CPU; a longer interval costs less
   * and risks more on a crash.
   */
  flushIntervalMs?: number;
}

export interface SharedWriterOptions {
  /** The filesystems this worker writes (1..256), each with its own input queue; addressed by index. */
  filesystems: SharedWriterFs[];
  name?: string;
  /**
   * How often the worker takes what its inputs hold (default 200 ms, 1..1000). It never waits on the inputs
   * themselves: one wake-up per batch for all filesystems instead of one per frame, which is most of a
   * writer's CPU. Frames reach the filesystem (in memory) this much later; durability is the fs's flush.
   */
  batchMs?: number;
}

export interface SharedWriterWorkerData {
  filesystems: Array<{ dirname: string; input: SharedArrayBuffer; flushIntervalMs?: number }>;
  batchMs: number;
}

/** The shared writer's commands: a writer command for the filesystem at index `fs`, after `after` entries of its input. */
export type SharedWriterCommand = WriterCommand & { fs: number; after: number };

/** A finished block, with the index of its filesystem. */
export interface SharedBlockInfo extends BlockInfo {
  fs: number;
}

export type SharedWriterEvents = ThreadEvents<{ block: [SharedBlockInfo]; log: [string] }>;

export const MAX_SHARED_FS = 256;
export const DEFAULT_WRITER_BATCH_MS = 200;

/** The counter names of a shared writer of `count` filesystems: every writer counter once per filesystem. */
export function sharedWriterCounters(count: number): string[] {
  return Array.from({ length: count }, (_v, i) => WRITER_COUNTERS.map((c) => `${c}.${i}`)).flat();
}

/**
 * Several filesystems written by one worker (a worker per core, not per camera): each filesystem has its own
 * input queue (so each may have its own producer thread) and its own slot -> id map; the worker wakes every
 * `batchMs`, writes what every input holds, and sleeps again. Otherwise as ValkkaFSWriterThread, with the
 * filesystem's index as the first argument. Opening any filesystem fails start() with its directory named.
 */
export class SharedWriterThread extends ValkkaThread<SharedWriterWorkerData, SharedWriterEvents> {
  /** Input queues, one per filesystem, in the order of `filesystems`. */
  readonly inputs: FrameQueue[];
  readonly dirnames: string[];

  constructor(options: SharedWriterOptions) {
    const count = options.filesystems.length;
    if (count < 1 || count > MAX_SHARED_FS) throw new ThreadsError('ERR_WRITER_OPTIONS', `a SharedWriterThread writes 1..${MAX_SHARED_FS} filesystems, got ${count}`);
    const batchMs = options.batchMs ?? DEFAULT_WRITER_BATCH_MS;
    if (!(Number.isInteger(batchMs) && batchMs >= 1 && batchMs <= 1000)) throw new ThreadsError('ERR_WRITER_OPTIONS', `SharedWriterThread batchMs must be an integer 1..1000, got ${batchMs}`);
    for (const f of options.filesystems) {
      if (f.flushIntervalMs !== undefined && !(Number.isInteger(f.flushIntervalMs) && f.flushIntervalMs >= 10 && f.flushIntervalMs <= 600_000)) {
        throw new ThreadsError('ERR_WRITER_OPTIONS', `${f.dirname}: flushIntervalMs must be an integer 10..600000, got ${f.flushIntervalMs}`);
      }
    }
    const inputs = options.filesystems.map((f) => FrameQueue.create({ capacity: f.queueBytes ?? 8 * 1024 * 1024, mode: f.mode ?? 'block' }));
    super({
      name: options.name ?? `shared-writer:${options.filesystems[0]!.dirname}${count > 1 ? ` +${count - 1}` : ''}`,
      worker: 'shared-writer-worker',
      counters: sharedWriterCounters(count),
      data: {
        filesystems: options.filesystems.map((f, i) => ({ dirname: f.dirname, input: inputs[i]!.buffer, ...(f.flushIntervalMs === undefined ? {} : { flushIntervalMs: f.flushIntervalMs }) })),
        batchMs,
      },
    });
    this.inputs = inputs;
    this.dirnames = options.filesystems.map((f) => f.dirname);
  }

  /** The filter that feeds filesystem `fs`: connect a source's output to it. */
  getFrameFilter(fs: number): FrameFilter {
    return queueFilter(this.input(fs));
  }

  /** The input queue of filesystem `fs` (its one producer: a source, a LiveThread, or the owner). */
  input(fs: number): FrameQueue {
    this.checkFs(fs);
    return this.inputs[fs]!;
  }

  /** Maps a slot of filesystem `fs`'s input to an on-disk stream id (refused with a 'log' event when mapped already). */
  async setSlotId(fs: number, slot: number, id: number): Promise<void> {
    checkNumber('slot', slot);
    checkNumber('id', id);
    return this.send(fs, { type: 'setSlotId', slot, id });
  }

  async unsetSlotId(fs: number, slot: number): Promise<void> {
    checkNumber('slot', slot);
    return this.send(fs, { type: 'unsetSlotId', slot });
  }

  async clearSlotIds(fs: number): Promise<void> {
    return this.send(fs, { type: 'clearSlotIds' });
  }

  /** Filesystem `fs`'s slot -> id map, once every command sent before has been applied. */
  async reportSlotIds(fs: number): Promise<Array<[number, number]>> {
    this.checkFs(fs);
    return this.ask<Array<[number, number]>>({ type: 'reportSlotIds', fs, after: this.inputs[fs]!.pushed });
  }

  /** Asks for filesystem `fs`'s open block to be written out now. */
  async flush(fs: number): Promise<void> {
    return this.send(fs, { type: 'flush' });
  }

  /** Filesystem `fs`'s statistics, as ValkkaFSWriterThread.stats(). */
  stats(fs: number): WriterStats {
    const queue = this.input(fs).stats();
    const c = this.counters();
    const at = (name: (typeof WRITER_COUNTERS)[number]): number => c[`${name}.${fs}`]!;
    return { queue, written: at('written'), writtenBytes: at('writtenBytes'), unmapped: at('unmapped'), tooLarge: at('tooLarge'), wrongStream: at('wrongStream'), blocks: at('blocks') };
  }

  /** The inputs close with the worker: producers waiting for room wake up and see the end. */
  protected override onExit(): void {
    for (const q of this.inputs) q.close();
  }

  private send(fs: number, command: WriterCommand): Promise<void> {
    this.checkFs(fs);
    // Applied after the frames its filesystem's input had accepted by now (as ValkkaFSWriterThread's commands).
    return this.command({ ...command, fs, after: this.inputs[fs]!.pushed } satisfies SharedWriterCommand);
  }

  private checkFs(fs: number): void {
    if (!Number.isInteger(fs) || fs < 0 || fs >= this.inputs.length) {
      throw new ThreadsError('ERR_WRITER_FS', `filesystem index ${fs} does not exist (this writer has ${this.inputs.length}: 0..${this.inputs.length - 1})`);
    }
  }
}
