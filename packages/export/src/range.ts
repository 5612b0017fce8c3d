/**
 * One stream's frames over a time range, read block by block through @valkka/fs: the plan (which
 * blocks, checked against the recording) and the frames in stream order. Memory is two blocks (one
 * read ahead); a block the recording overwrote before or while it was read stops the export with the
 * instant that was lost, never a silent hole.
 */
import { BlockExpiredError, BlockHeaderError, MediaType, type ValkkaFS, ValkkaMultiFS, isKeyFrame } from '@valkka/fs';

import { ExportError, describeTime } from './errors.js';

export interface RangeRequest {
  /** First instant, ms since the epoch (inclusive). */
  from: number;
  /** Last instant, ms since the epoch (inclusive). */
  to: number;
  /** The stream id; default: the stream of a ValkkaSingleFS. */
  streamId?: number;
}

export interface PlannedBlock {
  block: number;
  /** The block's mstime1 when the export was planned: a change means it was reused. */
  mstime1: number;
}

export interface RangePlan {
  streamId: number;
  from: number;
  to: number;
  /** Blocks to read, in time order: from the one with the key frame at or before `from`. */
  blocks: PlannedBlock[];
}

/** A frame of the stream as the export needs it. */
export interface RangeFrame {
  timestamp: number;
  key: boolean;
  codec: number;
  payload: Uint8Array;
}

/** Checks the request against the filesystem and lists the blocks to read. */
export async function planRange(fs: ValkkaFS, request: RangeRequest): Promise<RangePlan> {
  const { from, to } = request;
  for (const [what, t] of [['from', from], ['to', to]] as const) {
    if (!Number.isSafeInteger(t) || t < 0) throw new ExportError('EARGUMENT', `${what} must be a whole number of ms since the epoch, got ${t}`);
  }
  if (from > to) throw new ExportError('EARGUMENT', `the range is empty: from ${describeTime(from)} is after to ${describeTime(to)}`);
  const streamId = await resolveStream(fs, request.streamId);
  await fs.refresh();
  const range = fs.getTimeRange();
  if (!range) throw new ExportError('ERANGE', `${fs.dirname} holds no recording`);
  const [first, last] = range;
  // A MultiFS row starts at the block's last key frame, not its first: there keyBlockFor decides.
  if (from < first && !(fs instanceof ValkkaMultiFS)) throw new ExportError('ERANGE', `from ${describeTime(from)} is before the start of the recording in ${fs.dirname} (${describeTime(first)})`);
  if (to > last) throw new ExportError('ERANGE', `to ${describeTime(to)} is after the end of the recording in ${fs.dirname} (${describeTime(last)})`);

  // Single: the first block whose mstime1 is the latest at or before `from` (a block without a key frame of
  // its own repeats the previous row's mstime1: the key frame is in the first block of such a run).
  const start = fs instanceof ValkkaMultiFS ? await fs.keyBlockFor(streamId, from) : fs.getInd([from, to])[0];
  if (start === undefined) {
    throw new ExportError('ERANGE', `from ${describeTime(from)} is before the start of the recording of stream ${streamId} in ${fs.dirname} (no key frame at or before it)`);
  }
  const table = fs.blockTable;
  const order = table.timeOrder();
  const blocks: PlannedBlock[] = [];
  // From the key block up to and including the first block that starts after `to` (frames before
  // its first key frame may still be at or before `to`).
  for (let k = order.indexOf(start); k >= 0 && k < order.length; k++) {
    const block = order[k]!;
    const mstime1 = table.mstime1(block);
    blocks.push({ block, mstime1 });
    if (mstime1 > to) break;
  }
  return { streamId, from, to, blocks };
}

