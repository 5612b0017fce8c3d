import { ThreadsError } from '../errors.js';

/** Playback rates the cachers accept: 1/8x to 32x forwards, and backwards -1/8x to -8x (reverse play). */
export const MIN_RATE = 1 / 8;
export const MAX_RATE = 32;
export const MAX_REVERSE_RATE = 8;

/** A consistent snapshot of the timeline: stream time = anchorStream + (clock - anchorClock) * rate while playing. */
export interface TimelineState {
  playing: boolean;
  rate: number;
  /** Stream time (ms since the epoch) at `anchorClock`; the frozen stream time while paused. */
  anchorStream: number;
  /** Clock time (ms) of the anchor. */
  anchorClock: number;
}

// Layout of the shared buffer: one Int32Array lock + version (a seqlock), then the Float64 fields.
const LOCK = 0;
const VERSION = 1;
const INT_BYTES = 8;
const ANCHOR_STREAM = 0;
const ANCHOR_CLOCK = 1;
const RATE = 2;
const PLAYING = 3;
const MANUAL = 4;
const MANUAL_NOW = 5;
const FLOATS = 6;
/** Bytes of the SharedArrayBuffer behind a shared clock. */
export const CLOCK_BUFFER_BYTES = INT_BYTES + FLOATS * 8;

export function checkRate(rate: number): void {
  if (!((rate >= MIN_RATE && rate <= MAX_RATE) || (rate <= -MIN_RATE && rate >= -MAX_REVERSE_RATE))) {
    throw new ThreadsError('ERR_RATE', `playback rate must be between ${MIN_RATE} and ${MAX_RATE}, or -${MIN_RATE} and -${MAX_REVERSE_RATE} (reverse), got ${rate}`);
  }
}

/**
 * The clock of playback: now() and a timeline mapping stream time to clock time at a rate.
 * Its state lives in a SharedArrayBuffer, so several cachers (in this thread or in workers that
 * attach to `buffer`) read the same timeline and map the same stream time to the same instant.
 * A manual clock's now() is set by the test (setNow/advance), also through the buffer.
 */
export class PlaybackClock {
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;

