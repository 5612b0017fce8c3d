import { isKeyFrame, type Codec, type MediaType } from '@valkka/fs';
import { ThreadsError } from '../errors.js';
import type { SlotFrame } from '../slot-frame.js';
import { FrameCache, streamKey, streamSlot, streamSubsession, type StreamKey } from './frame-cache.js';
import { checkRate, type PlaybackClock } from './playback-clock.js';
import { ReverseCursor, type ReverseGop } from './reverse-play.js';

export type CacherState = 'none' | 'seek' | 'stop' | 'play';

/** Sent downstream beside the frames (the original's SetupFrame). */
export type SetupFrame =
  /** Before the first frame of a (slot, subsession) after every seek or restart: the decoder (re)configures. */
  | { type: 'stream_init'; slot: number; subsession: number; mediaType: MediaType; codec: Codec; timestamp: number }
  /** To every registered slot on seek (the picture is about to change), play and stop. */
  | { type: 'stream_state'; slot: number; state: 'seek' | 'play' | 'stop' };

/**
 * Sent downstream (in order with the frames) after the n-th transmission from the reader was taken in and
 * whatever it made due was sent: whoever asked for that transmission knows that all it caused came before.
 */
export interface TransmissionNotice {
  type: 'transmission';
  number: number;
  limits: { min: number; max: number } | null;
  /** Frames were dropped or refused to keep the budget (the limits say what was kept). */
  truncated: boolean;
}

/** Reported to whoever controls the cacher (the manager). */
export type CacherEvent =
  /** The cacher's state changed (after a seek's burst it is 'stop': the target is shown). */
  | { type: 'state'; state: CacherState }
  /** The current stream time (ms since the epoch), or null while no position is known. */
  | { type: 'time'; streamTime: number | null }
  /** Stream times of the first and last cached frame after a transmission; null when empty or cleared. */
  | { type: 'limits'; limits: { min: number; max: number } | null; truncated: boolean }
  /** A stream has had no frame for more than holeMs at the current time; `since` is its last frame (null: none yet). */
  | { type: 'nodata'; slot: number; subsession: number; since: number | null }
  /** The stream has frames again. */
  | { type: 'data'; slot: number; subsession: number; timestamp: number }
  /** Every stream was in a hole: the timeline jumped from stream time `from` to the next frame at `to` (skipHoles). */
  | { type: 'skip'; from: number; to: number };

export interface CacherOutput {
  frame(frame: SlotFrame): void;
  setup(setup: SetupFrame): void;
  event(event: CacherEvent): void;
  /** In band after each transmission (optional). */
  transmission?(notice: TransmissionNotice): void;
}

export interface CacherOptions {
  clock: PlaybackClock;
  /** Bytes of payload held by both caches together (the playing one and the filling one). Default 64 MiB. */
  budgetBytes?: number;
  /** Clock ms between time events. Default 100 (10 per second). */
  reportIntervalMs?: number;
  /** Stream ms without a frame after which a stream is in a hole. Default 1000. */
  holeMs?: number;
  /**
   * Above this rate only key frames are sent: at 25 fps a stream needs 25 x rate decodes per second,
   * and beyond 4x (100 decodes/s per stream) a browser decoder falls behind with many streams. Default 4.
   */
  keyFramesOnlyAboveRate?: number;
  /**
   * While playing, when every stream of the cache is in a hole, move the timeline on to the next frame of the
   * cache (backwards in reverse play) instead of waiting through the hole in real time. Default false.
   */
  skipHoles?: boolean;
}

/** Floating point slack when comparing a frame's time with the timeline's (rates like 3x do not divide exactly). */
const EPSILON_MS = 0.01;

/**
 * The logic of FileCacherThread, synchronous and pure apart from the clock it is given: states,
 * the two caches, seek/play/stop/rate/step, and what is due at the clock's now(). Call run() when the
 * clock has moved; nextWakeAt() says when something is next due. The thread wrapper does exactly that.
 */
