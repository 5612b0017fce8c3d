/**
 * The dumpfile's byte layout (documented in FORMAT.md): block header, frame records,
 * the per-stream summary at the block's tail and the trailer that finds it.
 * Pure functions over buffers; no I/O.
 */
import { crc32 } from 'node:zlib';

import type { Codec, Frame, MediaType } from './frame.js';

export const FORMAT_VERSION = 1;
/** Blocksizes are multiples of this (the original's grain). */
export const GRAIN = 4096;

export const BLOCK_MAGIC = Buffer.from('VALKKAFS', 'latin1');
export const BLOCK_HEADER_SIZE = 64;
export const RECORD_HEADER_SIZE = 28;
export const TRAILER_SIZE = 16;
export const TRAILER_MAGIC = 0x45534b56; // 'VKSE' little-endian
export const SUMMARY_ENTRY_SIZE = 48;
export const FS_ID_SIZE = 16;

export const RecordKind = { frame: 1, summary: 2 } as const;

/** Largest blocksize (64 MiB): the writer holds three blocks in memory and readers whole blocks; check reads a few. */
export const MAX_BLOCKSIZE = 2 ** 26;

/** Rounds a requested blocksize down to a multiple of 4096, at least 4096 (the original's rule). */
export function roundBlocksize(requested: number): number {
  return Math.max(GRAIN, requested - (requested % GRAIN));
}

// ---------- block header ----------

export interface BlockHeader {
  version: number;
  block: number;
  fsId: Uint8Array;
  seq: number;
  blocksize: number;
  nBlocks: number;
}

export function encodeBlockHeader(buf: Buffer, h: BlockHeader): void {
  buf.fill(0, 0, BLOCK_HEADER_SIZE);
  BLOCK_MAGIC.copy(buf, 0);
  buf.writeUInt16LE(h.version, 8);
  buf.writeUInt16LE(BLOCK_HEADER_SIZE, 10);
  buf.writeUInt32LE(h.block, 12);
  buf.set(h.fsId, 16);
  buf.writeBigUInt64LE(BigInt(h.seq), 32);
  buf.writeUInt32LE(h.blocksize >>> 0, 40);
  buf.writeUInt32LE(h.nBlocks >>> 0, 44);
  buf.writeUInt32LE(crc32(buf.subarray(0, 60)), 60);
}

export interface HeaderExpectation {
  fsId: Uint8Array;
  block: number;
  blocksize: number;
  nBlocks: number;
}

/** The header at buf[0..64), or the reason it is not a valid header of this filesystem's block. */
export function decodeBlockHeader(buf: Buffer, expect: HeaderExpectation): BlockHeader | string {
  if (buf.length < BLOCK_HEADER_SIZE) return 'short block';
  if (!buf.subarray(0, 8).equals(BLOCK_MAGIC)) return isZero(buf.subarray(0, BLOCK_HEADER_SIZE)) ? 'never written' : 'bad magic';
  if (buf.readUInt32LE(60) !== crc32(buf.subarray(0, 60))) return 'header checksum mismatch';
  const version = buf.readUInt16LE(8);
  if (version !== FORMAT_VERSION) return `unsupported format version ${version}`;
  if (buf.readUInt16LE(10) !== BLOCK_HEADER_SIZE) return 'bad header size';
  if (!buf.subarray(16, 32).equals(expect.fsId)) return 'belongs to another filesystem';
  const block = buf.readUInt32LE(12);
  if (block !== expect.block) return `header says block ${block}`;
  if (buf.readUInt32LE(40) !== expect.blocksize >>> 0 || buf.readUInt32LE(44) !== expect.nBlocks >>> 0) return 'geometry mismatch';
  const seq = Number(buf.readBigUInt64LE(32));
  if (!Number.isSafeInteger(seq) || seq < 1) return `bad sequence number ${seq}`;
  return { version, block, fsId: expect.fsId, seq, blocksize: expect.blocksize, nBlocks: expect.nBlocks };
}

// ---------- records ----------

/** The CRC seed of a block: every record's checksum starts from crc32(seq as u64 LE). */
export function seqSeed(seq: number): number {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(seq));
  return crc32(b);
}