  private constructor(readonly buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < CLOCK_BUFFER_BYTES) {
      throw new ThreadsError('ERR_CLOCK_BUFFER', `a PlaybackClock needs a SharedArrayBuffer of ${CLOCK_BUFFER_BYTES} bytes`);
    }
    this.ints = new Int32Array(buffer, 0, 2);
    this.floats = new Float64Array(buffer, INT_BYTES, FLOATS);
  }

  /** A clock reading the system's monotonic time (ms, comparable across worker threads of one process). */
  static system(): PlaybackClock {
    const clock = new PlaybackClock(new SharedArrayBuffer(CLOCK_BUFFER_BYTES));
    clock.write(() => (clock.floats[RATE] = 1));
    return clock;
  }

  /** A clock whose time only moves when the test says so. */
  static manual(startMs = 0): PlaybackClock {
    const clock = new PlaybackClock(new SharedArrayBuffer(CLOCK_BUFFER_BYTES));
    clock.write(() => {
      clock.floats[RATE] = 1;
      clock.floats[MANUAL] = 1;
      clock.floats[MANUAL_NOW] = startMs;
    });
    return clock;
  }

  /** Another handle on the same clock (e.g. in a worker that received `buffer`). */
  static attach(buffer: SharedArrayBuffer): PlaybackClock {
    return new PlaybackClock(buffer);
  }

  get isManual(): boolean {
    return this.read().manual;
  }

  now(): number {
    const s = this.read();
    return s.manual ? s.manualNow : performance.timeOrigin + performance.now();
  }

  setNow(ms: number): void {
    if (!this.isManual) throw new ThreadsError('ERR_CLOCK_NOT_MANUAL', 'setNow() needs a manual clock');
    this.write(() => (this.floats[MANUAL_NOW] = ms));
  }

  /** Moves a manual clock by `ms`: read and written under the lock, so concurrent advances all count. */
  advance(ms: number): void {
    if (!this.isManual) throw new ThreadsError('ERR_CLOCK_NOT_MANUAL', 'advance() needs a manual clock');
    this.write(() => (this.floats[MANUAL_NOW]! += ms));
  }

  timeline(): TimelineState {
    const s = this.read();
    return { playing: s.playing, rate: s.rate, anchorStream: s.anchorStream, anchorClock: s.anchorClock };
  }

  /** The stream time at clock time `at` (default now). */
  streamTime(at = this.now()): number {
    const t = this.timeline();
    return t.playing ? t.anchorStream + (at - t.anchorClock) * t.rate : t.anchorStream;
  }

  /** The clock time at which a playing timeline reaches `streamTime` (Infinity while paused). */
  clockTimeOf(streamTime: number): number {
    const t = this.timeline();
    return t.playing ? t.anchorClock + (streamTime - t.anchorStream) / t.rate : Infinity;
  }

  /** Freezes the timeline at `streamTime`. */
  seek(streamTime: number): void {
    this.write(() => this.set(streamTime, this.nowLocked(), false));
  }

  /** Runs the timeline from `streamTime` (default: where it stands) now. */
  play(streamTime?: number): void {
    this.write(() => {
      const at = this.nowLocked();
      this.set(streamTime ?? this.streamTimeLocked(at), at, true);
    });
  }

  /** Freezes the timeline where it stands now. */
  pause(): void {
    this.write(() => {
      const at = this.nowLocked();
      this.set(this.streamTimeLocked(at), at, false);
    });
  }

  /** Changes the rate from now on, keeping the current stream time (re-anchors). */
  setRate(rate: number): void {
    checkRate(rate);
    this.write(() => {
      const at = this.nowLocked();
      this.set(this.streamTimeLocked(at), at, this.floats[PLAYING] === 1);
      this.floats[RATE] = rate;
    });
  }

  // Read-modify-write operations read the fields inside write(), under the lock: no other writer can
  // change them between the read and the write.
  private nowLocked(): number {
    const f = this.floats;
    return f[MANUAL] === 1 ? f[MANUAL_NOW]! : performance.timeOrigin + performance.now();
  }

  private streamTimeLocked(at: number): number {
    const f = this.floats;
    return f[PLAYING] === 1 ? f[ANCHOR_STREAM]! + (at - f[ANCHOR_CLOCK]!) * f[RATE]! : f[ANCHOR_STREAM]!;
  }

  private set(anchorStream: number, anchorClock: number, playing: boolean): void {
    this.floats[ANCHOR_STREAM] = anchorStream;
    this.floats[ANCHOR_CLOCK] = anchorClock;
    this.floats[PLAYING] = playing ? 1 : 0;
  }

  /** Writers take a spin lock (writes are rare and short) and bump the version around the change. */
  private write(change: () => void): void {
    while (Atomics.compareExchange(this.ints, LOCK, 0, 1) !== 0);
    Atomics.add(this.ints, VERSION, 1);
    try {
      change();
    } finally {
      Atomics.add(this.ints, VERSION, 1);
      Atomics.store(this.ints, LOCK, 0);
    }
  }

  /** Readers retry while a write is in progress (odd version) or happened meanwhile. */
  private read() {
    for (;;) {
      const v = Atomics.load(this.ints, VERSION);
      if (v % 2 === 0) {
        const f = this.floats;
        const s = {
          anchorStream: f[ANCHOR_STREAM]!,
          anchorClock: f[ANCHOR_CLOCK]!,
          rate: f[RATE]!,
          playing: f[PLAYING] === 1,
          manual: f[MANUAL] === 1,
          manualNow: f[MANUAL_NOW]!,
        };
        if (Atomics.load(this.ints, VERSION) === v) return s;
      }
    }
  }
}