export class CacherCore {
  private readonly clock: PlaybackClock;
  private readonly cacheBudget: number;
  private readonly reportIntervalMs: number;
  private readonly holeMs: number;
  private readonly keyOnlyAbove: number;
  private readonly skipHoles: boolean;

  private state: CacherState = 'none';
  /** The stream time shown when not playing (after a seek, stop or step); null before any seek. */
  private target: number | null = null;
  private readonly slots = new Set<number>();
  private play: FrameCache | null = null;
  private fill: FrameCache | null = null;

  /** Whether `cursor` and `from` point into the play cache for the current time. */
  private positioned = false;
  /** Index of the next frame of the play cache to consider. */
  private cursor = 0;
  /** Per stream, the index of its first frame to send (its key frame): earlier frames of it are skipped. */
  private from = new Map<StreamKey, number>();
  /** Per stream, the time of the last frame that went past (sent, or skipped while waiting for a key frame). */
  private lastSeen = new Map<StreamKey, number>();
  /** Streams whose next sent frame must be a key frame (after skipped frames or a hole). */
  private needKey = new Set<StreamKey>();
  /** Streams that got their stream_init since the last seek or restart. */
  private initSent = new Set<StreamKey>();
  private inHole = new Set<StreamKey>();
  private nextReportAt = -Infinity;
  /** Reverse play (negative rates): per stream, the GOPs still to send. */
  private readonly reverse = new ReverseCursor();
  /** Transmissions taken in so far (numbers the in-band 'transmission' notices). */
  private transmissions = 0;

  constructor(
    options: CacherOptions,
    private readonly out: CacherOutput,
  ) {
    this.clock = options.clock;
    const budget = options.budgetBytes ?? 64 * 1024 * 1024;
    if (!(budget > 0)) throw new ThreadsError('ERR_BUDGET', `budgetBytes must be positive, got ${budget}`);
    this.cacheBudget = budget / 2;
    this.reportIntervalMs = options.reportIntervalMs ?? 100;
    this.holeMs = options.holeMs ?? 1000;
    this.keyOnlyAbove = options.keyFramesOnlyAboveRate ?? 4;
    this.skipHoles = options.skipHoles ?? false;
  }

  get currentState(): CacherState {
    return this.state;
  }

  /** Payload bytes held now (both caches). */
  get bytes(): number {
    return (this.play?.bytes ?? 0) + (this.fill?.bytes ?? 0);
  }

  /** The stream time shown now, or null while unknown. */
  streamTime(): number | null {
    if (this.state === 'play') return this.clock.streamTime();
    return this.positioned ? this.target : null;
  }

  // ---- slots ----

  registerSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 1 || slot > 65535) {
      throw new ThreadsError('ERR_SLOT', `slot must be an integer 1..65535 (0 is never played), got ${slot}`);
    }
    this.slots.add(slot);
  }

  deregisterSlot(slot: number): void {
    this.slots.delete(slot);
  }

  // ---- input: transmissions from the reader ----

  beginTransmission(): void {
    this.fill = new FrameCache(this.cacheBudget);
  }

  addFrame(frame: SlotFrame): void {
    this.fill ??= new FrameCache(this.cacheBudget);
    this.fill.add(frame, this.neededTime());
  }

  /** The transmission is complete: it becomes the play cache, replacing the previous one. */
  endTransmission(): void {
    const cache = (this.fill ?? new FrameCache(this.cacheBudget)).finish();
    this.fill = null;
    this.play = cache;
    this.out.event({ type: 'limits', limits: cache.limits, truncated: cache.truncated });
    if (this.state === 'play') this.position(this.clock.streamTime());
    else if (this.target !== null && this.covers(this.target)) this.position(this.target);
    else this.positioned = false;
    this.run();
    this.out.transmission?.({ type: 'transmission', number: ++this.transmissions, limits: cache.limits, truncated: cache.truncated });
  }

  // ---- commands ----

  seek(t: number): void {
    if (!Number.isFinite(t)) throw new ThreadsError('ERR_SEEK', `seek time must be a finite number of ms, got ${t}`);
    this.state = 'seek';
    this.target = t;
    this.clock.seek(t);
    this.forgetStreams();
    this.sendState('seek');
    if (this.covers(t)) this.position(t);
    this.run();
  }

  /** Plays from the current target. With a shared clock that already runs, follows it instead of re-anchoring. */
  playStreams(): void {
    if (this.target === null || this.state === 'play') return;
    // Anchored here, play starts at the target itself: the clock may already have moved on when this thread
    // reads it (preempted on a loaded machine), and reverse play would then leave out the target's frame.
    const anchored = !this.clock.timeline().playing;
    if (anchored) this.clock.play(this.target);
    this.state = 'play';
    this.sendState('play');
    this.reverse.reset();
    if ((!this.positioned || this.reversing) && this.play) this.position(anchored ? this.target : this.clock.streamTime());
    this.run();
  }

  stopStreams(): void {
    if (this.state !== 'play') return;
    if (this.clock.timeline().playing) this.clock.pause();
    this.run(); // frames due up to the instant of the stop still go out
    this.target = this.clock.streamTime();
    this.state = 'stop';
    if (this.reversing) {
      // The forward cursor stands where reverse play began: play or step forward start afresh from the target.
      this.forgetStreams();
    }
    this.sendState('stop');
  }

  setRate(rate: number): void {
    checkRate(rate);
    const turned = rate < 0 !== this.reversing;
    this.clock.setRate(rate);
    if (turned && this.state === 'play') {
      // Turning round: every stream starts afresh at the current time in the new direction.
      const s = this.clock.streamTime();
      this.forgetStreams();
      if (this.play) this.position(s);
      this.run();
    }
  }

  /** True while the timeline runs backwards (a negative rate). */
  get reversing(): boolean {
    return this.clock.timeline().rate < 0;
  }

  /**
   * One frame of the lead streams (subsession 0) forward or back, from a stop. Forward sends the frames
   * up to the next frame time; back seeks to the previous frame time (a burst from its key frame).
   * At the edge of the cache nothing happens (load the neighbouring blocks, then step again).
   */
  step(direction: 1 | -1): void {
    if (!this.play || this.target === null) return;
    if (this.state === 'play') this.stopStreams();
    if (!this.positioned) return;
    if (direction === 1) {
      const next = this.findLeadFrame(this.cursor, 1, (ts, index, start) => ts > this.target! && index >= start);
      if (next === undefined) return;
      this.target = next;
      this.clock.seek(next);
      this.state = 'stop';
      this.run();
    } else {
      const previous = this.findLeadFrame(this.cursor - 1, -1, (ts) => ts < this.target!);
      if (previous !== undefined) this.seek(previous);
    }
  }

  /** Empties the caches and forgets the position (the original's clear). */
  clear(): void {
    this.state = 'none';
    this.target = null;
    this.play = null;
    this.forgetStreams();
    this.sendState('seek');
    this.out.event({ type: 'limits', limits: null, truncated: false });
  }

  // ---- time ----

  /** Sends whatever is due at the clock's now(), and the time event when its interval has passed. */
  run(): void {
    const now = this.clock.now();
    if (this.positioned && this.play) {
      const playing = this.state === 'play';
      const s = playing ? this.clock.streamTime(now) : this.target!;
      const keyOnly = playing && Math.abs(this.clock.timeline().rate) > this.keyOnlyAbove;
      if (playing && this.reversing) {
        this.sendReverse(this.play, s, keyOnly);
        this.checkReverseHoles(s, keyOnly);
      } else {
        this.sendDue(this.play, s, keyOnly);
        if (this.state === 'seek') {
          this.state = 'stop'; // the burst up to the target is out: show it and stop there
          this.sendState('stop');
        }
        this.checkHoles(s);
        if (playing && this.skipHoles) this.skipHole(s);
      }
    }
    if (now >= this.nextReportAt) {
      this.out.event({ type: 'time', streamTime: this.streamTime() });
      this.nextReportAt = now + this.reportIntervalMs;
    }
  }

  /** Clock time when run() next has something to do. */
  nextWakeAt(): number {
    let wake = this.nextReportAt;
    if (this.state === 'play' && this.positioned && this.play) {
      if (this.reversing) {
        const keyOnly = Math.abs(this.clock.timeline().rate) > this.keyOnlyAbove;
        const last = this.reverse.nextDue(this.play, keyOnly, this.playable);
        if (last !== undefined) wake = Math.min(wake, this.clock.clockTimeOf(last));
      } else {
        const next = this.play.frameAt(this.cursor);
        if (next) wake = Math.min(wake, this.clock.clockTimeOf(next.timestamp));
      }
    }
    return wake;
  }

  // ---- internals ----

  private sendDue(cache: FrameCache, s: number, keyOnly: boolean): void {
    for (let f = cache.frameAt(this.cursor); f && f.timestamp <= s + EPSILON_MS; f = cache.frameAt(++this.cursor)) {
      const key = streamKey(f.slot, f.subsession);
      if (this.cursor < (this.from.get(key) ?? Infinity) || !this.slots.has(f.slot)) continue;
      const last = this.lastSeen.get(key);
      this.lastSeen.set(key, f.timestamp);
      const key_ = isKeyFrame(f);
      if (!key_ && (keyOnly || (last !== undefined && f.timestamp - last > this.holeMs))) this.needKey.add(key);
      if (!key_ && this.needKey.has(key)) continue;
      this.needKey.delete(key);
      this.emit(f);
    }
  }

  /** Sends one frame downstream: its stream's stream_init first, and 'data' if the stream was in a hole. */
  private emit(f: SlotFrame): void {
    const key = streamKey(f.slot, f.subsession);
    if (!this.initSent.has(key)) {
      this.initSent.add(key);
      this.out.setup({ type: 'stream_init', slot: f.slot, subsession: f.subsession, mediaType: f.mediaType, codec: f.codec, timestamp: f.timestamp });
    }
    if (this.inHole.delete(key)) this.out.event({ type: 'data', slot: f.slot, subsession: f.subsession, timestamp: f.timestamp });
    this.out.frame(f);
  }

  private readonly playable = (stream: StreamKey): boolean => this.slots.has(streamSlot(stream));

  /** Reverse play: the GOPs due at `s`, each whole and in decode order, newest GOP first. */
  private sendReverse(cache: FrameCache, s: number, keyOnly: boolean): void {
    for (const gop of this.reverse.due(cache, s, keyOnly, this.playable)) {
      this.reverse.sent(gop);
      for (const i of gop.indices) this.emit(cache.frameAt(i)!);
    }
  }

  /** Reverse play: a stream whose oldest shown frame is more than holeMs after `s` is in a hole. */
  private checkReverseHoles(s: number, keyOnly: boolean): void {
    let all = true;
    let next: ReverseGop | undefined;
    for (const key of this.play!.streams()) {
      if (!this.playable(key)) continue;
      const since = this.reverse.shownSince(key);
      if (since !== undefined && since - s <= this.holeMs) {
        all = false;
        continue;
      }
      if (!this.inHole.has(key)) {
        this.inHole.add(key);
        this.out.event({ type: 'nodata', slot: streamSlot(key), subsession: streamSubsession(key), since: since ?? null });
      }
      const gop = this.reverse.next(this.play!, key, keyOnly);
      if (gop && (!next || gop.last > next.last)) next = gop;
    }
    if (this.skipHoles && all && next && next.last < s) this.jump(s, next.last);
  }

  /** Forward play: when every stream of the cache is in a hole, the timeline moves on to the next frame. */
  private skipHole(s: number): void {
    for (const key of this.from.keys()) if (this.playable(key) && !this.inHole.has(key)) return;
    for (let i = this.cursor, f = this.play!.frameAt(i); f; f = this.play!.frameAt(++i)) {
      const key = streamKey(f.slot, f.subsession);
      if (!this.playable(key) || i < (this.from.get(key) ?? Infinity)) continue;
      if (f.timestamp > s) this.jump(s, f.timestamp);
      return;
    }
  }

  private jump(from: number, to: number): void {
    this.clock.play(to);
    this.out.event({ type: 'skip', from, to });
    this.run();
  }

  /** Reports the registered streams of the play cache that have no frame within holeMs before `s`. */
  private checkHoles(s: number): void {
    for (const key of this.from.keys()) {
      if (!this.slots.has(streamSlot(key)) || this.inHole.has(key)) continue;
      const last = this.lastSeen.get(key);
      if (last === undefined || s - last > this.holeMs) {
        this.inHole.add(key);
        this.out.event({ type: 'nodata', slot: streamSlot(key), subsession: streamSubsession(key), since: last ?? null });
      }
    }
  }

  /**
   * Points every stream of the play cache at its start for stream time `s`: a stream that continues
   * from the previous cache resumes after its last frame (nothing re-sent); any other starts at its
   * own key frame at or before `s` (or its first key frame, if it starts later).
   */
  private position(s: number): void {
    const cache = this.play!;
    this.from.clear();
    for (const key of cache.streams()) {
      const last = this.lastSeen.get(key);
      if (last !== undefined && cache.firstTime(key) <= last + this.holeMs) {
        this.from.set(key, cache.firstAfter(key, last));
        continue;
      }
      this.lastSeen.delete(key);
      this.initSent.delete(key);
      this.needKey.delete(key);
      // From its key frame at or before s, unless s is in a hole of the stream: then from its next key frame.
      const at = cache.keyAtOrBefore(key, s);
      const start = at >= 0 && s - cache.lastTimeAtOrBefore(key, s) <= this.holeMs ? at : cache.firstKeyAfter(key, s);
      this.from.set(key, start >= 0 ? start : Infinity);
    }
    this.cursor = Math.min(cache.length, ...this.from.values());
    this.positioned = true;
    if (this.state === 'play' && this.reversing) this.reverse.position(cache, s);
  }

  /** A seek or clear starts every stream afresh. */
  private forgetStreams(): void {
    this.positioned = false;
    this.reverse.reset();
    this.from.clear();
    this.lastSeen.clear();
    this.needKey.clear();
    this.initSent.clear();
    this.inHole.clear();
  }

  private covers(t: number): boolean {
    const limits = this.play?.limits;
    return !!limits && limits.min <= t && t <= limits.max;
  }

  /** The time the filling cache must keep frames for (undefined: none known, keep the newest). */
  private neededTime(): number | undefined {
    if (this.state === 'play') return this.clock.streamTime();
    return this.target ?? undefined;
  }

  /**
   * Walks the play cache from `index` in `direction` to the first frame of a registered lead stream that
   * `accept` takes (given its time, its index and its stream's start index); returns its time.
   */
  private findLeadFrame(
    index: number,
    direction: 1 | -1,
    accept: (ts: number, index: number, start: number) => boolean,
  ): number | undefined {
    for (let f = this.play!.frameAt(index); f; index += direction, f = this.play!.frameAt(index)) {
      const start = this.from.get(streamKey(f.slot, f.subsession)) ?? Infinity;
      if (f.subsession === 0 && this.slots.has(f.slot) && accept(f.timestamp, index, start)) {
        return f.timestamp;
      }
    }
    return undefined;
  }

  /** SetupFrames to every slot downstream, and the cacher's new state to the controller. */
  private sendState(state: 'seek' | 'play' | 'stop'): void {
    for (const slot of this.slots) this.out.setup({ type: 'stream_state', slot, state });
    this.out.event({ type: 'state', state: this.state });
  }
}
