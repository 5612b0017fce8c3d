/**
 * One browser tab's playback: a ValkkaFSManager (@valkka/manager) over the filesystems of the cameras the tab
 * shows, one clock for all of them. The manager decides which frame goes out when; this session turns its
 * output into the WebSocket protocol (protocol.ts): a seek's burst marked as preroll up to the exact frame,
 * played frames as they come, and clock messages the browser runs its own copy of the clock from.
 */
import { isKeyFrame } from '@valkka/fs';
import { ValkkaFSManager } from '@valkka/manager';
import type { SetupFrame, SlotFrame } from '@valkka/threads';
import { encodeFrame, FRAME_PREROLL, HOLE_MS, MIN_REVERSE_RATE, type ServerEvent } from '../protocol.js';
import { type Camera, type Catalog, toWire } from './catalog.js';

export interface SessionSink {
  json(event: ServerEvent): void;
  frame(bytes: Uint8Array): void;
  /** True while the socket holds more unsent bytes than its budget: played frames are dropped up to the next key frame. */
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

/** Live playback stays this far behind the newest recorded frame (flush interval + table refresh + margin). */
export const LIVE_DELAY_MS = 2500;
const MAX_RATE = 32;
/** While playing, the browser's copy of the clock is corrected this often. */
const CLOCK_EVERY_MS = 1000;

export class PlaybackSession {
  private cameras: Camera[] = [];
  private manager: ValkkaFSManager | undefined;
  private generation = 0;
  /** Stream time while there is no manager or it is stopped; the rate while playing (0: stopped). */
  private time = 0;
  private rate = 0;
  private live = false;
  /** The rate play() uses when none is given (set by the rate command while stopped). */
  private preferredRate = 1;
  /** During a seek: per camera, the frames sent since its `seek` marker (undefined until the marker). */
  private burst: Map<number, SlotFrame[] | undefined> | undefined;
  /** Frames are dropped (congestion, a step's lookup) for these cameras until their next key frame. */
  private readonly waitKey = new Set<number>();
  private discard = false;
  private sentSpan = new Map<number, [number, number]>();
  private spanReported = '';
  private work: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly sink: SessionSink,
    private readonly maxStreams: number,
  ) {
    this.timer = setInterval(() => this.tick(), CLOCK_EVERY_MS);
  }

  /** Runs commands one at a time, in order. */
  run<T>(command: () => Promise<T>): Promise<T> {
    const next = this.work.then(() => {
      if (this.closing) throw new SessionError('ECLOSED', 'the session is closed');
      return command();
    });
    this.work = next.catch(() => undefined);
    return next;
  }

