import { EventEmitter } from 'node:events';
import type { ValkkaFS } from '@valkka/fs';
import {
  FileCacherThread,
  type FrameFilter,
  type FrameQueue,
  MAX_RATE,
  MAX_REVERSE_RATE,
  MIN_RATE,
  PlaybackClock,
  type QueueEntry,
  type SetupFrame,
  SharedReaderThread,
  type SlotFrame,
  type TransmissionNotice,
} from '@valkka/threads';
import { FSGroup, type Mapping } from './fs-group.js';
import { playWindow, runsShort, unionOf, type WindowOptions } from './play-window.js';
import type { ManagerEvents, ManagerOptions, MapOptions, PlayState, RecordedRanges, SeekResult, StreamOutput, TimeRange } from './types.js';

const MIB = 1024 * 1024;
/** Real ms between looks at whether more blocks must be loaded. */
const PLAN_MS = 50;
/** Real ms of playback kept loaded whatever the rate (the window grows with the rate). */
const LEAD_MS = 3000;

interface Request {
  number: number;
  window: TimeRange;
  /** Newest recorded time when it was made (to tell when the live edge moved on). */
  edge: number;
  done: Promise<void>;
  resolve(): void;
}

/**
 * The end-point of playback (libValkka's ValkkaFSManager): many streams of many filesystems on ONE clock.
 * Seek shows every stream's exact frame at the target; play runs them all against the same timeline
 * (1/8x..32x, and -1/8x..-8x backwards), with holes, skipping where every stream is in one, step and go-live.
 * Whatever the number of filesystems it runs on two worker threads (one shared reader, one cacher), plus a writer
 * thread per filesystem it records into.
 */
export class ValkkaFSManager extends EventEmitter<ManagerEvents> {
  readonly clock: PlaybackClock;
  private readonly groups: FSGroup[];
  private readonly reader: SharedReaderThread;
  private readonly cacher: FileCacherThread;
  private readonly bySlot = new Map<number, { group: FSGroup; mapping: Mapping }>();
  private readonly win: WindowOptions;
  private readonly holeMs: number;
  private readonly skipHoles: boolean;
  private readonly refreshMs: number;
  private nextSlot = 1;
  private started = false;
  private closed = false;
  private state: PlayState = 'none';
  /** The position when not playing (after a seek, stop or step). */
  private target: number | undefined;
  private following = false;
  /** Whether the last play ran backwards (the cacher then needs a seek before stepping). */
  private reversed = false;
  private covered: TimeRange | undefined;
  private readonly requests = new Map<number, Request>();
  private liveGrew = false;
  private planning: Promise<void> | undefined;
  private cached: TimeRange | null = null;
  private currentTime: number | null = null;
  private range: TimeRange | null | undefined;
  /** Per played slot, the newest and oldest frame time delivered since its last seek. */
  private readonly newestShown = new Map<number, number>();
  private readonly oldestShown = new Map<number, number>();
  private readonly reportedBlocks = new Set<string>();
  /** Seeks run one at a time; one overtaken by a later seek while it waited is skipped (scrubbing). */
  private seeking: Promise<void> = Promise.resolve();
  private seeks = 0;
  private timers: NodeJS.Timeout[] = [];
  private pumping: Promise<void> | undefined;
  private timeCallback: ((mstime: number | null) => void) | undefined;
  private timeLimitsCallback: ((timerange: TimeRange | null) => void) | undefined;
  private blockCallback: ((timerange: TimeRange | null) => void) | undefined;