export const recordSize = (payloadLength: number): number => RECORD_HEADER_SIZE + payloadLength;

/** The 24 checksummed header bytes of the record being encoded (reused: no allocation per frame). */
const recordHead = Buffer.alloc(24);

/**
 * Writes one frame record at `offset`; returns the offset after it. The caller checked that it fits.
 * The CRC is chained over the header bytes and the caller's payload (no concatenation), then the
 * payload is copied once into the block buffer.
 */
export function encodeFrameRecord(buf: Buffer, offset: number, frame: Frame, seed: number): number {
  const payload = frame.payload;
  const len = payload.length;
  const h = recordHead;
  h[0] = RecordKind.frame;
  h[1] = frame.flags & 0xff;
  h[2] = frame.subsession;
  h.writeInt8(frame.mediaType, 3);
  h.writeUInt32LE(len, 4);
  h.writeUInt32LE(frame.streamId, 8);
  h.writeUInt32LE(frame.codec >>> 0, 12);
  writeMs(h, frame.timestamp, 16);
  const crc = crc32(payload, crc32(h, seed));
  buf.set(h, offset);
  buf.writeUInt32LE(crc, offset + 24);
  buf.set(payload, offset + RECORD_HEADER_SIZE);
  return offset + RECORD_HEADER_SIZE + len;
}

export interface ParsedFrame extends Frame {
  /** Byte offset of the record inside its block. */
  offset: number;
}

export type ScanStop = 'clean' | 'limit' | 'bad kind' | 'bad length' | 'bad stream id' | 'bad timestamp' | 'checksum mismatch';

/** Bytes between two valid records that hold no valid record: damage (or a hole repair zeroed). */
export interface RecordGap {
  offset: number;
  end: number;
  /** Why the record at `offset` did not validate. */
  reason: ScanStop;
  /** The gap is all zeros (a hole left by repair): nothing is damaged there any more. */
  zero: boolean;
}

export interface RecordScan {
  frames: ParsedFrame[];
  /** Offset just past the last valid record. */
  end: number;
  /** Why no valid record starts at `end`: 'clean' (zero header: nothing was written there) or what failed. */
  stop: ScanStop;
  /** Ranges skipped to resynchronise on the next valid record, in order. */
  gaps: RecordGap[];
}

/**
 * Checks the record at `off`: the offset after it when it is a valid frame record of the block whose
 * CRC seed is `seed`, else why not.
 */
function recordAt(buf: Buffer, off: number, limit: number, seed: number): number | ScanStop {
  if (off + RECORD_HEADER_SIZE > limit) return 'limit';
  if (buf[off] !== RecordKind.frame) return buf[off] === 0 && isZero(buf.subarray(off, off + RECORD_HEADER_SIZE)) ? 'clean' : 'bad kind';
  const len = buf.readUInt32LE(off + 4);
  if (len > limit - off - RECORD_HEADER_SIZE) return 'bad length';
  if (buf.readUInt32LE(off + 8) === 0) return 'bad stream id';
  if (buf.readUInt32LE(off + 20) > 0x1f_ffff) return 'bad timestamp';
  const payloadEnd = off + RECORD_HEADER_SIZE + len;
  const crc = crc32(buf.subarray(off + RECORD_HEADER_SIZE, payloadEnd), crc32(buf.subarray(off, off + 24), seed));
  return crc === buf.readUInt32LE(off + 24) ? payloadEnd : 'checksum mismatch';
}

/**
 * The next offset after `from` where a valid record starts, or -1. Candidates are the bytes equal to
 * the frame kind (found natively); each must pass the cheap field checks and then the CRC, which is
 * chained over the block's sequence number: bytes of an older block never match.
 */
function resync(buf: Buffer, from: number, limit: number, seed: number): number {
  const view = buf.subarray(0, limit - RECORD_HEADER_SIZE + 1);
  for (let p = view.indexOf(RecordKind.frame, from); p >= 0; p = view.indexOf(RecordKind.frame, p + 1)) {
    if (typeof recordAt(buf, p, limit, seed) === 'number') return p;
  }
  return -1;
}