  /** Stops playback and the manager's threads (after the command under way). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.work;
      await this.manager?.close();
      this.manager = undefined;
    })();
    return this.closing;
  }

  now(): number {
    return this.manager && this.rate !== 0 ? this.manager.clock.streamTime() : this.time;
  }

  get state(): { generation: number; time: number; rate: number; live: boolean; cameras: number[] } {
    return { generation: this.generation, time: this.now(), rate: this.rate, live: this.live, cameras: this.cameras.map((c) => c.id) };
  }

  // ---------- commands ----------

  async open(ids: readonly number[]): Promise<void> {
    if (ids.length > this.maxStreams) throw new SessionError('ELIMIT', `a session shows at most ${this.maxStreams} cameras, ${ids.length} were asked for`);
    const cameras = ids.map((id) => {
      const c = this.catalog.camera(id);
      if (!c) throw new SessionError('ECAMERA', `there is no camera ${id} (cameras are 0..${this.catalog.cameras.length - 1})`);
      return c;
    });
    // A tab that opens before it knows its cameras must not pin the clock to 'now': start at the newest recording.
    const t = this.now() || this.defaultTime(cameras.length > 0 ? cameras : this.catalog.cameras);
    await this.stopManager();
    // Copies: a fleet camera's filesystem may switch (node offline → archive) while this manager plays the one it mapped.
    this.cameras = [...new Map(cameras.map((c) => [c.id, { ...c }])).values()];
    if (this.cameras.length > 0) this.manager = await this.startManager(this.cameras);
    await this.seek(t);
  }

  async seek(t: number): Promise<void> {
    this.generation++;
    this.live = false;
    this.sentSpan.clear();
    this.waitKey.clear();
    const manager = this.manager;
    if (manager && this.rate !== 0) await manager.stop();
    this.rate = 0;
    this.time = t;
    const shown: Array<{ camera: number; timestamp: number | null }> = this.cameras.map((c) => ({ camera: c.id, timestamp: null }));
    if (manager) {
      this.burst = new Map();
      try {
        const result = await manager.seek(t);
        for (const [i, camera] of this.cameras.entries()) {
          const ts = result.streams.find((s) => s.valkkafs === camera.fs && s.id === camera.streamId)?.timestamp ?? null;
          const frames = (this.burst.get(camera.id) ?? []).filter((f) => f.timestamp <= t);
          if (ts === null || frames.at(-1)?.timestamp !== ts) continue;
          for (const f of frames) this.send(camera, f, f === frames.at(-1) ? 0 : FRAME_PREROLL);
          shown[i]!.timestamp = ts;
        }
      } finally {
        this.burst = undefined;
      }
    }
    this.sink.json({ type: 'seeked', generation: this.generation, time: t, shown });
    this.reportSpan();
    this.sendClock();
  }

  async play(rate = this.preferredRate): Promise<void> {
    checkRate(rate);
    const t = this.now();
    // A new direction is a new run of frames for the browser's decoders: a new generation.
    if (rate < 0 && !(this.rate < 0)) {
      this.generation++;
      this.sentSpan.clear();
      // The new run starts with the GOP that holds the frame at t, that frame included (the manager would
      // leave out the frame at its position as already shown): position it just after t.
      if (this.manager) {
        if (this.rate > 0) await this.manager.stop();
        this.rate = 0;
        await this.quietly(this.manager, (m) => m.seek(t + 0.5));
      }
    } else if (rate > 0 && this.rate < 0) await this.seek(t);
    this.live = false;
    this.preferredRate = rate;
    if (this.manager) {
      this.rate = rate; // before: the first frames come out while play() is still resolving
      await this.manager.play({ rate });
    }
    this.sendClock();
  }

  async setRate(rate: number): Promise<void> {
    checkRate(rate);
    if (this.rate === 0) {
      this.preferredRate = rate;
      this.sendClock();
    } else await this.play(rate);
  }

  async stop(): Promise<void> {
    this.live = false;
    if (this.manager && this.rate !== 0) {
      await this.manager.stop();
      this.time = this.manager.clock.streamTime();
    }
    this.rate = 0;
    this.sendClock();
  }

  /** One frame forward or back: the manager finds the nearest frame of any camera, then that instant is sought. */
  async step(direction: 1 | -1): Promise<void> {
    const manager = this.manager;
    if (!manager) throw new SessionError('ENOFRAME', 'no cameras are open');
    await this.stop();
    const from = this.time;
    // The step's own frame is shown again by the seek below, with its GOP.
    await this.quietly(manager, async (m) => {
      await m.seek(from);
      await m.step(direction);
    });
    const target = manager.clock.streamTime();
    if (target === from) throw new SessionError('ENOFRAME', `no recorded frame ${direction > 0 ? 'after' : 'before'} ${new Date(from).toISOString()}`);
    await this.seek(target);
  }

  /** Follows the newest recorded frame, LIVE_DELAY_MS behind it. */
  async goLive(): Promise<void> {
    const manager = this.manager;
    const newest = manager ? (await manager.update(), manager.getTimeRange()?.[1]) : undefined;
    if (!manager || newest === undefined) throw new SessionError('ENODATA', 'nothing is recorded yet');
    await this.seek(Math.max(newest - LIVE_DELAY_MS, Date.now() - LIVE_DELAY_MS));
    await this.play(1);
    this.live = true;
    this.sendClock();
  }

  // ---------- the manager ----------

