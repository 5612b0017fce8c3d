/**
 * One camera tile: a WebCodecs decoder feeding a buffer of decoded pictures, and a canvas that shows, at
 * each animation frame, the picture due at the shared clock's instant (the newest one at or before it).
 * A tile in a hole says NO DATA; a codec the browser cannot decode is said in words.
 */
import { CODEC_H264, CODEC_H265, FRAME_KEY, FRAME_PREROLL, HOLE_MS, type WireFrame } from '../protocol.js';

/** Decoded pictures kept per tile at most (a reverse GOP needs them all; forward needs a few). */
const MAX_BUFFERED = 150;
/** Chunks waiting in the decoder above which delta frames are skipped until the next key frame. */
const MAX_DECODE_QUEUE = 48;

const support = new Map<string, Promise<boolean>>();
function supported(codec: string): Promise<boolean> {
  let known = support.get(codec);
  if (!known) {
    known = typeof VideoDecoder === 'undefined' ? Promise.resolve(false) : VideoDecoder.isConfigSupported({ codec }).then((r) => r.supported === true, () => false);
    support.set(codec, known);
  }
  return known;
}

/** What a fleet camera's badge says (none for a local camera). */
export type BadgeKind = 'archive' | 'offline' | 'offline-archive';

export interface TileState {
  camera: number;
  name: string;
  /** Timestamp of the picture on the canvas, undefined when none. */
  shownTs: number | undefined;
  noData: boolean;
  message: string | undefined;
  decoded: number;
  painted: number;
  times: { received: number; decoded: number; drawn: number };
}

export class Tile {
  readonly el: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly overlay: HTMLDivElement;
  private readonly stamp: HTMLSpanElement;
  private readonly badge: HTMLSpanElement;
  private decoder: VideoDecoder | undefined;
  private codecString: string | undefined;
  private generation = -1;
  private waitingForKey = true;
  private buffer: VideoFrame[] = [];
  private preroll = new Set<number>();
  /** The last frame decoded was a preroll frame: the next one is the seek's target. */
  private afterPreroll = false;
  /** Timestamps (µs) sent to the decoder for the current request, not yet out of it. */
  private readonly wanted = new Set<number>();
  private shownTs: number | undefined;
  /** Generation of the picture on the canvas: a new request redraws even the same instant. */
  private shownGeneration = -1;
  /** The server found nothing to show at the last seek. */
  private seekNoData = false;
  private message: string | undefined;
  private decoded = 0;
  private painted = 0;
  /** performance.now() of the last frame received, decoded and drawn (for the benchmark's breakdown). */
  private times = { received: 0, decoded: 0, drawn: 0 };

  constructor(
    readonly camera: number,
    readonly name: string,
    onMaximize: () => void,
    /** The shared clock: stream time now and the rate. */
    private readonly clock: () => { now: number; rate: number },
  ) {
    this.el = document.createElement('div');
    this.el.className = 'tile';
    this.el.dataset.camera = String(camera);
    this.canvas = document.createElement('canvas');
    this.canvas.width = 320;
    this.canvas.height = 180;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
    this.overlay = document.createElement('div');
    this.overlay.className = 'overlay';
    const label = document.createElement('div');
    label.className = 'label';
    const title = document.createElement('span');
    title.className = 'name';
    title.textContent = name;
    this.stamp = document.createElement('span');
    this.stamp.className = 'stamp';
    label.append(title, this.stamp);
    const max = document.createElement('button');
    max.className = 'maximize';
    max.title = 'Maximize (double-click)';
    max.textContent = '⤢';
    max.addEventListener('click', onMaximize);
    this.el.addEventListener('dblclick', onMaximize);
    this.badge = document.createElement('span');
    this.badge.className = 'badge';
    this.badge.hidden = true;
    this.el.append(this.canvas, this.overlay, label, this.badge, max);
    this.setOverlay('WAITING', 'wait');
  }

