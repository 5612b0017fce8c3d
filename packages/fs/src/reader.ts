/**
 * Reading whole blocks: one device read per block, header checked (magic, fs id, version, CRC,
 * block index), records parsed up to the first that does not validate, then the header read
 * again: a block reused while it was read is reported as expired, never half-delivered.
 */
import type { BlockDevice } from '@valkka/blockdev';

import { BlockExpiredError, BlockHeaderError } from './errors.js';
import { type HeaderExpectation, type ParsedFrame, decodeBlockHeader, decodeSummary, decodeTrailer, scanBlock, scanRecords, type StreamSummary } from './format.js';

export interface BlockContents {
  index: number;
  seq: number;
  /** The block carries its summary: it will not change until it is reused. */
  sealed: boolean;
  frames: ParsedFrame[];
  /** Offset just past the last valid record. */
  end: number;
  /** Per-stream summary of a sealed block. */
  summary: StreamSummary[] | undefined;
}

export interface Geometry {
  fsId: Uint8Array;
  blocksize: number;
  nBlocks: number;
}

/** Parses a block's bytes (a whole block, or a prefix of the open block held in memory). */
export function parseBlock(bytes: Buffer, index: number, geometry: Geometry, fullBlock: boolean): BlockContents {
  const header = decodeBlockHeader(bytes, { ...geometry, block: index });
  if (typeof header === 'string') throw new BlockHeaderError(index, header);
  const { summary, scan } = fullBlock ? scanBlock(bytes, header.seq, geometry.blocksize) : { summary: undefined, scan: scanRecords(bytes, header.seq, bytes.length) };
  return { index, seq: header.seq, sealed: summary !== undefined, frames: scan.frames, end: scan.end, summary };
}

/**
 * Reads block `index` from the device. `expectedSeq` (from the table or an earlier read) makes a
 * block that has moved on since then an expired block. `buffer` (blocksize bytes from
 * device.allocBuffer) is read into instead of a new one: the frames' payloads then point into it.
 */
export async function readBlockFromDevice(device: BlockDevice, geometry: Geometry, index: number, expectedSeq?: number, buffer?: Buffer): Promise<BlockContents> {
  const buf = buffer ?? device.allocBuffer(geometry.blocksize);
  await device.read(index * geometry.blocksize, buf);
  let contents: BlockContents;
  try {
    contents = parseBlock(buf, index, geometry, true);
  } catch (err) {
    // A header torn by a concurrent reuse shows as a bad header: report what it is now.
    if (expectedSeq !== undefined && err instanceof BlockHeaderError) throw new BlockExpiredError(index, expectedSeq, undefined);
    throw err;
  }
  if (expectedSeq !== undefined && contents.seq !== expectedSeq) throw new BlockExpiredError(index, expectedSeq, contents.seq);
  const again = await readSeq(device, geometry, index);
  if (again !== contents.seq) throw new BlockExpiredError(index, contents.seq, again);
  return contents;
}

/** The sequence number in block `index`'s header now, or undefined when it has no valid header. */
export async function readSeq(device: BlockDevice, geometry: Geometry, index: number): Promise<number | undefined> {
  const head = device.allocBuffer(device.alignment);
  await device.read(index * geometry.blocksize, head);
  const h = decodeBlockHeader(head, { ...geometry, block: index } satisfies HeaderExpectation);
  return typeof h === 'string' ? undefined : h.seq;
}

/** The summary of a sealed block from its header and tail (two small reads), or undefined. */
export async function readSummary(device: BlockDevice, geometry: Geometry, index: number): Promise<{ seq: number; streams: StreamSummary[] } | undefined> {
  const seq = await readSeq(device, geometry, index);
  if (seq === undefined) return undefined;
  const { blocksize } = geometry;
  let tailSize = Math.min(blocksize, device.alignment);
  for (;;) {
    const tail = device.allocBuffer(tailSize);
    await device.read((index + 1) * blocksize - tailSize, tail);
    const trailer = decodeTrailer(tail, blocksize, seq);
    if (!trailer) return undefined;
    const needed = blocksize - trailer.at;
    if (needed > tailSize) {
      tailSize = Math.min(blocksize, Math.ceil(needed / device.alignment) * device.alignment);
      continue;
    }
    const streams = decodeSummary(tail, blocksize - tailSize, blocksize, seq);
    return streams ? { seq, streams } : undefined;
  }
}
