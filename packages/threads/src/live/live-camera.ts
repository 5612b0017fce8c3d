/**
 * One camera: an RTSP session, its depacketizer and wall clock, and reconnection with capped exponential
 * backoff when the camera goes away, refuses, or stops sending. Frames go to `onFrame` as SlotFrames.
 */
import { MediaType } from '@valkka/fs';
import type { SlotFrame } from '../slot-frame.js';
import { Depacketizer } from './depacketizer.js';
import { LiveError, type LiveErrorCode } from './live-error.js';
import { parseRtcp, parseRtp } from './rtp.js';
import { redactUrl } from './rtsp-url.js';
import { RtspSession, type Transport, type VideoTrack } from './rtsp-session.js';
import { WallClock } from './wall-clock.js';

export interface LiveCameraSpec {
  /** Names the camera in stats and logs (default: its URL without the password). */
  name?: string;
  url: string;
  slot: number;
  transport?: Transport;
  /** Timeout of each RTSP step (default 10 s). */
  stepTimeoutMs?: number;
  /** No video for this long counts as a lost camera (default 10 s). */
  stallTimeoutMs?: number;
  /** Reconnect delays: the first, doubled up to the cap (default 500 ms .. 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  maxFrameBytes?: number;
}

export type CameraState = 'connecting' | 'playing' | 'waiting' | 'stopped';

export interface CameraStats {
  name: string;
  /** The URL without its password. */
  url: string;
  slot: number;
  state: CameraState;
  /** Sessions that reached PLAY; reconnects = those after the first. */
  connects: number;
  reconnects: number;
  /** Attempts that failed before PLAY. */
  failedAttempts: number;
  lastError?: string;
  lastErrorCode?: LiveErrorCode;
  frames: number;
  bytes: number;
  keyFrames: number;
  lostPackets: number;
  latePackets: number;
  droppedFrames: number;
  badPackets: number;
  /** Audio and other tracks of the SDP not played, and packets of channels not set up. */
  ignoredTracks: number;
  ignoredPackets: number;
  /** Over the time since the previous stats() call. */
  bitrate: number;
  fps: number;
  /** Mean of the last key-frame intervals (ms), 0 before two key frames. */
  keyIntervalMs: number;
  lastTimestamp: number;
  clockResyncs: number;
  /** The camera's clock minus ours, from its last sender report (ms). */
  cameraSkewMs: number;
}

export interface LiveCameraHooks {
  onFrame(frame: SlotFrame): void;
  onLog?(message: string): void;
  onState?(state: CameraState, error?: LiveError): void;
}

/** A session that delivered video this long resets the backoff to its first delay. */
const STABLE_MS = 30_000;

export class LiveCamera {
  readonly name: string;
  private readonly spec: LiveCameraSpec;
  private session: RtspSession | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private s: CameraStats;
  private depacketizer: Depacketizer | undefined;
  private clock: WallClock | undefined;
  private payloadType = -1;
  private prev = { at: performance.now(), frames: 0, bytes: 0 };
  private lastKey = 0;
  private resolveFirst!: (error: LiveError | undefined) => void;
  /** The outcome of the first attempt: undefined when it played, else why not. */
  readonly firstAttempt = new Promise<LiveError | undefined>((resolve) => (this.resolveFirst = resolve));

  constructor(
    spec: LiveCameraSpec,
    private readonly hooks: LiveCameraHooks,
  ) {
    this.spec = spec;
    const url = redactUrl(spec.url);
    this.name = spec.name ?? url;
    this.s = {
      name: this.name, url, slot: spec.slot, state: 'connecting', connects: 0, reconnects: 0, failedAttempts: 0,
      frames: 0, bytes: 0, keyFrames: 0, lostPackets: 0, latePackets: 0, droppedFrames: 0, badPackets: 0,
      ignoredTracks: 0, ignoredPackets: 0, bitrate: 0, fps: 0, keyIntervalMs: 0, lastTimestamp: 0, clockResyncs: 0, cameraSkewMs: 0,
    };
  }

  start(): void {
    this.running ??= this.run();
  }

  /** TEARDOWN and close; no reconnect after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.session?.teardown();
    await this.running;
    this.setState('stopped');
  }

  stats(): CameraStats {
    this.collect();
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.prev.at) / 1000);
    this.s.bitrate = ((this.s.bytes - this.prev.bytes) * 8) / seconds;
    this.s.fps = (this.s.frames - this.prev.frames) / seconds;
    this.prev = { at: now, frames: this.s.frames, bytes: this.s.bytes };
    return { ...this.s };
  }

  private async run(): Promise<void> {
    const first = this.spec.backoffMs ?? 500;
    const cap = this.spec.maxBackoffMs ?? 30_000;
    let delay = first;
    while (!this.stopped) {
      this.setState('connecting');
      let session: RtspSession;
      try {
        session = await RtspSession.open({
          url: this.spec.url,
          ...(this.spec.transport ? { transport: this.spec.transport } : {}),
          ...(this.spec.stepTimeoutMs ? { stepTimeoutMs: this.spec.stepTimeoutMs } : {}),
          ...(this.spec.stallTimeoutMs ? { stallTimeoutMs: this.spec.stallTimeoutMs } : {}),
          signal: this.abort.signal,
          onVideo: (video) => this.prepare(video),
          onRtp: (p) => this.rtp(p),
          onRtcp: (p) => this.rtcp(p),
          onIgnored: () => this.s.ignoredPackets++,
        });
      } catch (err) {
        this.retire();
        const error = asLiveError(err);
        this.s.failedAttempts++;
        this.failed(error);
        this.resolveFirst(error);
        delay = await this.pause(delay, cap);
        continue;
      }
      if (this.stopped) {
        await session.teardown();
        break;
      }
      this.session = session;
      this.s.connects++;
      if (this.s.connects > 1) this.s.reconnects++;
      this.resolveFirst(undefined);
      this.setState('playing');
      const since = performance.now();
      const reason = await session.ended;
      this.session = undefined;
      this.retire();
      if (this.stopped) break;
      this.failed(reason);
      if (performance.now() - since > STABLE_MS) delay = first;
      delay = await this.pause(delay, cap);
    }
  }

  /** A new session's depacketizer and clock, made before PLAY. */
  private prepare(video: VideoTrack): void {
    this.s.ignoredTracks = video.ignoredTracks.length;
    this.payloadType = video.payloadType;
    this.depacketizer = new Depacketizer({
      codec: video.codec,
      parameterSets: video.parameterSets,
      ...(this.spec.maxFrameBytes ? { maxFrameBytes: this.spec.maxFrameBytes } : {}),
      onGap: (first, count) => this.gap(first, count),
    });
    // A new session's clock starts after the last frame recorded: the hole stays a hole, time never runs back.
    this.clock = new WallClock({ clockRate: video.clockRate, floor: this.s.lastTimestamp + 1, log: (m) => this.log(m) });
  }