  /**
   * A fleet camera's badge in the corner: ARCHIVE (an archive camera), OFFLINE (its node is down, nothing archived
   * to play instead) or OFFLINE · ARCHIVE (its node is down: it plays from the fleet archive).
   */
  setBadge(kind: BadgeKind | undefined): void {
    this.badge.hidden = kind === undefined;
    this.badge.dataset.kind = kind ?? '';
    this.badge.textContent = kind === undefined ? '' : kind === 'offline-archive' ? 'OFFLINE · ARCHIVE' : kind.toUpperCase();
  }

  /** A seek answer: what the server shows at the target (null = a hole). */
  seeked(generation: number, timestamp: number | null): void {
    this.reset(generation);
    this.seekNoData = timestamp === null;
  }

  /** A new session (after a reconnect): its generations start again from 0. */
  newSession(): void {
    this.generation = -1;
    this.reset(0);
  }

  /** A new playback request (seek, reverse, live): pictures of older ones are no longer wanted. */
  reset(generation: number): void {
    if (generation <= this.generation) return;
    this.generation = generation;
    this.clearBuffer();
    this.preroll.clear();
    this.afterPreroll = false;
    this.waitingForKey = true;
    this.seekNoData = false;
    // The decoder is kept (configuring it again costs tens of ms per tile): the new request starts at a key
    // frame, and pictures still coming out for the old one are recognised by `wanted` and dropped. Only a long
    // backlog of the old request (a fast scrub) is thrown away, and the decoder configured again.
    this.wanted.clear();
    if (this.decoder?.state === 'configured' && this.decoder.decodeQueueSize > 4) {
      this.decoder.reset();
      this.codecString = undefined;
    }
  }

