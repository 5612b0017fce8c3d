/**
 * One browser tab's playback: the cameras it shows, one clock for all of them, and the frames each needs
 * next, sent a little ahead of the clock so the browser can present them by timestamp.
 *
 * This is the only module that drives playback. @valkka/manager (ValkkaFSManager) is meant to take its
 * place; until it is usable here, this session walks the rings itself through stream-cursor.ts, reading
 * whole blocks from the catalog's shared cache (see the README, "Not done").
 */
import type { ParsedFrame } from '@valkka/fs';
import { encodeFrame, FRAME_PREROLL, HOLE_MS, MIN_REVERSE_RATE, type ServerEvent } from '../protocol.js';
import { type Camera, type Catalog, toWire } from './catalog.js';
import { ForwardCursor, gopAt, ReverseCursor } from './stream-cursor.js';

export interface SessionSink {
  json(event: ServerEvent): void;
  frame(bytes: Uint8Array): void;
  /** True while the socket holds more unsent bytes than its budget: frames wait (the clock does not). */
  congested(): boolean;
}

export class SessionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How far ahead of the clock frames are sent (× the rate). */
const LEAD_MS = 400;
/** A stream this far behind the clock (× the rate) skips to the key frame at the clock. */
const BEHIND_MS = 1000;
/** Live playback stays this far behind the newest recorded frame (flush interval + the catalog's refresh). */
export const LIVE_DELAY_MS = 2500;
const PUMP_MS = 20;
/** Frames sent per camera per pump tick, at most (keeps one tab from monopolizing the event loop). */
const FRAMES_PER_TICK = 64;
const MAX_RATE = 32;

interface Clock {
  wall: number;
  time: number;
  rate: number;
}

