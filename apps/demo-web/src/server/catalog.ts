/**
 * The filesystems a server plays, opened read-only (a recorder in this process or another one writes them),
 * and the cameras they hold: one camera per (filesystem, stream id). Follows the writers (refresh) and keeps
 * a small shared cache of parsed blocks, bounded in bytes, for every session and HTTP request.
 */
import { basename } from 'node:path';
import {
  Codec,
  type Frame,
  type ParsedFrame,
  type ValkkaMultiFS,
  type ValkkaSingleFS,
  classifyAccessUnit,
  isKeyFrame,
  loadValkkaFS,
  parseH264Sps,
  parseH265Sps,
} from '@valkka/fs';
import { CODEC_H264, CODEC_H265, CODEC_OTHER, type CameraInfo, type WireFrame } from '../protocol.js';

export type AnyFS = ValkkaSingleFS | ValkkaMultiFS;

export interface Camera {
  id: number;
  name: string;
  fs: AnyFS;
  fsIndex: number;
  streamId: number;
  codec: CameraInfo['codec'];
}

interface CachedBlock {
  seq: number;
  sealed: boolean;
  frames: ParsedFrame[];
  bytes: number;
  readAt: number;
}

/** Windows of at most this many blocks get ranges from their frames, exact to the frame. */
const EXACT_RANGE_BLOCKS = 48;
/** An open block is read again when the cached copy is older than this (the writer flushes every second). */
const OPEN_BLOCK_TTL_MS = 250;

export class Catalog {
  readonly cameras: Camera[] = [];
  private readonly blocks = new Map<string, CachedBlock>();
  private cachedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  /** Directories a recorder of this process writes (shown as recording). */
  readonly recordingDirs = new Set<string>();

  private constructor(
    readonly filesystems: AnyFS[],
    private readonly cacheBudget: number,
  ) {}

  static async open(dirs: readonly string[], options: { cacheBytes?: number } = {}): Promise<Catalog> {
    const filesystems: AnyFS[] = [];
    try {
      for (const dir of dirs) filesystems.push(await loadValkkaFS(dir, { readOnly: true }));
    } catch (err) {
      await Promise.all(filesystems.map((fs) => fs.close()));
      throw err;
    }
    const catalog = new Catalog(filesystems, options.cacheBytes ?? 128 << 20);
    await catalog.discover();
    return catalog;
  }

  /** Follows the writers every `everyMs`; calls `onChange` listeners when the camera list grows. */
  follow(everyMs = 1000): void {
    const tick = async (): Promise<void> => {
      try {
        await this.refresh();
      } finally {
        if (this.timer) this.timer = setTimeout(() => void tick(), everyMs);
      }
    };
    this.timer = setTimeout(() => void tick(), everyMs);
  }

  onCamerasChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async refresh(): Promise<void> {
    for (const fs of this.filesystems) await fs.refresh().catch(() => undefined);
    const before = this.cameras.length;
    await this.discover();
    if (this.cameras.length !== before) for (const l of this.listeners) l();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.filesystems.map((fs) => fs.close()));
  }

  camera(id: number): Camera | undefined {
    return this.cameras[id];
  }

  info(camera: Camera): CameraInfo {
    return {
      id: camera.id,
      name: camera.name,
      fs: camera.fs.dirname,
      streamId: camera.streamId,
      codec: camera.codec,
      timeRange: camera.fs.getTimeRange() ?? null,
      recording: this.recordingDirs.has(camera.fs.dirname),
    };
  }

  /** New streams become cameras, numbered in the order they are found. */
  private async discover(): Promise<void> {
    for (const [fsIndex, fs] of this.filesystems.entries()) {
      const ids = fs.variant === 'single' ? (fs.streamId === undefined ? [] : [fs.streamId]) : [...(await fs.recordedRanges()).keys()];
      for (const streamId of ids) {
        if (this.cameras.some((c) => c.fsIndex === fsIndex && c.streamId === streamId)) continue;
        const name = fs.variant === 'single' ? basename(fs.dirname) : `${basename(fs.dirname)}/${streamId}`;
        const camera: Camera = { id: this.cameras.length, name, fs, fsIndex, streamId, codec: null };
        this.cameras.push(camera);
      }
    }
    for (const camera of this.cameras) if (camera.codec === null) camera.codec = await this.codecOf(camera);
  }

  private async codecOf(camera: Camera): Promise<CameraInfo['codec']> {
    const newest = camera.fs.blockTable.timeOrder().at(-1);
    if (newest === undefined) return null;
    const frames = await this.framesOf(camera, newest).catch(() => []);
    const codec = frames[0]?.codec;
    if (codec === undefined) return null;
    return codec === Codec.h264 ? 'h264' : codec === Codec.h265 ? 'h265' : 'other';
  }

  /**
   * Recorded ranges of a camera within [from, to]: from its frames when the window covers at most
   * EXACT_RANGE_BLOCKS blocks (a hole inside a block shows), otherwise from the block summaries (a
   * hole shorter than a block may not show at that zoom).
   */
  async rangesOf(camera: Camera, from: number, to: number, maxGapMs: number): Promise<Array<[number, number]>> {
    const blocks = camera.fs.getInd([from, to]);
    if (blocks.length > EXACT_RANGE_BLOCKS) {
      return (await camera.fs.recordedRanges(camera.streamId, { maxGapMs, within: [from, to] })).get(camera.streamId) ?? [];
    }
    const ranges: Array<[number, number]> = [];
    for (const block of blocks) {
      for (const f of await this.framesOf(camera, block).catch(() => [])) {
        const last = ranges.at(-1);
        if (last && f.timestamp >= last[0] && f.timestamp - last[1] <= maxGapMs) last[1] = Math.max(last[1], f.timestamp);
        else ranges.push([f.timestamp, f.timestamp]);
      }
    }
    return ranges;
  }

  /** The frames of `camera` in block `index` (parsed once, shared, bounded by the cache budget). */
  async framesOf(camera: Camera, index: number): Promise<ParsedFrame[]> {
    const block = await this.block(camera.fsIndex, index);
    return block.frames.filter((f) => f.streamId === camera.streamId && f.subsession === 0);
  }

  /** True when the cached copy of a block is the sealed block as it is now (no re-read needed). */
  isSealed(camera: Camera, index: number): boolean {
    return this.blocks.get(`${camera.fsIndex}:${index}`)?.sealed ?? false;
  }

  private async block(fsIndex: number, index: number): Promise<CachedBlock> {
    const key = `${fsIndex}:${index}`;
    const fs = this.filesystems[fsIndex]!;
    const hit = this.blocks.get(key);
    if (hit && (hit.sealed || performance.now() - hit.readAt < OPEN_BLOCK_TTL_MS)) {
      // Least recently used goes first: re-insert at the end.
      this.blocks.delete(key);
      this.blocks.set(key, hit);
      return hit;
    }
    const c = await fs.readBlock(index);
    const bytes = c.frames.reduce((n, f) => n + f.payload.length, 0);
    const entry: CachedBlock = { seq: c.seq, sealed: c.sealed, frames: c.frames, bytes, readAt: performance.now() };
    if (hit) this.forget(key, hit);
    this.blocks.set(key, entry);
    this.cachedBytes += bytes;
    for (const [k, v] of this.blocks) {
      if (this.cachedBytes <= this.cacheBudget || k === key) break;
      this.forget(k, v);
    }
    return entry;
  }

  private forget(key: string, entry: CachedBlock): void {
    this.blocks.delete(key);
    this.cachedBytes -= entry.bytes;
  }

  get cacheStats(): { blocks: number; bytes: number; budget: number } {
    return { blocks: this.blocks.size, bytes: this.cachedBytes, budget: this.cacheBudget };
  }
}

/** A stored frame as a wire frame (codec configuration parsed from its parameter sets when it has them). */
/** What the wire needs of a frame: on-disk (ParsedFrame) or played by the manager (SlotFrame). */
type WireSource = Pick<Frame, 'codec' | 'flags' | 'timestamp' | 'payload'>;

export function toWire(camera: number, generation: number, f: WireSource, extraFlags: number): WireFrame {
  const codec = f.codec === Codec.h264 ? CODEC_H264 : f.codec === Codec.h265 ? CODEC_H265 : CODEC_OTHER;
  return { camera, generation, timestamp: f.timestamp, flags: (isKeyFrame(f) ? 1 : 0) | extraFlags, codec, config: configOf(f), payload: f.payload };
}

function configOf(f: WireSource): WireFrame['config'] {
  if (!isKeyFrame(f) || (f.codec !== Codec.h264 && f.codec !== Codec.h265)) return undefined;
  const { configNals } = classifyAccessUnit(f.codec, f.payload);
  const spsType = f.codec === Codec.h264 ? 7 : 33;
  for (const nal of configNals) {
    const type = f.codec === Codec.h264 ? (nal[0] ?? 0) & 0x1f : ((nal[0] ?? 0) >> 1) & 0x3f;
    if (type !== spsType) continue;
    try {
      const sps = f.codec === Codec.h264 ? parseH264Sps(nal) : parseH265Sps(nal);
      return { codecString: sps.codecString, width: sps.width, height: sps.height };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