  private async startManager(cameras: Camera[]): Promise<ValkkaFSManager> {
    const filesystems = [...new Set(cameras.map((c) => c.fs))];
    // Frames from 8x up are key frames only (the browser decodes every frame it is sent up to 4x).
    const manager = new ValkkaFSManager(filesystems, { holeMs: HOLE_MS, keyFramesOnlyFrom: 8, budgetBytes: 16 << 20, name: 'demo-web' });
    manager.on('skip', () => this.sendClock());
    manager.on('fsError', ({ valkkafs, error }) => this.sink.json({ type: 'error', code: 'EFS', message: this.fsErrorMessage(valkkafs, error) }));
    // One mapping per stream: an offline node's camera and its archive camera read the same archived stream.
    const streams = new Map<Camera['fs'], Map<number, Camera[]>>();
    for (const c of cameras) {
      const ids = streams.get(c.fs) ?? streams.set(c.fs, new Map()).get(c.fs)!;
      ids.set(c.streamId, [...(ids.get(c.streamId) ?? []), c]);
    }
    for (const [slot, same] of [...streams.values()].flatMap((ids) => [...ids.values()]).entries()) {
      await manager.map({
        valkkafs: same[0]!.fs,
        id: same[0]!.streamId,
        readSlot: slot,
        output: { frame: (f) => same.forEach((c) => this.onFrame(c, f)), setup: (s) => same.forEach((c) => this.onSetup(c, s)) },
      });
    }
    try {
      await manager.start();
    } catch (err) {
      await manager.close().catch(() => undefined);
      throw err;
    }
    return manager;
  }

  /** Runs manager calls whose output the browser does not get. */
  private async quietly(manager: ValkkaFSManager, calls: (m: ValkkaFSManager) => Promise<unknown>): Promise<void> {
    this.discard = true;
    try {
      await calls(manager);
      await manager.sync();
    } finally {
      this.discard = false;
    }
  }

  private async stopManager(): Promise<void> {
    const manager = this.manager;
    this.manager = undefined;
    this.rate = 0;
    await manager?.close();
  }

  private onSetup(camera: Camera, s: SetupFrame): void {
    if (this.burst && s.type === 'stream_state' && s.state === 'seek') this.burst.set(camera.id, []);
  }

  private onFrame(camera: Camera, f: SlotFrame): void {
    if (this.discard || this.closing) return;
    if (this.burst) {
      this.burst.get(camera.id)?.push(f);
      return;
    }
    if (this.rate === 0) return;
    // A slow client: drop this camera's frames until a key frame it can decode from again.
    if (this.sink.congested()) {
      this.waitKey.add(camera.id);
      return;
    }
    if (this.waitKey.has(camera.id)) {
      if (!isKeyFrame(f)) return;
      this.waitKey.delete(camera.id);
    }
    this.send(camera, f, 0);
  }

  // ---------- output ----------

  private tick(): void {
    const manager = this.manager;
    if (this.rate === 0 || !manager) return;
    this.reportSpan();
    // Past the end of the recording (or before its start, backwards) the clock stops, as the browser's does.
    const range = manager.getTimeRange();
    const now = this.now();
    if (!this.live && range && (this.rate > 0 ? now > range[1] + HOLE_MS : now < range[0] - HOLE_MS)) {
      void this.run(() => this.stop()).catch(() => undefined);
      return;
    }
    this.sendClock();
  }

  private send(camera: Camera, f: SlotFrame, flags: number): void {
    this.sink.frame(encodeFrame(toWire(camera.id, this.generation, f, flags)));
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

  private sendClock(): void {
    this.sink.json({ type: 'clock', generation: this.generation, time: this.now(), rate: this.rate, live: this.live });
  }

  /** A fleet camera whose node is offline is said so in words (its blocks cannot be fetched); others name the directory. */
  private fsErrorMessage(valkkafs: unknown, error: Error): string {
    const camera = this.cameras.find((c) => c.fs === valkkafs);
    if (camera?.source === 'remote' && !this.catalog.info(camera).online) return `${camera.name}: node ${camera.node} is offline; it plays from the archive when its blocks were archived`;
    return `${camera?.fs.dirname ?? 'a filesystem'}: ${error.message}`;
  }

  private defaultTime(cameras: readonly Camera[]): number {
    const ends = cameras.map((c) => c.fs.getTimeRange()?.[1]).filter((t): t is number => t !== undefined);
    return ends.length > 0 ? Math.max(...ends) : Date.now();
  }
}

function checkRate(rate: number): void {
  const ok = Number.isFinite(rate) && rate !== 0 && Math.abs(rate) >= 1 / 8 && rate <= MAX_RATE && rate >= MIN_REVERSE_RATE;
  if (!ok) throw new SessionError('ERATE', `rate ${rate} is outside 1/8..${MAX_RATE} (or -1/8..${MIN_REVERSE_RATE} in reverse)`);
}