  private rtp(packet: Uint8Array): void {
    let rtp;
    try {
      rtp = parseRtp(packet);
    } catch {
      this.s.badPackets++;
      return;
    }
    if (rtp.payloadType !== this.payloadType) {
      this.s.ignoredPackets++;
      return;
    }
    if (!this.depacketizer) return;
    const units = this.depacketizer.push(rtp);
    if (units.length === 0) return;
    const arrival = Date.now();
    for (const unit of units) {
      const timestamp = this.clock!.timestamp(unit.rtpTimestamp, arrival);
      this.s.frames++;
      this.s.bytes += unit.payload.length;
      this.s.lastTimestamp = timestamp;
      if (unit.flags & 1) {
        this.s.keyFrames++;
        if (this.lastKey > 0) {
          const interval = timestamp - this.lastKey;
          this.s.keyIntervalMs = this.s.keyIntervalMs === 0 ? interval : this.s.keyIntervalMs * 0.8 + interval * 0.2;
        }
        this.lastKey = timestamp;
      }
      this.hooks.onFrame({
        slot: this.spec.slot,
        subsession: 0,
        timestamp,
        mediaType: MediaType.video,
        codec: this.depacketizer!.codec,
        flags: unit.flags,
        payload: unit.payload,
      });
    }
  }

  /**
   * Names the sequence numbers that never came (at most one log a second; the others are counted): cameras
   * of one shared stream missing the same numbers were never sent them.
   */
  private gap(first: number, count: number): void {
    const now = performance.now();
    if (now - this.lastGapLog < 1000) {
      this.unloggedGaps++;
      return;
    }
    const more = this.unloggedGaps > 0 ? ` (and ${this.unloggedGaps} gaps not logged since the last one)` : '';
    this.lastGapLog = now;
    this.unloggedGaps = 0;
    this.log(`lost ${count} RTP packets: sequence ${first}..${(first + count - 1) & 0xffff} never arrived${more}`);
  }

  private lastGapLog = -Infinity;
  private unloggedGaps = 0;

  private rtcp(packet: Uint8Array): void {
    try {
      const arrival = Date.now();
      for (const sr of parseRtcp(packet)) this.clock?.senderReport(sr.rtpTimestamp, sr.ntpMs, arrival);
    } catch {
      this.s.badPackets++;
    }
  }

  /** Adds the session's depacketizer and clock counts (since the last call) into the totals. */
  private collect(): void {
    const d = this.depacketizer;
    if (d) {
      this.s.lostPackets += d.counts.lostPackets - this.taken.lost;
      this.s.latePackets += d.counts.latePackets - this.taken.late;
      this.s.droppedFrames += d.counts.droppedUnits - this.taken.dropped;
      this.s.badPackets += d.counts.unsupportedPackets - this.taken.bad;
      this.taken = { ...this.taken, lost: d.counts.lostPackets, late: d.counts.latePackets, dropped: d.counts.droppedUnits, bad: d.counts.unsupportedPackets };
    }
    if (this.clock) {
      this.s.clockResyncs += this.clock.resyncs - this.taken.resyncs;
      this.taken.resyncs = this.clock.resyncs;
      this.s.cameraSkewMs = this.clock.cameraSkewMs;
    }
  }

  /** Counts of the session that ended go into the totals; the next session starts its own. */
  private retire(): void {
    this.collect();
    this.depacketizer = undefined;
    this.clock = undefined;
    this.taken = { lost: 0, late: 0, dropped: 0, bad: 0, resyncs: 0 };
  }

  private taken = { lost: 0, late: 0, dropped: 0, bad: 0, resyncs: 0 };

  private failed(error: LiveError): void {
    this.s.lastError = error.message;
    this.s.lastErrorCode = error.code;
    this.setState('waiting', error);
    this.log(`${error.message}; reconnecting`);
  }

  /** Waits `delay` (with ±20% jitter so cameras do not reconnect in step), or until stopped; returns the next delay. */
  private async pause(delay: number, cap: number): Promise<number> {
    if (this.stopped) return delay;
    const ms = delay * (0.8 + 0.4 * Math.random());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    return Math.min(cap, delay * 2);
  }

  private setState(state: CameraState, error?: LiveError): void {
    this.s.state = state;
    this.hooks.onState?.(state, error);
  }

  private log(message: string): void {
    this.hooks.onLog?.(`${this.name}: ${message}`);
  }
}

function asLiveError(err: unknown): LiveError {
  if (err instanceof LiveError) return err;
  return new LiveError('ERR_LIVE_PROTOCOL', err instanceof Error ? err.message : String(err));
}
