import { isMainThread, threadId } from 'node:worker_threads';
import { EntryTooLargeError, ThreadsError } from '../errors.js';
import type { Marker, QueueEntry, SlotFrame, ThreadCommand } from '../slot-frame.js';

/**
 * A single-producer / single-consumer ring of variable-length entries in a SharedArrayBuffer.
 * Frames cross threads as bytes copied once into the ring and once out of it: no structured clone.
 *
 * Exactly one thread produces: the first push claims the queue for its thread, and a push from any other
 * thread is refused (ERR_SECOND_PRODUCER) instead of corrupting the ring; releaseProducer() hands it over.
 * Two producers that must share a consumer use two queues (a thread's commands travel on their own queue).
 *
 * Layout of the SharedArrayBuffer:
 *   [0, 64)    control: Int32 slots (write pos, read pos, used bytes, data seq, space seq, closed, mode,
 *              producer thread + 1, entries pushed)
 *   [64, 128)  statistics: Float64 slots, written by the producer only
 *   [128, ...) the ring, `capacity` bytes, a multiple of 8
 * Every entry is 8-aligned and contiguous: a 32-byte header, then the payload.
 *   0 u32 entry length (header + payload, padded to 8)   4 u8 kind   5 i8 media type   6 u16 flags
 *   8 u32 slot (frames) / request (markers)   12 i32 subsession   16 f64 timestamp   24 u32 codec   28 u32 payload length
 * When an entry does not fit before the end of the ring, the producer fills the rest with a PAD entry
 * and starts again at 0.
 */

const CONTROL_BYTES = 64;
const STATS_BYTES = 64;
const RING_OFFSET = CONTROL_BYTES + STATS_BYTES;
const HEADER_BYTES = 32;

const C_WPOS = 0;
const C_RPOS = 1;
const C_USED = 2;
const C_DATA_SEQ = 3;
const C_SPACE_SEQ = 4;
const C_CLOSED = 5;
const C_MODE = 6;
const C_PRODUCER = 7;
const C_PUSHED = 8;

/** This thread, as stored in C_PRODUCER (0 = no producer yet). */
const ME = threadId + 1;
/** How often a producer that may give up (see push) looks again while it waits for room. */
const GIVE_UP_POLL_MS = 50;

const S_FRAMES = 0;
const S_BYTES = 1;
const S_DROPS = 2;
const S_DROPPED_BYTES = 3;
const S_HIGH_WATER = 4;
const S_COMMANDS = 5;
const S_MARKERS = 6;

const KIND_PAD = 0;
const KIND_FRAME = 1;
const KIND_COMMAND = 2;
const KIND_MARKER = 3;

const MARKER_START = 1;
const MARKER_END = 2;

/** 'block': a full queue makes the producer wait (back-pressure). 'drop': frames that do not fit are dropped and counted. */
export type QueueMode = 'block' | 'drop';

export interface FrameQueueOptions {
  /** Ring size in bytes (rounded up to a multiple of 8, 256 B .. 1 GiB); the largest entry (32-byte header + payload) is this size. Default 4 MiB. */
  capacity?: number;
  mode?: QueueMode;
}

export interface FrameQueueStats {
  /** Frames accepted into the queue. */
  frames: number;
  /** Payload bytes of the accepted frames. */
  bytes: number;
  /** Frames dropped because the queue was full (dropping mode only). */
  drops: number;
  droppedBytes: number;
  commands: number;
  markers: number;
  /** The most bytes ever waiting in the ring. */
  highWater: number;
  /** Bytes waiting now. */
  used: number;
  capacity: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const align8 = (n: number): number => (n + 7) & ~7;

/** The producer's view of an entry before it is written. */
interface Outgoing {
  kind: number;
  slot: number;
  subsession: number;
  timestamp: number;
  mediaType: number;
  codec: number;
  flags: number;
  payload: Uint8Array;
}

export class FrameQueue {
  /** Pass this to the other thread (workerData or postMessage) and call FrameQueue.attach there. */
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly control: Int32Array;
  private readonly statistics: Float64Array;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.capacity = buffer.byteLength - RING_OFFSET;
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.statistics = new Float64Array(buffer, CONTROL_BYTES, STATS_BYTES / 8);
    this.view = new DataView(buffer, RING_OFFSET, this.capacity);
    this.bytes = new Uint8Array(buffer, RING_OFFSET, this.capacity);
  }

