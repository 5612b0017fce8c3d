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

/** Where a camera's blocks come from: this node's own filesystem, a remote node's (through a mirror), or the archive. */
export type CameraSource = CameraInfo['source'];

export interface Camera {
  id: number;
  name: string;
  /** The filesystem it plays from now: `home`, or the archive mirror of `home` while a remote camera's node is offline. */
  fs: AnyFS;
  /** The filesystem it belongs to (a remote camera's: the mirror of its node's filesystem). */
  home: AnyFS;
  /** Index in `catalog.filesystems` (the local ones); -1 for a fleet camera (a mirror directory). */
  fsIndex: number;
  streamId: number;
  codec: CameraInfo['codec'];
  source: CameraSource;
  /** The fleet node that records it (undefined outside a fleet). */
  node: string | undefined;
}

/** What the fleet watcher tells the catalog about a mirror directory it adds (see fleet.ts). */
export interface MirrorInfo {
  node: string;
  source: 'remote' | 'archive';
  /** Its streams as the origin announced them (names, codecs), instead of reading blocks to find them. */
  streams: Array<{ streamId: number; name: string; codec: CameraInfo['codec'] }>;
  /** Recorded ranges of a stream as the fleet knows them (the origin's, or the archived blocks'), for the timeline. */
  ranges(streamId: number): Array<[number, number]>;
}

interface Mirror {
  fs: AnyFS;
  info: MirrorInfo;
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
  /** Cameras by number; a number is never reused (a camera whose filesystem goes away leaves its number behind). */
  private readonly byId = new Map<number, Camera>();
  /** Numbers of cameras ever seen, by what they are (node, source, filesystem id, stream): a mirror added again gets its old number. */
  private readonly numbers = new Map<string, number>();
  private nextId = 0;
  private list: Camera[] = [];
  private readonly mirrors = new Map<string, Mirror>();
  private readonly fsKeys = new WeakMap<AnyFS, number>();
  private nextFsKey = 0;
  private readonly blocks = new Map<string, CachedBlock>();
  private cachedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  /** Directories a recorder of this process writes (shown as recording). */
  readonly recordingDirs = new Set<string>();
  /** This node's name in a fleet; undefined alone. */
  private node: string | undefined;
  /** Fleet nodes currently offline (their cameras say so). */
  readonly offlineNodes = new Set<string>();

  private constructor(
    /** The local filesystems (the directories given), in order; fleet mirrors are not among them. */
    readonly filesystems: AnyFS[],
    private readonly cacheBudget: number,
  ) {}

  static async open(dirs: readonly string[], options: { cacheBytes?: number; node?: string | undefined } = {}): Promise<Catalog> {
    const filesystems: AnyFS[] = [];
    try {
      for (const dir of dirs) filesystems.push(await loadValkkaFS(dir, { readOnly: true }));
    } catch (err) {
      await Promise.all(filesystems.map((fs) => fs.close()));
      throw err;
    }
    const catalog = new Catalog(filesystems, options.cacheBytes ?? 128 << 20);
    catalog.node = options.node;
    await catalog.discover();
    return catalog;
  }

  /** Every camera, in the order they were found. */
  get cameras(): readonly Camera[] {
    return this.list;
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

  /** Tells the listeners the camera list (or a camera's state, e.g. its node going offline) changed. */
  changed(): void {
    for (const l of this.listeners) l();
  }

  async refresh(): Promise<void> {
    for (const fs of this.allFilesystems()) await fs.refresh().catch(() => undefined);
    const before = this.list.length;
    await this.discover();
    if (this.list.length !== before) this.changed();
  }

  /**
   * Adds a mirror directory of the fleet (read-only; its blocks come through its mirror device). Its cameras are
   * the streams `info` names. Replaces a mirror already at `dir` (a new geometry: the handle is opened again).
   */
  async addFilesystem(dir: string, info: MirrorInfo): Promise<void> {
    const fs = await loadValkkaFS(dir, { readOnly: true });
    const old = this.mirrors.get(dir);
    if (old) await this.dropMirror(dir, old);
    this.mirrors.set(dir, { fs, info });
    this.addCameras(fs, -1, info.source, info.node, info.streams);
    this.reroute();
    this.changed();
  }

  /** Removes a mirror directory and its cameras (their numbers stay reserved for when it comes back). */
  async removeFilesystem(dir: string): Promise<void> {
    const mirror = this.mirrors.get(dir);
    if (!mirror) return;
    await this.dropMirror(dir, mirror);
    this.changed();
  }

  /**
   * Says which fleet nodes are offline. A camera of an offline node plays from the archive mirror of its
   * filesystem (same number and name) when there is one, and from its node again once the node is back.
   */
  setOffline(nodes: Iterable<string>): void {
    const next = [...new Set(nodes)].sort();
    const same = next.join() === [...this.offlineNodes].sort().join();
    this.offlineNodes.clear();
    for (const n of next) this.offlineNodes.add(n);
    if (this.reroute() || !same) this.changed();
  }

  /** Points every remote camera at the filesystem it should play from now; true when one switched. */
  private reroute(): boolean {
    let switched = false;
    for (const c of this.list) {
      if (c.source !== 'remote') continue;
      const offline = c.node !== undefined && this.offlineNodes.has(c.node);
      const fs = (offline ? this.archiveOf(c.home.fsId, c.streamId) : undefined) ?? c.home;
      if (c.fs !== fs) {
        c.fs = fs;
        switched = true;
      }
    }
    return switched;
  }

  /** The archive mirror holding stream `streamId` of filesystem `fsId`, if one was added. */
  private archiveOf(fsId: string, streamId: number): AnyFS | undefined {
    for (const m of this.mirrors.values()) {
      if (m.info.source === 'archive' && m.fs.fsId === fsId && m.info.streams.some((s) => s.streamId === streamId)) return m.fs;
    }
    return undefined;
  }

  /** The mirror added at `dir`, if any. */
  mirror(dir: string): { fs: AnyFS; info: MirrorInfo } | undefined {
    return this.mirrors.get(dir);
  }

  private async dropMirror(dir: string, mirror: Mirror): Promise<void> {
    this.mirrors.delete(dir);
    for (const c of this.list) if (c.home === mirror.fs) this.byId.delete(c.id);
    this.list = this.list.filter((c) => c.home !== mirror.fs);
    // Cameras that were playing this mirror as their archive go back to their own filesystem.
    this.reroute();
    for (const [key, entry] of this.blocks) if (key.startsWith(`${this.fsKey(mirror.fs)}:`)) this.forget(key, entry);
    await mirror.fs.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.allFilesystems().map((fs) => fs.close()));
    this.mirrors.clear();
  }