async function resolveStream(fs: ValkkaFS, streamId: number | undefined): Promise<number> {
  if (streamId !== undefined && (!Number.isSafeInteger(streamId) || streamId < 1)) {
    throw new ExportError('EARGUMENT', `stream id must be a whole number >= 1, got ${streamId}`);
  }
  if (!(fs instanceof ValkkaMultiFS)) {
    const held = fs.streamId;
    if (held === undefined && !fs.isLegacy) throw new ExportError('ERANGE', `${fs.dirname} holds no recording`);
    if (streamId !== undefined && held !== undefined && streamId !== held) {
      throw new ExportError('ENOTFOUND', `stream id ${streamId} is not in ${fs.dirname} (it holds stream ${held})`);
    }
    if (streamId !== undefined) return streamId;
    if (held !== undefined) return held;
  }
  const ids = [...(await fs.recordedRanges()).keys()];
  if (streamId === undefined) {
    if (ids.length === 1) return ids[0]!;
    throw new ExportError('EARGUMENT', `${fs.dirname} holds ${ids.length === 0 ? 'no stream' : `streams ${ids.join(', ')}`}: say which with an id`);
  }
  if (!ids.includes(streamId)) {
    throw new ExportError('ENOTFOUND', `stream id ${streamId} is not in ${fs.dirname} (${ids.length === 0 ? 'no streams recorded' : `streams: ${ids.join(', ')}`})`);
  }
  return streamId;
}

/**
 * The stream's video frames of the planned blocks, a block at a time in stream order (the caller
 * stops after `to`). `onBlock(done, total)` reports progress after each block (a promise it returns
 * is awaited). The payloads point into one of two block buffers that take turns: a block's frames
 * are valid until the caller asks for the next block but one, so whatever is kept longer is copied.
 */
export async function* readRange(fs: ValkkaFS, plan: RangePlan, onBlock?: (done: number, total: number) => void | Promise<void>): AsyncGenerator<RangeFrame[]> {
  // Reused buffers save a fresh zeroed block per read (a libValkka directory reads its own way).
  const device = fs.device;
  const buffers = device ? [device.allocBuffer(fs.blocksize), device.allocBuffer(fs.blocksize)] : [];
  const read = (i: number) => readPlanned(fs, plan, plan.blocks[i]!, buffers[i % 2]);
  // One block is read ahead while the previous one is written out: the disk and the muxer overlap.
  let next = plan.blocks.length > 0 ? read(0) : undefined;
  for (let i = 0; next; i++) {
    const contents = await next;
    next = i + 1 < plan.blocks.length ? read(i + 1) : undefined;
    // A read ahead that fails while this block is written out is reported when its turn comes.
    next?.catch(() => undefined);
    const frames: RangeFrame[] = [];
    for (const f of contents) {
      if (f.streamId !== plan.streamId || f.subsession !== 0 || f.mediaType !== MediaType.video) continue;
      frames.push({ timestamp: f.timestamp, key: isKeyFrame(f), codec: f.codec, payload: f.payload });
    }
    yield frames;
    await onBlock?.(i + 1, plan.blocks.length);
  }
}

/**
 * Reads one planned block and makes sure it still holds what was planned. The block's mstime1 is
 * one of its key frames: finding that key frame in what was read proves the block was not reused
 * (new video would have later timestamps). A block without it (no key frame of its own) is checked
 * against the table instead: the writer invalidates a block's row before it reuses any byte of it.
 */
async function readPlanned(fs: ValkkaFS, plan: RangePlan, { block, mstime1 }: PlannedBlock, buffer: Buffer | undefined) {
  let frames;
  let failure: unknown;
  try {
    frames = (await fs.readBlock(block, { buffer })).frames;
    if (frames.some((f) => f.subsession === 0 && f.timestamp === mstime1 && isKeyFrame(f))) return frames;
  } catch (err) {
    if (!(err instanceof BlockExpiredError || err instanceof BlockHeaderError)) throw err;
    failure = err;
  }
  await fs.refresh();
  if (fs.blockTable.mstime1(block) !== mstime1 || failure instanceof BlockExpiredError) {
    const lostAt = Math.max(mstime1, plan.from);
    throw new ExportError(
      'EEXPIRED',
      `the recording at ${describeTime(lostAt)} (block ${block} of ${fs.dirname}) was overwritten by the ongoing recording during the export; nothing was written`,
      lostAt,
    );
  }
  if (failure) throw failure;
  return frames!;
}