  static create(options: FrameQueueOptions = {}): FrameQueue {
    const capacity = align8(options.capacity ?? 4 * 1024 * 1024);
    if (!Number.isInteger(capacity) || capacity < 256 || capacity > 1024 * 1024 * 1024) {
      throw new ThreadsError('ERR_QUEUE_CAPACITY', `frame queue capacity must be 256 B .. 1 GiB, got ${options.capacity}`);
    }
    const queue = new FrameQueue(new SharedArrayBuffer(RING_OFFSET + capacity));
    Atomics.store(queue.control, C_MODE, options.mode === 'drop' ? 1 : 0);
    return queue;
  }

  /** The other end of a queue made by FrameQueue.create, from its `buffer`. */
  static attach(buffer: SharedArrayBuffer): FrameQueue {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < RING_OFFSET + 256) {
      throw new ThreadsError('ERR_QUEUE_BUFFER', 'FrameQueue.attach needs the SharedArrayBuffer of a FrameQueue');
    }
    return new FrameQueue(buffer);
  }

  get mode(): QueueMode {
    return Atomics.load(this.control, C_MODE) === 1 ? 'drop' : 'block';
  }

  get closed(): boolean {
    return Atomics.load(this.control, C_CLOSED) === 1;
  }

  /** Entries are still readable after close; writes are refused and every waiter wakes up. */
  close(): void {
    Atomics.store(this.control, C_CLOSED, 1);
    Atomics.add(this.control, C_DATA_SEQ, 1);
    Atomics.add(this.control, C_SPACE_SEQ, 1);
    Atomics.notify(this.control, C_DATA_SEQ);
    Atomics.notify(this.control, C_SPACE_SEQ);
  }

  /** Entries accepted so far (frames, commands, markers), as an int32 that wraps: compare with differences. */
  get pushed(): number {
    return Atomics.load(this.control, C_PUSHED);
  }

  /**
   * Gives up this thread's claim as the producer (or, from the owner of a worker that died, the claim of
   * `producerThreadId`), so another thread may produce from now on. Returns whether a claim was released.
   */
  releaseProducer(producerThreadId = threadId): boolean {
    return Atomics.compareExchange(this.control, C_PRODUCER, producerThreadId + 1, 0) === producerThreadId + 1;
  }

  stats(): FrameQueueStats {
    const s = this.statistics;
    return {
      frames: s[S_FRAMES]!,
      bytes: s[S_BYTES]!,
      drops: s[S_DROPS]!,
      droppedBytes: s[S_DROPPED_BYTES]!,
      commands: s[S_COMMANDS]!,
      markers: s[S_MARKERS]!,
      highWater: s[S_HIGH_WATER]!,
      used: Atomics.load(this.control, C_USED),
      capacity: this.capacity,
    };
  }

  // ---------------------------------------------------------------- producer

  /**
   * Puts a frame in the queue. Dropping mode: returns false and counts a drop when it does not fit.
   * Blocking mode: waits for room (Atomics.wait; in a worker only: on the main thread use pushFrameAsync).
   * Returns false when the queue is closed, or when `giveUp` (looked at every 50 ms while waiting) says so:
   * a worker asked to stop passes its stop flag, so a consumer that never reads cannot hold it forever.
   */
  pushFrame(frame: SlotFrame, giveUp?: () => boolean): boolean {
    return this.push(frameEntry(frame), giveUp);
  }

  /**
   * As pushFrame, but never waits: a frame that does not fit is dropped and counted in `drops`, even in
   * blocking mode. For the main thread, which cannot wait synchronously (see queueFilter).
   */
  pushFrameOrDrop(frame: SlotFrame): boolean {
    const entry = frameEntry(frame);
    const result = this.tryWrite(entry);
    if (result === 'full') this.countDrop(entry);
    return result === 'written';
  }

  /** As pushFrame, but waits without blocking the event loop (Atomics.waitAsync): usable on the main thread. */
  pushFrameAsync(frame: SlotFrame): Promise<boolean> {
    return this.pushAsync(frameEntry(frame));
  }

  /** Commands are never dropped: they wait for room even in dropping mode. */
  pushCommand(command: ThreadCommand, giveUp?: () => boolean): boolean {
    return this.push(commandEntry(command), giveUp);
  }

  pushCommandAsync(command: ThreadCommand): Promise<boolean> {
    return this.pushAsync(commandEntry(command));
  }

  /** Markers are never dropped either. */
  pushMarker(marker: Marker): boolean {
    return this.push(markerEntry(marker));
  }

  /** Any entry, as pushFrame / pushCommand / pushMarker. */
  pushEntry(entry: QueueEntry, giveUp?: () => boolean): boolean {
    return this.push(toOutgoing(entry), giveUp);
  }

  private push(entry: Outgoing, giveUp?: () => boolean): boolean {
    for (;;) {
      const seq = Atomics.load(this.control, C_SPACE_SEQ);
      const result = this.tryWrite(entry);
      if (result !== 'full') return result === 'written';
      if (this.dropsWhenFull(entry)) return false;
      if (isMainThread) {
        throw new ThreadsError(
          'ERR_QUEUE_WOULD_BLOCK',
          'the frame queue is full and the main thread cannot wait with Atomics.wait: use the *Async push methods there',
        );
      }
      if (giveUp?.()) return false;
      Atomics.wait(this.control, C_SPACE_SEQ, seq, giveUp ? GIVE_UP_POLL_MS : undefined);
    }
  }

  private async pushAsync(entry: Outgoing): Promise<boolean> {
    for (;;) {
      const seq = Atomics.load(this.control, C_SPACE_SEQ);
      const result = this.tryWrite(entry);
      if (result !== 'full') return result === 'written';
      if (this.dropsWhenFull(entry)) return false;
      const waited = Atomics.waitAsync(this.control, C_SPACE_SEQ, seq);
      if (waited.async) await waited.value;
    }
  }

  /** In dropping mode a frame that does not fit is counted and given up. */
  private dropsWhenFull(entry: Outgoing): boolean {
    if (entry.kind !== KIND_FRAME || this.mode !== 'drop') return false;
    this.countDrop(entry);
    return true;
  }

  private countDrop(entry: Outgoing): void {
    this.statistics[S_DROPS]! += 1;
    this.statistics[S_DROPPED_BYTES]! += entry.payload.byteLength;
  }

  /** The first push claims the queue for this thread; a push from another thread is refused. */
  private claim(): void {
    const owner = Atomics.compareExchange(this.control, C_PRODUCER, 0, ME);
    if (owner === 0 || owner === ME) return;
    const who = (id: number): string => (id === 1 ? 'the main thread' : `worker thread ${id - 1}`);
    throw new ThreadsError(
      'ERR_SECOND_PRODUCER',
      `this FrameQueue already has a producer (${who(owner)}), and ${who(ME)} pushed into it: a queue has exactly one producer ` +
        '(give each producer its own queue, or releaseProducer() before handing it over)',
    );
  }

  private tryWrite(entry: Outgoing): 'written' | 'full' | 'closed' {
    if (this.closed) return 'closed';
    this.claim();
    const length = align8(HEADER_BYTES + entry.payload.byteLength);
    if (length > this.capacity) {
      const what = entry.kind === KIND_FRAME ? `a frame (slot ${entry.slot}, ts ${entry.timestamp})` : 'a command';
      throw new EntryTooLargeError(length, this.capacity, what);
    }
    for (;;) {
      const used = Atomics.load(this.control, C_USED);
      const free = this.capacity - used;
      const wpos = Atomics.load(this.control, C_WPOS);
      const tail = this.capacity - wpos;
      if (length <= tail) {
        if (length > free) return 'full';
        this.writeAt(wpos, length, entry);
        this.advance(wpos, length);
        this.count(entry, used + length);
        Atomics.add(this.control, C_PUSHED, 1);
        return 'written';
      }
      // Not enough room before the end of the ring: pad the tail and go on from 0.
      if (tail > free) return 'full';
      this.view.setUint32(wpos, tail, true);
      this.view.setUint8(wpos + 4, KIND_PAD);
      this.advance(wpos, tail);
    }
  }

  private writeAt(pos: number, length: number, e: Outgoing): void {
    const v = this.view;
    v.setUint32(pos, length, true);
    v.setUint8(pos + 4, e.kind);
    v.setInt8(pos + 5, e.mediaType);
    v.setUint16(pos + 6, e.flags, true);
    v.setUint32(pos + 8, e.slot, true);
    v.setInt32(pos + 12, e.subsession, true);
    v.setFloat64(pos + 16, e.timestamp, true);
    v.setUint32(pos + 24, e.codec, true);
    v.setUint32(pos + 28, e.payload.byteLength, true);
    this.bytes.set(e.payload, pos + HEADER_BYTES);
  }

  /** Publishes `length` more bytes to the consumer (after they were written) and wakes it. */
  private advance(wpos: number, length: number): void {
    const next = wpos + length;
    Atomics.store(this.control, C_WPOS, next === this.capacity ? 0 : next);
    Atomics.add(this.control, C_USED, length);
    Atomics.add(this.control, C_DATA_SEQ, 1);
    Atomics.notify(this.control, C_DATA_SEQ);
  }

  private count(e: Outgoing, usedNow: number): void {
    const s = this.statistics;
    if (e.kind === KIND_FRAME) {
      s[S_FRAMES]! += 1;
      s[S_BYTES]! += e.payload.byteLength;
    } else if (e.kind === KIND_COMMAND) s[S_COMMANDS]! += 1;
    else s[S_MARKERS]! += 1;
    if (usedNow > s[S_HIGH_WATER]!) s[S_HIGH_WATER] = usedNow;
  }

  // ---------------------------------------------------------------- consumer

  /** The next entry, or undefined when the queue is empty right now. The payload is copied out of the ring. */
  pop(): QueueEntry | undefined {
    for (;;) {
      if (Atomics.load(this.control, C_USED) === 0) return undefined;
      const rpos = Atomics.load(this.control, C_RPOS);
      const v = this.view;
      const length = v.getUint32(rpos, true);
      const kind = v.getUint8(rpos + 4);
      if (kind === KIND_PAD) {
        this.release(rpos, length);
        continue;
      }
      const payloadLength = v.getUint32(rpos + 28, true);
      const start = rpos + HEADER_BYTES;
      const payload = this.bytes.slice(start, start + payloadLength);
      let entry: QueueEntry;
      if (kind === KIND_FRAME) {
        entry = {
          kind: 'frame',
          frame: {
            slot: v.getUint32(rpos + 8, true),
            subsession: v.getInt32(rpos + 12, true),
            timestamp: v.getFloat64(rpos + 16, true),
            mediaType: v.getInt8(rpos + 5) as SlotFrame['mediaType'],
            codec: v.getUint32(rpos + 24, true) as SlotFrame['codec'],
            flags: v.getUint16(rpos + 6, true),
            payload,
          },
        };
      } else if (kind === KIND_MARKER) {
        const flags = v.getUint16(rpos + 6, true);
        entry = {
          kind: 'marker',
          marker: {
            type: flags === MARKER_START ? 'start' : 'end',
            timestamp: v.getFloat64(rpos + 16, true),
            request: v.getUint32(rpos + 8, true),
          },
        };
      } else {
        entry = { kind: 'command', command: JSON.parse(decoder.decode(payload)) as ThreadCommand };
      }
      this.release(rpos, length);
      return entry;
    }
  }

  /** Waits (Atomics.wait, workers only) up to timeoutMs for an entry; undefined on timeout or when closed and drained. */
  popWait(timeoutMs = Infinity): QueueEntry | undefined {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seq = Atomics.load(this.control, C_DATA_SEQ);
      const closed = this.closed; // read before pop: an entry pushed just before the close is not lost
      const entry = this.pop();
      if (entry || closed) return entry;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      Atomics.wait(this.control, C_DATA_SEQ, seq, left);
    }
  }

  /** As popWait, without blocking the event loop (Atomics.waitAsync): usable on the main thread. */
  async popAsync(timeoutMs = Infinity): Promise<QueueEntry | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const closed = this.closed; // read before pop, as in popWait
      const entry = this.pop();
      if (entry || closed) return entry;
      if (!(await this.waitForData(deadline - performance.now()))) return this.pop();
    }
  }

  /** Resolves true when there may be something to pop (or the queue closed), false after timeoutMs. */
  async waitForData(timeoutMs = Infinity): Promise<boolean> {
    const seq = Atomics.load(this.control, C_DATA_SEQ);
    if (Atomics.load(this.control, C_USED) > 0 || this.closed) return true;
    if (timeoutMs <= 0) return false;
    const waited = Atomics.waitAsync(this.control, C_DATA_SEQ, seq, timeoutMs === Infinity ? undefined : timeoutMs);
    const result = waited.async ? await waited.value : waited.value;
    return result !== 'timed-out';
  }

  /** Every entry until the queue is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<QueueEntry> {
    for (;;) {
      const entry = await this.popAsync();
      if (!entry) return;
      yield entry;
    }
  }

  private release(rpos: number, length: number): void {
    const next = rpos + length;
    Atomics.store(this.control, C_RPOS, next === this.capacity ? 0 : next);
    Atomics.sub(this.control, C_USED, length);
    Atomics.add(this.control, C_SPACE_SEQ, 1);
    Atomics.notify(this.control, C_SPACE_SEQ);
  }
}

const EMPTY = new Uint8Array(0);

/** Every header field must fit its slot: a value that would wrap silently is refused instead. */
function checkField(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ThreadsError('ERR_FRAME_FIELD', `a frame's ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

function frameEntry(f: SlotFrame): Outgoing {
  checkField('slot', f.slot, 0, 0xffffffff);
  checkField('subsession', f.subsession, -0x80000000, 0x7fffffff);
  checkField('mediaType', f.mediaType, -128, 127);
  checkField('codec', f.codec, 0, 0xffffffff);
  checkField('flags', f.flags, 0, 0xffff);
  if (!Number.isFinite(f.timestamp)) throw new ThreadsError('ERR_FRAME_FIELD', `a frame's timestamp must be a finite number, got ${f.timestamp}`);
  if (!(f.payload instanceof Uint8Array)) throw new ThreadsError('ERR_FRAME_FIELD', "a frame's payload must be a Uint8Array");
  return {
    kind: KIND_FRAME,
    slot: f.slot,
    subsession: f.subsession,
    timestamp: f.timestamp,
    mediaType: f.mediaType,
    codec: f.codec,
    flags: f.flags,
    payload: f.payload,
  };
}

function commandEntry(command: ThreadCommand): Outgoing {
  const payload = encoder.encode(JSON.stringify(command));
  return { kind: KIND_COMMAND, slot: 0, subsession: 0, timestamp: 0, mediaType: -1, codec: 0, flags: 0, payload };
}

function markerEntry(m: Marker): Outgoing {
  const flags = m.type === 'start' ? MARKER_START : MARKER_END;
  return { kind: KIND_MARKER, slot: m.request, subsession: -1, timestamp: m.timestamp, mediaType: -1, codec: 0, flags, payload: EMPTY };
}

function toOutgoing(entry: QueueEntry): Outgoing {
  if (entry.kind === 'frame') return frameEntry(entry.frame);
  if (entry.kind === 'command') return commandEntry(entry.command);
  return markerEntry(entry.marker);
}
