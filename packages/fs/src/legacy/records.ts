/**
 * The original dumpfile's frame records (valkkafs-original.md §2.3): a 36-byte little-endian
 * header (u64 id, i32 subsession, i64 mstimestamp, i32 media_type, i32 codec_id, u64 len), then
 * len payload bytes; a u64 id of 0 ends the block.
 */
import { LegacyError } from './errors.js';

export const RECORD_HEADER_BYTES = 36;

export interface LegacyRecord {
  /** The on-disk stream id (IdNumber), >= 1. */
  streamId: number;
  subsession: number;
  timestamp: number;
  /** FFmpeg AVMediaType as stored (0 video, 1 audio, -1 unknown). */
  mediaType: number;
  /** FFmpeg AVCodecID as stored (27 H.264, 173 HEVC, ...). */
  codecId: number;
  /** A view into the block buffer. */
  payload: Uint8Array;
  /** Offset of the record inside its block. */
  offset: number;
}

export interface LegacyBlockRecords {
  records: LegacyRecord[];
  /** Why parsing stopped before a terminator, when it did: the records before it are good. */
  problem?: LegacyError;
}

/**
 * Parses the records of one block. Parsing ends at an id of 0 (the terminator, or a zeroed
 * block), at the block end, or at the first damaged record: a header cut by the block end, a
 * negative subsession or timestamp (the original's "corrupt" checks), an id or length a number
 * cannot hold, or a length reaching past the block end. Nothing is allocated: payloads are views.
 */
export function parseBlockRecords(block: Uint8Array, blockNumber: number): LegacyBlockRecords {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const records: LegacyRecord[] = [];
  const damaged = (offset: number, what: string): LegacyBlockRecords => ({
    records,
    problem: new LegacyError('ERECORD', `block ${blockNumber}, offset ${offset}: ${what}; records after it are not read`),
  });
  let at = 0;
  while (at + 8 <= block.length) {
    const id = view.getBigUint64(at, true);
    if (id === 0n) break;
    if (at + RECORD_HEADER_BYTES > block.length) return damaged(at, `record header cut by the block end (${block.length - at} bytes left)`);
    const subsession = view.getInt32(at + 8, true);
    const timestamp = view.getBigInt64(at + 12, true);
    const mediaType = view.getInt32(at + 20, true);
    const codecId = view.getInt32(at + 24, true);
    const len = view.getBigUint64(at + 28, true);
    if (id > BigInt(Number.MAX_SAFE_INTEGER)) return damaged(at, `stream id ${id} is not a plausible id`);
    if (subsession < 0) return damaged(at, `negative subsession ${subsession}`);
    if (timestamp < 0n || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return damaged(at, `timestamp ${timestamp} out of range`);
    const payloadStart = at + RECORD_HEADER_BYTES;
    if (len > BigInt(block.length - payloadStart)) {
      return damaged(at, `payload length ${len} reaches past the block end (${block.length - payloadStart} bytes left)`);
    }
    const end = payloadStart + Number(len);
    records.push({
      streamId: Number(id),
      subsession,
      timestamp: Number(timestamp),
      mediaType,
      codecId,
      payload: block.subarray(payloadStart, end),
      offset: at,
    });
    at = end;
  }
  return { records };
}