  private allFilesystems(): AnyFS[] {
    return [...this.filesystems, ...[...this.mirrors.values()].map((m) => m.fs)];
  }

  camera(id: number): Camera | undefined {
    return this.byId.get(id);
  }

  info(camera: Camera): CameraInfo {
    const online = camera.node === undefined || camera.source === 'archive' || !this.offlineNodes.has(camera.node);
    return {
      id: camera.id,
      name: camera.name,
      fs: camera.fs.dirname,
      streamId: camera.streamId,
      codec: camera.codec,
      timeRange: camera.fs.getTimeRange() ?? null,
      recording: camera.source === 'local' ? this.recordingDirs.has(camera.fs.dirname) : camera.source === 'remote' && online,
      source: camera.source,
      node: camera.node ?? null,
      online,
      fromArchive: camera.fs !== camera.home,
    };
  }

  /** New streams of the local filesystems become cameras, numbered in the order they are found. */
  private async discover(): Promise<void> {
    for (const [fsIndex, fs] of this.filesystems.entries()) {
      const ids = fs.variant === 'single' ? (fs.streamId === undefined ? [] : [fs.streamId]) : [...(await fs.recordedRanges()).keys()];
      const name = (streamId: number): string => (fs.variant === 'single' ? basename(fs.dirname) : `${basename(fs.dirname)}/${streamId}`);
      this.addCameras(fs, fsIndex, 'local', this.node, ids.map((streamId) => ({ streamId, name: name(streamId), codec: null })));
    }
    for (const camera of this.list) if (camera.codec === null) camera.codec = await this.codecOf(camera);
  }

  private addCameras(fs: AnyFS, fsIndex: number, source: CameraSource, node: string | undefined, streams: MirrorInfo['streams']): void {
    for (const s of streams) {
      if (this.list.some((c) => c.home === fs && c.streamId === s.streamId)) continue;
      // A local filesystem has no fs id before its first block is read elsewhere: its directory names it then.
      const key = `${node ?? ''}|${source}|${source === 'local' ? fs.dirname : fs.fsId}|${s.streamId}`;
      let id = this.numbers.get(key);
      if (id === undefined) this.numbers.set(key, (id = this.nextId++));
      const camera: Camera = { id, name: s.name, fs, home: fs, fsIndex, streamId: s.streamId, codec: s.codec, source, node };
      this.byId.set(id, camera);
      this.list.push(camera);
    }
    this.list.sort((a, b) => a.id - b.id);
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
   * hole shorter than a block may not show at that zoom). A fleet camera's come from the fleet catalog
   * (no blocks fetched across the network for the timeline).
   */
  async rangesOf(camera: Camera, from: number, to: number, maxGapMs: number): Promise<Array<[number, number]>> {
    const mirror = camera.source === 'local' ? undefined : [...this.mirrors.values()].find((m) => m.fs === camera.fs);
    if (mirror) return joinRanges(mirror.info.ranges(camera.streamId).filter(([a, b]) => b >= from && a <= to), maxGapMs);
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
    const block = await this.block(camera.fs, index);
    return block.frames.filter((f) => f.streamId === camera.streamId && f.subsession === 0);
  }

  /** True when the cached copy of a block is the sealed block as it is now (no re-read needed). */
  isSealed(camera: Camera, index: number): boolean {
    return this.blocks.get(`${this.fsKey(camera.fs)}:${index}`)?.sealed ?? false;
  }

  private async block(fs: AnyFS, index: number): Promise<CachedBlock> {
    const key = `${this.fsKey(fs)}:${index}`;
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

  /** A number per filesystem handle for the cache's keys (mirrors come and go). */
  private fsKey(fs: AnyFS): number {
    let key = this.fsKeys.get(fs);
    if (key === undefined) this.fsKeys.set(fs, (key = this.nextFsKey++));
    return key;
  }

  private forget(key: string, entry: CachedBlock): void {
    this.blocks.delete(key);
    this.cachedBytes -= entry.bytes;
  }

  get cacheStats(): { blocks: number; bytes: number; budget: number } {
    return { blocks: this.blocks.size, bytes: this.cachedBytes, budget: this.cacheBudget };
  }
}

/** Ranges sorted by start with gaps up to maxGap joined. */
export function joinRanges(ranges: Array<[number, number]>, maxGap: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last && a - last[1] <= maxGap) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

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