  frame(f: WireFrame): void {
    this.times.received = performance.now();
    if (f.generation < this.generation) return;
    if (f.generation > this.generation) this.reset(f.generation);
    const key = (f.flags & FRAME_KEY) !== 0;
    if (f.config && f.config.codecString !== this.codecString) this.configure(f.codec, f.config.codecString);
    if (this.message !== undefined && this.decoder === undefined) return; // cannot decode: said in words
    if (!this.decoder || this.decoder.state !== 'configured') return;
    if (this.waitingForKey && !key) return;
    const preroll = (f.flags & FRAME_PREROLL) !== 0;
    // A seek burst (preroll frames, then the target right after them) is decoded whole, however long its GOP:
    // skipping any of it loses the target. Only played frames are skipped when the decoder falls behind.
    const ofBurst = preroll || this.afterPreroll;
    if (!key && !ofBurst && this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      this.waitingForKey = true; // the decoder cannot keep up: skip to the next key frame
      return;
    }
    this.waitingForKey = false;
    this.afterPreroll = preroll;
    if (preroll) this.preroll.add(f.timestamp);
    const us = Math.round(f.timestamp * 1000);
    this.wanted.add(us);
    this.decoder.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: us, data: f.payload }));
  }

  private configure(codec: number, codecString: string): void {
    this.codecString = codecString;
    const name = codec === CODEC_H265 ? 'H.265' : codec === CODEC_H264 ? 'H.264' : 'this codec';
    void supported(codecString).then((ok) => {
      if (!ok) this.unsupported(`${name} (${codecString}): this browser cannot decode it`);
    });
    if (!this.decoder || this.decoder.state === 'closed') {
      if (typeof VideoDecoder === 'undefined') {
        this.unsupported('this browser has no WebCodecs video decoder');
        return;
      }
      this.decoder = new VideoDecoder({
        output: (picture) => this.output(picture),
        error: (err) => {
          // Say why in words: a codec this browser has no decoder for, or a decode that failed.
          this.unsupported(`${name}: decoding failed (${err.message})`);
          void supported(codecString).then((ok) => ok || this.unsupported(`${name} (${codecString}): this browser cannot decode it`));
        },
      });
    }
    try {
      this.decoder.configure({ codec: codecString, optimizeForLatency: true });
      this.message = undefined;
    } catch (err) {
      this.unsupported(`${name} (${codecString}): ${(err as Error).message}`);
    }
  }

  private unsupported(message: string): void {
    this.message = message;
    this.decoder = undefined;
    this.clearBuffer();
  }

  private output(picture: VideoFrame): void {
    this.decoded++;
    this.times.decoded = performance.now();
    const ts = picture.timestamp / 1000;
    if (!this.wanted.delete(picture.timestamp) || this.preroll.delete(ts)) {
      picture.close();
      return;
    }
    // Keep the buffer in time order (reverse play delivers GOPs backwards).
    let i = this.buffer.length;
    while (i > 0 && this.buffer[i - 1]!.timestamp > picture.timestamp) i--;
    this.buffer.splice(i, 0, picture);
    while (this.buffer.length > MAX_BUFFERED) this.buffer.shift()!.close();
    // Stopped (a seek or a step): show the target as soon as it is decoded, not at the next animation frame.
    const { now, rate } = this.clock();
    if (rate === 0) this.present(now, 0);
  }

  /** Shows the picture due at `now`; pictures passed for good are released. */
  present(now: number, rate: number): void {
    const nowUs = now * 1000;
    let due = -1;
    for (let i = 0; i < this.buffer.length && this.buffer[i]!.timestamp <= nowUs + 0.5; i++) due = i;
    if (due >= 0) {
      const picture = this.buffer[due]!;
      if (picture.timestamp / 1000 !== this.shownTs || this.shownGeneration !== this.generation) this.draw(picture);
      // Forward: everything older is done. Reverse: everything newer is done. Stopped: keep both sides for a step.
      if (rate > 0) this.buffer.splice(0, due).forEach((p) => p.close());
      else if (rate < 0) this.buffer.splice(due + 1).forEach((p) => p.close());
    }
    const noData = this.message === undefined && (this.shownTs === undefined || Math.abs(now - this.shownTs) > HOLE_MS || (this.seekNoData && due < 0));
    if (this.seekNoData && due < 0 && this.shownGeneration !== this.generation) {
      // Sought into a hole: an older picture would mislead.
      this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      this.shownGeneration = this.generation;
      this.stamp.textContent = '';
    }
    // Nothing of this request drawn yet while its pictures are still in the decoder: on their way, not missing.
    const decoding = !this.seekNoData && this.shownGeneration !== this.generation && this.wanted.size > 0;
    const waiting = (this.shownTs === undefined && !this.seekNoData && this.generation < 0) || decoding;
    if (this.message !== undefined) this.setOverlay(this.message, 'codec');
    else if (noData) this.setOverlay(waiting ? 'WAITING' : 'NO DATA', 'nodata');
    else this.setOverlay('', '');
    this.el.classList.toggle('dim', noData || this.message !== undefined);
  }

  private draw(picture: VideoFrame): void {
    if (this.canvas.width !== picture.displayWidth || this.canvas.height !== picture.displayHeight) {
      this.canvas.width = picture.displayWidth;
      this.canvas.height = picture.displayHeight;
    }
    this.ctx.drawImage(picture, 0, 0);
    this.shownTs = picture.timestamp / 1000;
    this.shownGeneration = this.generation;
    this.seekNoData = false;
    this.painted++;
    this.times.drawn = performance.now();
    this.stamp.textContent = new Date(this.shownTs).toISOString().slice(11, 23);
  }

  private setOverlay(text: string, kind: string): void {
    if (this.overlay.textContent !== text) this.overlay.textContent = text;
    if (this.overlay.dataset.kind !== kind) this.overlay.dataset.kind = kind;
  }

  private clearBuffer(): void {
    for (const p of this.buffer) p.close();
    this.buffer = [];
  }

  state(): TileState {
    const noData = this.overlay.dataset.kind === 'nodata';
    return { camera: this.camera, name: this.name, shownTs: this.shownTs, noData, message: this.message, decoded: this.decoded, painted: this.painted, times: { ...this.times } };
  }

  destroy(): void {
    this.clearBuffer();
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.el.remove();
  }
}