  constructor(filesystems: readonly ValkkaFS[], options: ManagerOptions = {}) {
    super();
    if (!Array.isArray(filesystems) || filesystems.length === 0) throw new TypeError('ValkkaFSManager needs a non-empty list of filesystems (opened with @valkka/fs)');
    if (new Set(filesystems).size !== filesystems.length) throw new TypeError('ValkkaFSManager: the same filesystem is listed twice');
    this.groups = filesystems.map((fs, key) => new FSGroup(fs, key));
    this.clock = options.clock ?? PlaybackClock.system();
    this.holeMs = positive('holeMs', options.holeMs ?? 1000);
    this.skipHoles = options.skipHoles ?? true;
    this.refreshMs = positive('refreshMs', options.refreshMs ?? 500);
    this.win = { aheadMs: positive('aheadMs', options.aheadMs ?? 8000), behindMs: positive('behindMs', options.behindMs ?? 2000), leadMs: LEAD_MS };
    const keyFrom = positive('keyFramesOnlyFrom', options.keyFramesOnlyFrom ?? 4);
    const blocksize = Math.max(...filesystems.map((fs) => fs.blocksize));
    const name = options.name ?? 'manager';
    this.reader = new SharedReaderThread({
      name: `${name}:reader`,
      blocksize,
      outputBytes: Math.max(4 * MIB, 2 * blocksize),
      ...(options.readerBudgetBytes !== undefined ? { budgetBytes: options.readerBudgetBytes } : {}),
    });
    this.cacher = new FileCacherThread({
      name: `${name}:cacher`,
      input: this.reader.output,
      clock: this.clock,
      outputBytes: Math.max(4 * MIB, 2 * blocksize),
      budgetBytes: positive('budgetBytes', options.budgetBytes ?? 32 * MIB),
      holeMs: this.holeMs,
      skipHoles: this.skipHoles,
      keyFramesOnlyAboveRate: keyFrom - 1e-9, // "from 4x" on the cacher's "above" scale
      transmissionNotices: true, // a seek knows when its transmission's burst is out
    });
    this.listen();
  }

  // ---------- setup ----------

  /**
   * Maps stream `id` of `valkkafs`: `readSlot` plays it into `output`, `writeSlot` records frames put into this
   * manager's input with that slot (a writer thread per filesystem; open the filesystem read-only then).
   */
  map(options: MapOptions): Promise<void> {
    const group = this.groupOf(options.valkkafs);
    for (const k of ['id', 'readSlot', 'writeSlot'] as const) {
      const v = options[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new TypeError(`map: ${k} must be a non-negative integer, got ${v}`);
    }
    if (options.readSlot === undefined && options.writeSlot === undefined) throw new TypeError('map: give a readSlot (play), a writeSlot (record) or both');
    if (options.readSlot !== undefined && !options.output) throw new TypeError('map: a readSlot needs an output for the played frames');
    const slot = options.readSlot !== undefined ? this.nextSlot++ : undefined;
    const mapping = group.map(options, slot);
    if (slot !== undefined) this.bySlot.set(slot, { group, mapping });
    return this.started ? this.apply(group, mapping) : Promise.resolve();
  }

  /** Undoes map (by id, as the reader's maps: the original passed a slot here, B11). */
  async unmap(valkkafs: ValkkaFS, id: number): Promise<void> {
    const group = this.groupOf(valkkafs);
    const m = group.unmap(id);
    if (!m) return;
    if (m.slot !== undefined) {
      this.bySlot.delete(m.slot);
      if (this.started) {
        await this.cacher.deregisterSlot(m.slot);
        await this.reader.unsetSlotId(group.key, m.id);
      }
    }
    if (m.writeSlot !== undefined && group.writer?.isRunning) await group.writer.unsetSlotId(m.writeSlot);
  }

  /** Where frames to record go (writeSlot mappings); `valkkafs` may be left out when there is one filesystem. */
  getInputFilter(valkkafs?: ValkkaFS): FrameFilter {
    return this.recordingGroup(valkkafs).getInputFilter();
  }

  /** The recording queue itself (give it to a FileSourceThread or LiveThread as `output`). */
  getInput(valkkafs?: ValkkaFS): FrameQueue {
    return this.recordingGroup(valkkafs).input;
  }

  /** Starts the threads (reader, cacher, a writer per recorded filesystem) and reads the tables. */
  async start(): Promise<void> {
    if (this.started || this.closed) throw new Error('ValkkaFSManager: start() once, before close()');
    this.started = true;
    await this.reader.start();
    await this.cacher.start();
    this.pumping = this.pump();
    for (const g of this.groups) {
      await this.reader.addFs(g.key, g.valkkafs.dirname);
      for (const m of g.mappings.values()) await this.apply(g, m);
    }
    this.timers.push(setInterval(() => void this.plan(), PLAN_MS));
    this.timers.push(setInterval(() => void this.update(), this.refreshMs));
    for (const t of this.timers) t.unref();
    await this.update();
  }

  /** Stops everything: writers first (what they were given is written durably, the open block closed), then playback. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    const errors: unknown[] = [];
    for (const g of this.groups) await g.close().catch((err: unknown) => errors.push(err));
    if (this.started) {
      await this.cacher.close().catch((err: unknown) => errors.push(err));
      await this.reader.close().catch((err: unknown) => errors.push(err));
      await this.pumping;
    }
    for (const r of this.requests.values()) r.resolve();
    if (errors.length > 0) throw errors[0];
  }

  /** Re-reads every filesystem's table (new blocks) and tells the block callback when the range changed. */
  async update(): Promise<void> {
    if (this.closed) return;
    let grew = false;
    for (const g of this.groups) {
      try {
        grew = (await g.refresh()) || grew;
      } catch (err) {
        this.fail(g, err as Error);
      }
    }
    const range = this.getTimeRange() ?? null;
    if (this.range === undefined || range?.[0] !== this.range?.[0] || range?.[1] !== this.range?.[1]) {
      this.range = range;
      this.emit('block', range);
      this.blockCallback?.(range);
    }
    const edge = this.newest();
    if (grew && this.covered && [...this.requests.values()].every((r) => r.edge <= this.covered![1])) this.liveGrew = true;
    // Following the live edge: a position that fell behind (a stall) catches up.
    if (this.following && this.state === 'play' && edge !== undefined && edge - this.clock.streamTime() > 4 * this.refreshMs + 1000) {
      await this.seekTo(edge, true);
    }
    void this.plan();
  }

  // ---------- playback ----------

  /**
   * Shows the frame at `t` on every played stream; resolves once each has been sent its exact frame (the last at or
   * before t, decoded from its key frame) or has no data there. Playing goes on playing from t.
   */
  async seek(t: number): Promise<SeekResult> {
    this.requireStarted();
    if (!Number.isFinite(t)) throw new TypeError(`seek: time must be a finite number of ms, got ${t}`);
    this.following = false;
    const mine = ++this.seeks;
    const previous = this.seeking;
    let done!: () => void;
    this.seeking = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      if (mine !== this.seeks) return { ...this.resultOf(t), superseded: true };
      return await this.seekTo(t, this.state === 'play');
    } finally {
      done();
    }
  }

