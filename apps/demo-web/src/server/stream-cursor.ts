/**
 * Walking one camera's frames through the block ring: the group of pictures at an instant (for a seek or a
 * step), frames forward from an instant (play), and whole GOPs backward (reverse). Blocks come from the
 * catalog's shared cache; the block to start from is found in O(log n) from the block table.
 */
import type { ParsedFrame } from '@valkka/fs';
import { getIndNeigh, isKeyFrame } from '@valkka/fs';
import type { Camera, Catalog } from './catalog.js';

/** Blocks read at most for one lookup (a stream of a MultiFS may be absent from many blocks). */
const MAX_BLOCKS_PER_LOOKUP = 8;

/** The block to start reading from to reach instant t: the one with the stream's key frame at or before t. */
async function startBlock(camera: Camera, t: number): Promise<number | undefined> {
  const fs = camera.fs;
  const b = fs.variant === 'single' ? fs.blockAt(t) : await fs.keyBlockFor(camera.streamId, t);
  return b ?? fs.blockTable.timeOrder()[0];
}

/** The block after `index` in time order (O(log n) through the table's index). */
export function nextBlock(camera: Camera, index: number): number | undefined {
  const table = camera.fs.blockTable;
  if (!table.isUsed(index)) return undefined;
  // Two blocks either side of its mstime1: the block itself and its successor, even with a tie or two.
  const around = getIndNeigh(table, 2, table.mstime1(index));
  const at = around.indexOf(index);
  return at >= 0 ? around[at + 1] : undefined;
}

export interface Gop {
  /** From the last key frame at or before t up to the last frame at or before t (empty: nothing decodable). */
  frames: ParsedFrame[];
  /** The first frame after t, when the blocks read show one. */
  next: ParsedFrame | undefined;
}

/** The frames to decode to show instant t exactly. */
export async function gopAt(catalog: Catalog, camera: Camera, t: number): Promise<Gop> {
  let block = await startBlock(camera, t);
  let frames: ParsedFrame[] = [];
  for (let n = 0; block !== undefined && n < MAX_BLOCKS_PER_LOOKUP; n++, block = nextBlock(camera, block)) {
    for (const f of await catalog.framesOf(camera, block)) {
      if (f.timestamp > t) return { frames, next: f };
      if (isKeyFrame(f)) frames = [f];
      else if (frames.length > 0) frames.push(f);
    }
  }
  return { frames, next: undefined };
}

/** Frames of one camera in time order, from an instant on; the open block is re-read as it grows. */
export class ForwardCursor {
  private block: number | undefined;
  private frames: ParsedFrame[] = [];
  private i = 0;
  /** Timestamp of the last frame taken: the cursor continues after it. */
  private last: number;
  private started = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly camera: Camera,
    after: number,
  ) {
    this.last = after;
  }

  /** Go on from the key frame at or before t (a client fell behind: skip to where the clock is). */
  restartAt(key: ParsedFrame): void {
    this.last = key.timestamp - 0.5;
    this.started = false;
  }

  /** The next frame (key frames only when `keyOnly`), without taking it; undefined when none is recorded yet. */
  async peek(keyOnly: boolean): Promise<ParsedFrame | undefined> {
    if (!this.started) {
      this.block = await startBlock(this.camera, this.last);
      this.frames = [];
      this.i = 0;
      this.started = true;
      if (this.block !== undefined) await this.load(this.block);
    }
    for (let hops = 0; this.block !== undefined && hops < MAX_BLOCKS_PER_LOOKUP; hops++) {
      while (this.i < this.frames.length) {
        const f = this.frames[this.i]!;
        if (f.timestamp > this.last && (!keyOnly || isKeyFrame(f))) return f;
        this.i++;
      }
      // The end of what this block holds: an open block may have grown, a sealed one leads to the next.
      if (!this.catalog.isSealed(this.camera, this.block)) {
        await this.load(this.block);
        if (this.i < this.frames.length) continue;
      }
      const next = nextBlock(this.camera, this.block);
      if (next === undefined) return undefined;
      this.block = next;
      await this.load(next);
    }
    return undefined;
  }

  take(f: ParsedFrame): void {
    this.last = f.timestamp;
    this.i++;
  }

  private async load(block: number): Promise<void> {
    this.frames = await this.catalog.framesOf(this.camera, block).catch(() => []);
    this.i = 0;
  }
}

/** Whole GOPs of one camera going back in time, each in decode order. */
export class ReverseCursor {
  /** Frames before this instant are still to be sent. */
  private end: number;

  constructor(
    private readonly catalog: Catalog,
    private readonly camera: Camera,
    from: number,
  ) {
    this.end = from + 0.5;
  }

  /** The GOP before the current point, without moving; undefined when the recording starts here. */
  async peek(): Promise<ParsedFrame[] | undefined> {
    const { frames } = await gopAt(this.catalog, this.camera, this.end - 0.5);
    const gop = frames.filter((f) => f.timestamp < this.end);
    return gop.length > 0 ? gop : undefined;
  }

  take(gop: ParsedFrame[]): void {
    this.end = gop[0]!.timestamp;
  }
}
