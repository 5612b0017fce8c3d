/**
 * One camera's group of pictures at an instant, read through the block ring (the still API's thumbnails;
 * playback goes through the session's ValkkaFSManager). Blocks come from the catalog's shared cache; the
 * block to start from is found in O(log n) from the block table.
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
