import { ThreadsError } from '../errors.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { type ThreadEvents, ValkkaThread } from '../thread/valkka-thread.js';
import { checkNumber } from '../writer/slot-map.js';
import type { ExpiredBlock } from './reader-core.js';
import { DEFAULT_BUDGET_BLOCKS, READER_COUNTERS } from './reader-thread.js';
import { FS_SPAN, type FsErrorEvent, MAX_FS_KEY } from './shared-source.js';

export interface SharedReaderOptions {
  /** The largest blocksize of the filesystems it will read (a block of a larger one is reported as an fsError). */
  blocksize: number;
  /** Bytes the reader may hold while serving a request (see ValkkaFSReaderThread); default 4 x blocksize. */
  budgetBytes?: number;
  name?: string;
  /** Where frames and markers go (blocking mode); default a new queue of outputBytes (default 8 MiB). */
  output?: FrameQueue;
  outputBytes?: number;
}

export interface SharedReaderWorkerData {
  output: SharedArrayBuffer;
  blocksize: number;
  budgetBytes: number;
}

/** The shared reader's commands (its worker translates them for one ReaderCore over a SharedSource). */
export type SharedReaderCommand =
  | { type: 'addFs'; key: number; dirname: string }
  | { type: 'removeFs'; key: number }
  | { type: 'setSlotId'; slot: number; key: number; id: number }
  | { type: 'unsetSlotId'; key: number; id: number }
  | { type: 'pullParts'; request: number; parts: Array<{ key: number; blocks: number[] }> };

export type SharedReaderEvents = ThreadEvents<{ expired: [ExpiredBlock]; log: [string]; fsError: [FsErrorEvent] }>;

/**
 * A ValkkaFSReaderThread for several filesystems in one worker: a request names blocks of any of them and
 * comes out as ONE transmission (start marker, the frames of all of them in time order, end marker), which is
 * what a FileCacherThread playing streams of several filesystems on one clock needs. Filesystems are added by
 * directory under a small integer `key`; stream ids are per filesystem (`setSlotId(slot, key, id)`).
 * A filesystem that cannot be opened or read is reported as an `fsError` event and delivers no frames; the
 * others are unaffected. Expired blocks are reported as by ValkkaFSReaderThread (their index is the
 * composite `key * 2^32 + block`).
 */
export class SharedReaderThread extends ValkkaThread<SharedReaderWorkerData, SharedReaderEvents> {
  readonly output: FrameQueue;
  private nextRequest = 1;

  constructor(options: SharedReaderOptions) {
    const output = options.output ?? FrameQueue.create({ capacity: options.outputBytes ?? 8 * 1024 * 1024, mode: 'block' });
    if (output.mode !== 'block') throw new ThreadsError('ERR_READER_OUTPUT', 'the reader output queue must be in blocking mode (a dropping queue would cut blocks short)');
    super({
      name: options.name ?? 'shared-reader',
      worker: 'shared-reader-worker',
      outputs: [output],
      counters: READER_COUNTERS,
      data: { output: output.buffer, blocksize: options.blocksize, budgetBytes: options.budgetBytes ?? DEFAULT_BUDGET_BLOCKS * options.blocksize },
    });
    this.output = output;
  }

  /** Opens the filesystem in `dirname` read-only under `key` (0 .. 2^20); a failure is an fsError event. */
  addFs(key: number, dirname: string): Promise<void> {
    checkKey(key);
    return this.send({ type: 'addFs', key, dirname });
  }

  removeFs(key: number): Promise<void> {
    checkKey(key);
    return this.send({ type: 'removeFs', key });
  }

  /** Frames of stream `id` of filesystem `key` come out with `slot`. */
  setSlotId(slot: number, key: number, id: number): Promise<void> {
    checkNumber('slot', slot);
    checkKey(key);
    checkId(id);
    return this.send({ type: 'setSlotId', slot, key, id });
  }

  unsetSlotId(key: number, id: number): Promise<void> {
    checkKey(key);
    checkId(id);
    return this.send({ type: 'unsetSlotId', key, id });
  }

  /** Queues one transmission of these blocks (of several filesystems); resolves to its request number. */
  async pullBlocks(parts: ReadonlyArray<{ key: number; blocks: readonly number[] }>): Promise<number> {
    for (const p of parts) checkKey(p.key);
    const request = this.nextRequest++;
    await this.send({ type: 'pullParts', request, parts: parts.map((p) => ({ key: p.key, blocks: [...p.blocks] })) });
    return request;
  }

  /** As ValkkaFSReaderThread.requestStop: the output closes at once, undelivered requests are abandoned. */
  override requestStop(): void {
    super.requestStop();
    this.output.close();
  }

  protected override onExit(): void {
    this.output.close();
  }

  private send(command: SharedReaderCommand): Promise<void> {
    return this.command(command);
  }
}

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < 0 || key >= MAX_FS_KEY) throw new ThreadsError('ERR_SLOT_MAP', `filesystem key must be an integer 0..${MAX_FS_KEY - 1}, got ${key}`);
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= FS_SPAN) throw new ThreadsError('ERR_SLOT_MAP', `id must be an integer 0..${FS_SPAN - 1}, got ${id}`);
}