  /** Plays from the current position, at `rate` if given (1/8..32, or -1/8..-8 backwards: whole GOPs in reverse). */
  async play(options: { rate?: number } = {}): Promise<void> {
    this.requireStarted();
    if (options.rate !== undefined) await this.setRate(options.rate);
    if (this.target === undefined) {
      const range = this.getTimeRange();
      if (!range) return;
      await this.seekTo(range[0], false);
    }
    await this.cacher.play();
    this.reversed = this.clock.timeline().rate < 0;
    this.setState('play');
    void this.plan();
  }

  /** Changes the rate, playing or not. */
  async setRate(rate: number): Promise<void> {
    this.requireStarted();
    if (!((rate >= MIN_RATE && rate <= MAX_RATE) || (rate <= -MIN_RATE && rate >= -MAX_REVERSE_RATE))) {
      throw new RangeError(`rate must be ${MIN_RATE}..${MAX_RATE}, or -${MIN_RATE}..-${MAX_REVERSE_RATE} backwards; got ${rate}`);
    }
    const turned = rate < 0 !== this.clock.timeline().rate < 0;
    await this.cacher.setRate(rate);
    await this.cacher.sync();
    if (turned) this.covered = undefined; // load the other side
    if (this.state === 'play') this.reversed = rate < 0;
    void this.plan();
  }

  /** Stops (freezes) at the current position. */
  async stop(): Promise<void> {
    this.requireStarted();
    this.following = false;
    if (this.state !== 'play') return;
    await this.cacher.stop();
    await this.cacher.sync();
    this.target = this.clock.streamTime();
    this.setState('stop');
  }

  /** One frame forward or back (of the streams' merged timeline), from a stop; resolves when it was sent. */
  async step(direction: 1 | -1 = 1): Promise<void> {
    this.requireStarted();
    if (direction !== 1 && direction !== -1) throw new TypeError(`step: direction must be 1 or -1, got ${direction}`);
    if (this.state === 'play') await this.stop();
    if (this.target === undefined) return;
    if (this.reversed) {
      this.reversed = false; // the cacher forgot its forward position: show the target again first
      await this.seekTo(this.target, false);
    }
    const from = this.target;
    await this.cacher.step(direction);
    await this.sync();
    if (this.clock.streamTime() === from) {
      // At the edge of what is loaded: load the blocks around the target, then step again.
      await (await this.request(from, direction)).done;
      await this.cacher.step(direction);
      await this.sync();
    }
    this.target = this.clock.streamTime();
  }

  /** Follows the newest recorded frame (about one flush interval behind the camera) at 1x. */
  async goLive(): Promise<void> {
    this.requireStarted();
    await this.update();
    const edge = this.newest();
    if (edge === undefined) return;
    if (this.clock.timeline().rate !== 1) await this.setRate(1);
    await this.seekTo(edge, false);
    await this.cacher.play();
    this.reversed = false;
    this.following = true;
    this.setState('play');
  }

