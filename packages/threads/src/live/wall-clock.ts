/**
 * Wall-clock timestamps for one RTP stream, as Moonfire NVR does it: media time comes from the RTP
 * timestamps; the offset to the wall clock follows a target (the camera's RTCP sender reports when its
 * clock agrees with ours, else the least delayed arrival) but moves at most `maxSlewPpm` of the media
 * time elapsed, so timestamps never jump, never go backwards, and do not drift from the recorder's clock.
 */
export interface WallClockOptions {
  clockRate: number;
  /** Most the offset moves, in parts per million of elapsed media time (default 500). */
  maxSlewPpm?: number;
  /** A sender report further than this from our clock is not trusted (default 5000 ms). */
  trustMs?: number;
  /** A frame further than this from its target is a discontinuity (camera restart, clock step): re-anchored (default 10 000 ms). */
  resyncMs?: number;
  /** No timestamp will be below this (the last one of a previous session). */
  floor?: number;
  /** Told once about a camera clock not trusted, and about each re-anchoring. */
  log?: (message: string) => void;
}

/** Arrival offsets are kept as the minimum over windows of this much media time (the least delayed frame wins). */
const WINDOW_MS = 10_000;

export class WallClock {
  private readonly msPerTick: number;
  private readonly maxSlew: number;
  private readonly trustMs: number;
  private readonly resyncMs: number;
  private readonly log: (message: string) => void;
  private lastRtp = 0;
  /** Media time of the last frame, ms since the first one (from unwrapped RTP timestamps). */
  private media = 0;
  private started = false;
  private offset = 0;
  private last: number;
  private windowStart = 0;
  private windowMin = Infinity;
  private previousMin = Infinity;
  /** Media time and camera wall time of the last trusted sender report. */
  private report: { media: number; wall: number } | undefined;
  private pendingReport: { rtp: number; wall: number; arrival: number } | undefined;
  private warned = false;
  /** Largest distance seen between a sender report and our clock (ms, signed). */
  cameraSkewMs = 0;
  resyncs = 0;

  constructor(options: WallClockOptions) {
    this.msPerTick = 1000 / options.clockRate;
    this.maxSlew = (options.maxSlewPpm ?? 500) / 1e6;
    this.trustMs = options.trustMs ?? 5000;
    this.resyncMs = options.resyncMs ?? 10_000;
    this.last = options.floor ?? -Infinity;
    this.log = options.log ?? (() => undefined);
  }

  /** An RTCP sender report: the camera's wall time for an RTP timestamp. */
  senderReport(rtpTimestamp: number, ntpMs: number, arrivalMs: number): void {
    if (!this.started) {
      this.pendingReport = { rtp: rtpTimestamp, wall: ntpMs, arrival: arrivalMs };
      return;
    }
    const media = this.mediaOf(rtpTimestamp);
    const skew = ntpMs - (arrivalMs - (this.media - media));
    this.cameraSkewMs = skew;
    if (Math.abs(skew) > this.trustMs) {
      if (!this.warned) this.log(`camera clock is ${(skew / 1000).toFixed(1)} s off ours: its sender reports are not trusted, arrival times are used`);
      this.warned = true;
      this.report = undefined;
      return;
    }
    this.report = { media, wall: ntpMs };
  }

  /** The wall-clock time (ms since the epoch) of a frame with this RTP timestamp that arrived at `arrivalMs`. */
  timestamp(rtpTimestamp: number, arrivalMs: number): number {
    if (!this.started) {
      this.started = true;
      this.lastRtp = rtpTimestamp;
      this.media = 0;
      this.windowStart = 0;
      this.windowMin = arrivalMs;
      this.offset = arrivalMs;
      const r = this.pendingReport;
      this.pendingReport = undefined;
      if (r) this.senderReport(r.rtp, r.wall, r.arrival);
      if (this.report) this.offset = this.report.wall - this.report.media;
      return this.emit(this.offset);
    }
    const before = this.media;
    this.media = this.mediaOf(rtpTimestamp);
    this.lastRtp = rtpTimestamp;
    const arrivalOffset = arrivalMs - this.media;
    if (this.media - this.windowStart >= WINDOW_MS) {
      this.previousMin = this.windowMin;
      this.windowMin = Infinity;
      this.windowStart = this.media;
    }
    this.windowMin = Math.min(this.windowMin, arrivalOffset);
    const target = this.report ? this.report.wall - this.report.media : Math.min(this.windowMin, this.previousMin);
    const elapsed = this.media - before;
    if (Math.abs(target - this.offset) > this.resyncMs || elapsed < -this.resyncMs) {
      // A discontinuity (camera restarted its clock, or a long stall): start again from here, never backwards.
      this.resyncs++;
      this.log(`timestamps re-anchored: the stream was ${((target - this.offset) / 1000).toFixed(1)} s from its clock`);
      this.offset = arrivalOffset;
      this.windowMin = arrivalOffset;
      this.previousMin = Infinity;
      this.windowStart = this.media;
      this.report = undefined;
    } else {
      const step = Math.max(0, elapsed) * this.maxSlew;
      this.offset += Math.max(-step, Math.min(step, target - this.offset));
    }
    return this.emit(this.media + this.offset);
  }

  /** Whole milliseconds (the on-disk unit), never below the last one. */
  private emit(t: number): number {
    this.last = Math.max(this.last, Math.round(t));
    return this.last;
  }

  /** Media time of an RTP timestamp near the last one (32-bit wrap handled by the signed difference). */
  private mediaOf(rtp: number): number {
    const diff = ((rtp - this.lastRtp) << 0) | 0;
    return this.media + diff * this.msPerTick;
  }
}