/**
 * The frame records of a block, from the first after the header. A record that does not validate
 * (length, kind, fields or checksum) is skipped by resynchronising on the next valid record, so damage
 * costs only the records it touches; the scan ends after the last valid record before `limit`.
 * Payloads are views into `buf`. `limit` bounds the scan: the summary offset of a sealed block, or
 * the block size.
 */
export function scanRecords(buf: Buffer, seq: number, limit: number): RecordScan {
  const seed = seqSeed(seq);
  const frames: ParsedFrame[] = [];
  const gaps: RecordGap[] = [];
  let off = BLOCK_HEADER_SIZE;
  for (;;) {
    const next = recordAt(buf, off, limit, seed);
    if (typeof next !== 'number') {
      const p = next === 'limit' ? -1 : resync(buf, off + 1, limit, seed);
      if (p < 0) return { frames, end: off, stop: next, gaps };
      gaps.push({ offset: off, end: p, reason: next, zero: isZero(buf.subarray(off, p)) });
      off = p;
      continue;
    }
    frames.push({
      offset: off,
      streamId: buf.readUInt32LE(off + 8),
      subsession: buf.readUInt8(off + 2),
      timestamp: readMs(buf, off + 16),
      mediaType: buf.readInt8(off + 3) as MediaType,
      codec: buf.readUInt32LE(off + 12) as Codec,
      flags: buf.readUInt8(off + 1),
      payload: buf.subarray(off + RECORD_HEADER_SIZE, next),
    });
    off = next;
  }
}

// ---------- per-stream summary (tail of a sealed block) ----------

/** What a sealed block holds of one (stream, subsession). Timestamps 0 = none. */
export interface StreamSummary {
  streamId: number;
  subsession: number;
  frames: number;
  keyFrames: number;
  firstTs: number;
  lastTs: number;
  firstKeyTs: number;
  lastKeyTs: number;
}

export const summaryRecordSize = (entries: number): number => RECORD_HEADER_SIZE + 4 + entries * SUMMARY_ENTRY_SIZE;
/** Bytes a block must keep free at its tail for a summary of `entries` entries and the trailer. */
export const tailReserve = (entries: number): number => summaryRecordSize(entries) + TRAILER_SIZE;

/** Writes the summary record and the trailer at the block's tail; returns the summary offset. */
export function encodeSummary(buf: Buffer, blocksize: number, entries: readonly StreamSummary[], seed: number): number {
  const size = summaryRecordSize(entries.length);
  const at = blocksize - TRAILER_SIZE - size;
  buf.fill(0, at, blocksize);
  buf.writeUInt8(RecordKind.summary, at);
  buf.writeUInt32LE(size - RECORD_HEADER_SIZE, at + 4);
  let p = at + RECORD_HEADER_SIZE;
  buf.writeUInt32LE(entries.length, p);
  p += 4;
  for (const e of entries) {
    buf.writeUInt32LE(e.streamId, p);
    buf.writeUInt16LE(e.subsession, p + 4);
    buf.writeUInt32LE(e.frames, p + 8);
    buf.writeUInt32LE(e.keyFrames, p + 12);
    writeMs(buf, e.firstTs, p + 16);
    writeMs(buf, e.lastTs, p + 24);
    writeMs(buf, e.firstKeyTs, p + 32);
    writeMs(buf, e.lastKeyTs, p + 40);
    p += SUMMARY_ENTRY_SIZE;
  }
  const crc = crc32(buf.subarray(at + RECORD_HEADER_SIZE, at + size), crc32(buf.subarray(at, at + 24), seed));
  buf.writeUInt32LE(crc, at + 24);
  const t = blocksize - TRAILER_SIZE;
  buf.writeUInt32LE(TRAILER_MAGIC, t);
  buf.writeUInt32LE(at, t + 4);
  buf.writeUInt32LE(size, t + 8);
  buf.writeUInt32LE(crc32(buf.subarray(t, t + 12), seed), t + 12);
  return at;
}