  /**
   * Resolves when everything due at the clock's current time has been handed to the outputs, and the blocks
   * playback needs now are loaded (for a manual clock: advance it, then await sync()).
   */
  async sync(): Promise<void> {
    this.requireStarted();
    await this.plan(); // one under way may have looked before the clock moved:
    await this.plan(); // look again
    for (const r of [...this.requests.values()]) await r.done;
    await this.cacher.sync(); // answered after the cacher sent what is due at the clock's time
    while (this.cacher.output.stats().used > 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }

  // ---------- what is where ----------

  /** The global recorded range: the union of every filesystem's (the original took the earliest end, B14). */
  getTimeRange(): TimeRange | undefined {
    let out: TimeRange | undefined;
    for (const g of this.groups) {
      const r = g.getTimeRange();
      if (r) out = out ? [Math.min(out[0], r[0]), Math.max(out[1], r[1])] : [r[0], r[1]];
    }
    return out;
  }

  getTimeRangeByValkkaFS(valkkafs: ValkkaFS): TimeRange | undefined {
    return this.groupOf(valkkafs).getTimeRange();
  }

  /** The play position (stream ms), null while unknown. */
  getCurrentTime(): number | null {
    if (this.state === 'play') return this.clock.streamTime();
    return this.target ?? null;
  }

  /** The range loaded in the cache. */
  getCachedRange(): TimeRange | null {
    return this.cached;
  }

  getState(): PlayState {
    return this.state;
  }

  /**
   * Recorded ranges of every mapped stream within [t0, t1], and their union: what a timeline draws (holes are
   * the gaps; `maxGapMs`, default holeMs, is the smallest gap that counts as one).
   */
  async recordedRanges([t0, t1]: TimeRange, options: { maxGapMs?: number } = {}): Promise<RecordedRanges> {
    const gap = options.maxGapMs ?? this.holeMs;
    const streams: RecordedRanges['streams'] = [];
    for (const g of this.groups) {
      for (const m of g.mappings.values()) {
        let ranges: TimeRange[] = [];
        if (!g.error) {
          try {
            const found = await g.valkkafs.recordedRanges(m.id, { maxGapMs: gap, within: [Math.max(0, t0), Math.max(0, t1)] });
            ranges = (found.get(m.id) ?? []).filter(([a, b]) => b >= t0 && a <= t1).map(([a, b]) => [Math.max(a, t0), Math.min(b, t1)] as TimeRange);
          } catch (err) {
            this.fail(g, err as Error);
          }
        }
        streams.push({ valkkafs: g.valkkafs, id: m.id, ranges });
      }
    }
    return { streams, global: unionOf(streams.flatMap((s) => s.ranges), gap) };
  }

  // ---------- the original's callbacks ----------

  setTimeCallback(cb: ((mstime: number | null) => void) | undefined): void {
    this.timeCallback = cb;
  }

  setTimeLimitsCallback(cb: ((timerange: TimeRange | null) => void) | undefined): void {
    this.timeLimitsCallback = cb;
  }

  setBlockCallback(cb: ((timerange: TimeRange | null) => void) | undefined): void {
    this.blockCallback = cb;
  }

  /** Counters of the two threads (frames sent, cached bytes, blocks read, bytes held by the reader). */
  stats(): { cacher: Record<string, number>; reader: Record<string, number> } {
    return { cacher: this.cacher.counters(), reader: this.reader.counters() };
  }

  // ---------- internals ----------

  private async seekTo(t: number, thenPlay: boolean): Promise<SeekResult> {
    this.target = t;
    this.reversed = false; // a seek positions the cacher afresh
    this.setState('seek');
    await this.cacher.seek(t);
    // Only the blocks that show t (each stream's key frame up to t): a seek reads little; play loads the rest.
    const request = await this.request(t, this.clock.timeline().rate, [t, t]);
    await request.done;
    if (this.target === t) {
      this.setState('stop');
      if (thenPlay) {
        await this.cacher.play();
        this.reversed = this.clock.timeline().rate < 0;
        this.setState('play');
      }
    }
    return this.resultOf(t);
  }

  private resultOf(t: number): SeekResult {
    const streams: SeekResult['streams'] = [];
    for (const [slot, { group, mapping }] of this.bySlot) {
      const ts = this.newestShown.get(slot);
      const shown = ts !== undefined && ts <= t && t - ts <= this.holeMs ? ts : null;
      streams.push({ valkkafs: group.valkkafs, id: mapping.id, timestamp: shown });
    }
    return { time: t, streams };
  }

  /** Asks the reader for one transmission: every played filesystem's blocks for the window around `position`. */
  private async request(position: number, rate: number, window = playWindow(position, rate, this.win)): Promise<Request> {
    const parts: Array<{ key: number; blocks: number[] }> = [];
    for (const g of this.groups) {
      if (g.error || g.played().length === 0) continue;
      try {
        parts.push({ key: g.key, blocks: await g.blocksFor(window, position) });
      } catch (err) {
        this.fail(g, err as Error);
      }
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const number = await this.reader.pullBlocks(parts);
    const request: Request = { number, window, edge: this.newest() ?? 0, done, resolve };
    this.requests.set(number, request);
    return request;
  }

  /** Loads what playback will need next, and jumps over a hole where every stream is in one (one look at a time). */
  private plan(): Promise<void> {
    this.planning ??= this.planOnce().finally(() => (this.planning = undefined));
    return this.planning;
  }

  private async planOnce(): Promise<void> {
    if (!this.started || this.closed || this.state !== 'play') return;
    try {
      if (this.requests.size > 0) return; // one at a time while playing
      const { rate } = this.clock.timeline();
      const position = this.clock.streamTime();
      if (runsShort(this.covered, position, rate, this.win) || this.liveGrew) {
        this.liveGrew = false;
        await this.request(position, rate);
      } else if (this.skipHoles) await this.skipHole(position, rate);
    } catch (err) {
      if (!this.closed) this.emit('log', `planning playback: ${(err as Error).message}`);
    }
  }

  /**
   * Where every played stream is in a hole and the cache has nothing further (the cacher skips holes within the
   * cache itself), the position moves to the next recorded data of any filesystem.
   */
  private async skipHole(position: number, rate: number): Promise<void> {
    const backwards = rate < 0;
    for (const slot of this.bySlot.keys()) {
      const seen = backwards ? this.oldestShown.get(slot) : this.newestShown.get(slot);
      if (seen !== undefined && Math.abs(position - seen) <= this.holeMs) return;
    }
    if (this.cached && (backwards ? this.cached[0] < position : this.cached[1] > position)) return;
    let next: number | undefined;
    for (const g of this.groups) {
      const t = backwards ? g.previousDataBefore(position) : g.nextDataAfter(position);
      if (t !== undefined && (next === undefined || (backwards ? t > next : t < next))) next = t;
    }
    if (next === undefined) return;
    this.emit('skip', { from: position, to: next });
    await this.seekTo(next, true);
  }

  /** Hands what the cacher sends to the mapped outputs, in order. */
  private async pump(): Promise<void> {
    for await (const entry of this.cacher.output) {
      try {
        this.route(entry);
      } catch (err) {
        this.emit('log', `an output threw: ${(err as Error).message}`);
      }
    }
  }

  private route(entry: QueueEntry): void {
    if (entry.kind === 'frame') {
      const f = entry.frame;
      const target = this.bySlot.get(f.slot);
      if (!target) return;
      this.newestShown.set(f.slot, Math.max(f.timestamp, this.newestShown.get(f.slot) ?? -Infinity));
      this.oldestShown.set(f.slot, Math.min(f.timestamp, this.oldestShown.get(f.slot) ?? Infinity));
      deliverFrame(target.mapping, f);
    } else if (entry.kind === 'command') {
      const c = entry.command as unknown as SetupFrame | TransmissionNotice;
      if (c.type === 'transmission') return this.transmitted(c);
      const target = this.bySlot.get(c.slot);
      if (!target) return;
      if (c.type === 'stream_state' && c.state === 'seek') {
        this.newestShown.delete(c.slot);
        this.oldestShown.delete(c.slot);
      }
      const out = target.mapping.output;
      if (out && typeof out !== 'function') out.setup?.({ ...c, slot: target.mapping.readSlot! });
    }
  }

  private transmitted(notice: TransmissionNotice): void {
    for (const [number, r] of this.requests) {
      if (number > notice.number) continue;
      this.requests.delete(number);
      if (number === notice.number) {
        const max = notice.limits?.max;
        this.covered = notice.truncated && max !== undefined ? [r.window[0], Math.min(r.window[1], max)] : r.window;
      }
      r.resolve();
    }
    this.cached = notice.limits ? [notice.limits.min, notice.limits.max] : null;
    this.emit('timeLimits', this.cached);
    this.timeLimitsCallback?.(this.cached);
  }

  private listen(): void {
    this.cacher.on('time', (e: { streamTime: number | null }) => {
      this.currentTime = this.state === 'play' ? e.streamTime : (this.target ?? e.streamTime);
      this.emit('time', this.currentTime);
      this.timeCallback?.(this.currentTime);
    });
    this.cacher.on('nodata', (e: { slot: number; since: number | null }) => {
      const t = this.bySlot.get(e.slot);
      if (t) this.emit('nodata', { valkkafs: t.group.valkkafs, id: t.mapping.id, since: e.since });
    });
    this.cacher.on('data', (e: { slot: number; timestamp: number }) => {
      const t = this.bySlot.get(e.slot);
      if (t) this.emit('data', { valkkafs: t.group.valkkafs, id: t.mapping.id, timestamp: e.timestamp });
    });
    this.cacher.on('skip', (e: { from: number; to: number }) => this.emit('skip', e));
    this.cacher.on('log', (m: string) => this.emit('log', `cacher: ${m}`));
    // A dead thread plays nothing more: say so, and let waiting seeks resolve (with what was shown).
    this.cacher.on('error', (err: Error) => this.threadDied('cacher', err));
    this.reader.on('log', (m) => this.emit('log', `reader: ${m}`));
    this.reader.on('error', (err) => this.threadDied('reader', err));
    this.reader.on('fsError', (e) => {
      const g = this.groups[e.key];
      if (!g) return;
      const error = Object.assign(new Error(`${g.valkkafs.dirname}: ${e.message}`), { code: e.code });
      if (e.block === undefined) this.fail(g, error);
      else if (!this.reportedBlocks.has(`${e.key}:${e.block}`)) {
        // A damaged block: reported once; the filesystem's other blocks still play.
        this.reportedBlocks.add(`${e.key}:${e.block}`);
        this.emit('fsError', { valkkafs: g.valkkafs, error, block: e.block });
      }
    });
  }

  private threadDied(which: string, err: Error): void {
    this.emit('log', `${which} thread died: ${err.message}`);
    for (const r of this.requests.values()) r.resolve();
    this.requests.clear();
  }

  /** A filesystem that cannot be used any more: reported once; its streams are no longer read. */
  private fail(group: FSGroup, error: Error): void {
    if (group.error) return;
    group.error = error;
    this.emit('fsError', { valkkafs: group.valkkafs, error });
    if (this.started && !this.closed) this.reader.removeFs(group.key).catch(() => undefined);
  }

  private async apply(group: FSGroup, m: Mapping): Promise<void> {
    if (m.slot !== undefined) {
      await this.reader.setSlotId(m.slot, group.key, m.id);
      await this.cacher.registerSlot(m.slot);
    }
    if (m.writeSlot !== undefined) {
      const writer = group.writerThread();
      if (!writer.isRunning) {
        writer.on('block', () => void this.update());
        writer.on('error', (err) => this.fail(group, err));
        writer.on('log', (msg) => this.emit('log', `writer ${group.valkkafs.dirname}: ${msg}`));
        await writer.start();
      }
      await writer.setSlotId(m.writeSlot, m.id);
    }
  }

  private newest(): number | undefined {
    let edge: number | undefined;
    for (const g of this.groups) {
      const r = g.getTimeRange();
      if (r && (edge === undefined || r[1] > edge)) edge = r[1];
    }
    return edge;
  }

  private setState(state: PlayState): void {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }

  private groupOf(valkkafs: ValkkaFS): FSGroup {
    const g = this.groups.find((x) => x.valkkafs === valkkafs);
    if (!g) throw new TypeError(`${valkkafs?.dirname ?? String(valkkafs)} is not one of this manager's filesystems`);
    return g;
  }

  private recordingGroup(valkkafs: ValkkaFS | undefined): FSGroup {
    if (valkkafs) return this.groupOf(valkkafs);
    if (this.groups.length > 1) throw new TypeError('getInputFilter: name the filesystem (the manager has several)');
    return this.groups[0]!;
  }

  private requireStarted(): void {
    if (!this.started) throw new Error('ValkkaFSManager: call start() first');
    if (this.closed) throw new Error('ValkkaFSManager: closed');
  }
}

function deliverFrame(m: Mapping, f: SlotFrame): void {
  const out = m.output as StreamOutput;
  const frame = { ...f, slot: m.readSlot! };
  if (typeof out === 'function') out(frame);
  else out.frame(frame);
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}