export class PlaybackSession {
  private cameras: Camera[] = [];
  private generation = 0;
  private clock: Clock = { wall: performance.now(), time: 0, rate: 0 };
  private live = false;
  /** The rate play() uses when none is given (set by the rate command while stopped). */
  private preferredRate = 1;
  private direction: 'forward' | 'reverse' = 'forward';
  private forward = new Map<number, ForwardCursor>();
  private reverse = new Map<number, ReverseCursor>();
  /** Per camera: the newest frame sent (forward) or oldest (reverse) of this generation, and the span sent. */
  private lastSent = new Map<number, number>();
  private sentSpan = new Map<number, [number, number]>();
  private spanReported = '';
  private work: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastClockSent = 0;
  private closed = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly sink: SessionSink,
    private readonly maxStreams: number,
  ) {
    this.timer = setInterval(() => this.schedulePump(), PUMP_MS);
  }

  /** Runs commands one at a time, in order, never alongside a pump tick. */
  run<T>(command: () => Promise<T>): Promise<T> {
    const next = this.work.then(command);
    this.work = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  now(): number {
    return this.clock.time + (performance.now() - this.clock.wall) * this.clock.rate;
  }

  get state(): { generation: number; time: number; rate: number; live: boolean; cameras: number[] } {
    return { generation: this.generation, time: this.now(), rate: this.clock.rate, live: this.live, cameras: this.cameras.map((c) => c.id) };
  }

  // ---------- commands ----------

  async open(ids: readonly number[]): Promise<void> {
    if (ids.length > this.maxStreams) throw new SessionError('ELIMIT', `a session shows at most ${this.maxStreams} cameras, ${ids.length} were asked for`);
    const cameras = ids.map((id) => {
      const c = this.catalog.camera(id);
      if (!c) throw new SessionError('ECAMERA', `there is no camera ${id} (cameras are 0..${this.catalog.cameras.length - 1})`);
      return c;
    });
    this.cameras = [...new Set(cameras)];
    await this.seek(this.now() || this.defaultTime());
  }

  async seek(t: number): Promise<void> {
    this.generation++;
    this.live = false;
    this.setClock(t, 0);
    this.direction = 'forward';
    this.forward.clear();
    this.reverse.clear();
    this.lastSent.clear();
    this.sentSpan.clear();
    const shown: Array<{ camera: number; timestamp: number | null }> = [];
    for (const camera of this.cameras) {
      const { frames } = await gopAt(this.catalog, camera, t);
      const last = frames.at(-1);
      if (last && t - last.timestamp <= HOLE_MS) {
        for (const f of frames) this.send(camera, f, f === last ? 0 : FRAME_PREROLL);
        shown.push({ camera: camera.id, timestamp: last.timestamp });
      } else shown.push({ camera: camera.id, timestamp: null });
      this.forward.set(camera.id, new ForwardCursor(this.catalog, camera, t));
    }
    this.sink.json({ type: 'seeked', generation: this.generation, time: t, shown });
    this.sendClock();
  }

  async play(rate = this.preferredRate): Promise<void> {
    checkRate(rate);
    const t = this.now();
    if (rate < 0) {
      this.generation++;
      this.direction = 'reverse';
      this.forward.clear();
      this.reverse = new Map(this.cameras.map((c) => [c.id, new ReverseCursor(this.catalog, c, t)]));
      this.lastSent.clear();
      this.sentSpan.clear();
    } else if (this.direction === 'reverse') {
      await this.seek(t);
    }
    this.live = false;
    this.preferredRate = rate;
    this.setClock(t, rate);
    this.sendClock();
  }

  async setRate(rate: number): Promise<void> {
    checkRate(rate);
    if (this.clock.rate === 0) {
      this.preferredRate = rate;
      this.sendClock();
    } else await this.play(rate);
  }

  async stop(): Promise<void> {
    this.live = false;
    this.setClock(this.now(), 0);
    this.sendClock();
  }

  /** One frame forward or back: to the nearest frame of any camera after (before) the clock. */
  async step(direction: 1 | -1): Promise<void> {
    const t = this.now();
    let target: number | undefined;
    for (const camera of this.cameras) {
      if (direction > 0) {
        const next = (await gopAt(this.catalog, camera, t)).next?.timestamp;
        if (next !== undefined && (target === undefined || next < target)) target = next;
      } else {
        const prev = (await gopAt(this.catalog, camera, Math.ceil(t) - 1)).frames.at(-1)?.timestamp;
        if (prev !== undefined && (target === undefined || prev > target)) target = prev;
      }
    }
    if (target === undefined) throw new SessionError('ENOFRAME', `no recorded frame ${direction > 0 ? 'after' : 'before'} ${new Date(t).toISOString()}`);
    await this.seek(target);
  }

  /** Follows the newest recorded frame, LIVE_DELAY_MS behind it. */
  async goLive(): Promise<void> {
    const newest = Math.max(...this.cameras.map((c) => c.fs.getTimeRange()?.[1] ?? -Infinity));
    if (!Number.isFinite(newest)) throw new SessionError('ENODATA', 'nothing is recorded yet');
    await this.seek(Math.max(newest - LIVE_DELAY_MS, Date.now() - LIVE_DELAY_MS));
    this.live = true;
    this.setClock(this.clock.time, 1);
    this.sendClock();
  }

  // ---------- the pump ----------

  private schedulePump(): void {
    if (this.closed || this.clock.rate === 0) return;
    void this.run(() => this.pump()).catch((err: Error) => this.sink.json({ type: 'error', code: 'EPLAY', message: err.message }));
  }

  private async pump(): Promise<void> {
    if (this.clock.rate === 0) return;
    const now = this.now();
    const rate = this.clock.rate;
    const pending: number[] = [];
    for (const camera of this.cameras) {
      const next = rate > 0 ? await this.pumpForward(camera, now, rate) : await this.pumpReverse(camera, now, rate);
      if (next === 'congested') return;
      if (next !== undefined) pending.push(next);
    }
    this.reportSpan();
    if (performance.now() - this.lastClockSent > 2000) this.sendClock();
    if (this.live || !this.everyCameraInHole(now)) return;
    // Every camera is in a hole: jump to the next recorded frame, or stop where the recording ends.
    if (pending.length === 0) {
      this.setClock(now, 0);
      this.sendClock();
      return;
    }
    const to = rate > 0 ? Math.min(...pending) : Math.max(...pending);
    this.setClock(to - Math.sign(rate) * 100, rate);
    this.sendClock();
  }

  /** Sends what is due before the horizon; returns the timestamp of the next frame not sent yet. */
  private async pumpForward(camera: Camera, now: number, rate: number): Promise<number | 'congested' | undefined> {
    const cursor = this.forward.get(camera.id);
    if (!cursor) return undefined;
    const horizon = now + LEAD_MS * Math.max(1, rate);
    const keyOnly = rate > 4;
    for (let n = 0; n < FRAMES_PER_TICK; n++) {
      if (this.sink.congested()) return 'congested';
      const f = await cursor.peek(keyOnly);
      if (!f) return undefined;
      if (f.timestamp < now - BEHIND_MS * Math.max(1, rate)) {
        // Fell behind (a slow client or a busy server): go on from the key frame at the clock.
        const key = (await gopAt(this.catalog, camera, now)).frames[0];
        if (key && key.timestamp > f.timestamp) {
          cursor.restartAt(key);
          continue;
        }
      }
      if (f.timestamp > horizon) return f.timestamp;
      this.send(camera, f, 0);
      cursor.take(f);
    }
    return undefined;
  }

  private async pumpReverse(camera: Camera, now: number, rate: number): Promise<number | 'congested' | undefined> {
    const cursor = this.reverse.get(camera.id);
    if (!cursor) return undefined;
    const horizon = now + LEAD_MS * Math.min(-1, rate);
    for (let n = 0; n < 4; n++) {
      if (this.sink.congested()) return 'congested';
      const gop = await cursor.peek();
      if (!gop) return undefined;
      const end = gop.at(-1)!.timestamp;
      if (end < horizon) return end;
      // Above 4x back only key frames: decoding whole GOPs backwards cannot keep up.
      for (const f of rate < -4 ? gop.slice(0, 1) : gop) this.send(camera, f, 0);
      cursor.take(gop);
    }
    return undefined;
  }

  private everyCameraInHole(now: number): boolean {
    return this.cameras.every((c) => {
      const last = this.lastSent.get(c.id);
      return last === undefined || Math.abs(now - last) > HOLE_MS;
    });
  }

  // ---------- output ----------

  private send(camera: Camera, f: ParsedFrame, flags: number): void {
    this.sink.frame(encodeFrame(toWire(camera.id, this.generation, f, flags)));
    const forward = this.direction === 'forward';
    const last = this.lastSent.get(camera.id);
    if (last === undefined || (forward ? f.timestamp > last : f.timestamp < last)) this.lastSent.set(camera.id, f.timestamp);
    const span = this.sentSpan.get(camera.id);
    if (!span) this.sentSpan.set(camera.id, [f.timestamp, f.timestamp]);
    else {
      span[0] = Math.min(span[0], f.timestamp);
      span[1] = Math.max(span[1], f.timestamp);
    }
  }

  private reportSpan(): void {
    const ranges = [...this.sentSpan].map(([camera, [from, to]]) => ({ camera, from, to }));
    const key = JSON.stringify(ranges);
    if (key === this.spanReported) return;
    this.spanReported = key;
    this.sink.json({ type: 'cached', ranges });
  }

  private setClock(time: number, rate: number): void {
    this.clock = { wall: performance.now(), time, rate };
  }

  private sendClock(): void {
    this.lastClockSent = performance.now();
    this.sink.json({ type: 'clock', generation: this.generation, time: this.now(), rate: this.clock.rate, live: this.live });
  }

  private defaultTime(): number {
    const ends = this.cameras.map((c) => c.fs.getTimeRange()?.[1]).filter((t): t is number => t !== undefined);
    return ends.length > 0 ? Math.max(...ends) : Date.now();
  }
}

function checkRate(rate: number): void {
  const ok = Number.isFinite(rate) && rate !== 0 && Math.abs(rate) >= 1 / 8 && rate <= MAX_RATE && rate >= MIN_REVERSE_RATE;
  if (!ok) throw new SessionError('ERATE', `rate ${rate} is outside 1/8..${MAX_RATE} (or -1/8..${MIN_REVERSE_RATE} in reverse)`);
}