/** Where the trailer says the summary is, or undefined when the block carries no valid trailer (not sealed). */
export function decodeTrailer(tail: Buffer, blocksize: number, seq: number): { at: number; size: number } | undefined {
  const t = tail.length - TRAILER_SIZE;
  if (t < 0 || tail.readUInt32LE(t) !== TRAILER_MAGIC) return undefined;
  if (tail.readUInt32LE(t + 12) !== crc32(tail.subarray(t, t + 12), seqSeed(seq))) return undefined;
  const at = tail.readUInt32LE(t + 4);
  const size = tail.readUInt32LE(t + 8);
  if (at < BLOCK_HEADER_SIZE || size < summaryRecordSize(0) || at + size !== blocksize - TRAILER_SIZE) return undefined;
  return { at, size };
}

/**
 * The summary entries of a sealed block. `buf` holds the block's bytes from offset `base`
 * (the whole block: base 0; a tail read: base = blocksize - buf.length). Undefined when absent or damaged.
 */
export function decodeSummary(buf: Buffer, base: number, blocksize: number, seq: number): StreamSummary[] | undefined {
  const trailer = decodeTrailer(buf, blocksize, seq);
  if (!trailer || trailer.at < base) return undefined;
  const at = trailer.at - base;
  const seed = seqSeed(seq);
  if (buf.readUInt8(at) !== RecordKind.summary || buf.readUInt32LE(at + 4) !== trailer.size - RECORD_HEADER_SIZE) return undefined;
  const crc = crc32(buf.subarray(at + RECORD_HEADER_SIZE, at + trailer.size), crc32(buf.subarray(at, at + 24), seed));
  if (crc !== buf.readUInt32LE(at + 24)) return undefined;
  const count = buf.readUInt32LE(at + RECORD_HEADER_SIZE);
  if (summaryRecordSize(count) !== trailer.size) return undefined;
  const out: StreamSummary[] = [];
  let p = at + RECORD_HEADER_SIZE + 4;
  for (let i = 0; i < count; i++, p += SUMMARY_ENTRY_SIZE) {
    out.push({
      streamId: buf.readUInt32LE(p),
      subsession: buf.readUInt16LE(p + 4),
      frames: buf.readUInt32LE(p + 8),
      keyFrames: buf.readUInt32LE(p + 12),
      firstTs: readMs(buf, p + 16),
      lastTs: readMs(buf, p + 24),
      firstKeyTs: readMs(buf, p + 32),
      lastKeyTs: readMs(buf, p + 40),
    });
  }
  return out;
}

/**
 * The records of a whole block and, when it is sealed, its summary: a valid trailer and summary
 * bound the scan at the summary, otherwise it may run to the trailer's place. `trailer` is set
 * whenever the trailer is valid (even when the summary it points at is damaged).
 */
export function scanBlock(buf: Buffer, seq: number, blocksize: number): { trailer: { at: number; size: number } | undefined; summary: StreamSummary[] | undefined; scan: RecordScan } {
  const trailer = decodeTrailer(buf, blocksize, seq);
  const summary = trailer ? decodeSummary(buf, 0, blocksize, seq) : undefined;
  const scan = scanRecords(buf, seq, summary && trailer ? trailer.at : blocksize - TRAILER_SIZE);
  return { trailer, summary, scan };
}

/** Writes a millisecond value (a safe integer >= 0) as an int64 LE, as two u32 halves (no BigInt). */
export function writeMs(buf: Buffer, ms: number, offset: number): void {
  buf.writeUInt32LE(ms % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(ms / 0x1_0000_0000), offset + 4);
}

/** Reads an int64 LE millisecond value; -1 when it is negative or beyond 2^53 - 1. */
export function readMs(buf: Buffer, offset: number): number {
  const high = buf.readUInt32LE(offset + 4);
  if (high > 0x1f_ffff) return -1;
  return high * 0x1_0000_0000 + buf.readUInt32LE(offset);
}

const ZEROS = Buffer.alloc(64 * 1024);

/** True when every byte is zero (compared natively, a chunk at a time). */
export function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - i);
    if (Buffer.compare(b.subarray(i, i + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

export const alignDown = (x: number, a: number): number => x - (x % a);
export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
