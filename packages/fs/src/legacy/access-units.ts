/**
 * From the original's records (one NAL unit each, SPS, PPS and IDR as separate records sharing
 * a timestamp) to frames: the NAL records of one stream with the same timestamp form one access
 * unit. Other media pass one record per frame.
 */
import { classifyAccessUnit, frameFlagsOf } from '../codec/access-unit.js';
import { isVideoCodec } from '../codec/nal.js';
import { Codec, MediaType, type Frame } from '../frame.js';
import type { LegacyRecord } from './records.js';

const knownCodecs = new Set<number>(Object.values(Codec));
const knownMediaTypes = new Set<number>(Object.values(MediaType));

export interface LegacyFrames {
  frames: Frame[];
  /** Records skipped because their media type or codec id is none this library knows. */
  unknownRecords: number;
}

/** Frames in the order their first record appears; each stream's frames stay in disk order. */
export function recordsToFrames(records: readonly LegacyRecord[]): LegacyFrames {
  const frames: Frame[] = [];
  const parts = new Map<Frame, Uint8Array[]>();
  // The access unit still open for each (stream, subsession).
  const open = new Map<string, Frame>();
  let unknownRecords = 0;
  for (const r of records) {
    if (!knownCodecs.has(r.codecId) || !knownMediaTypes.has(r.mediaType)) {
      unknownRecords++;
      continue;
    }
    const codec = r.codecId as Codec;
    const key = `${r.streamId}/${r.subsession}`;
    const current = open.get(key);
    if (isVideoCodec(codec) && current && current.timestamp === r.timestamp && current.codec === codec) {
      parts.get(current)?.push(r.payload);
      continue;
    }
    const frame: Frame = {
      streamId: r.streamId,
      subsession: r.subsession,
      timestamp: r.timestamp,
      mediaType: r.mediaType as MediaType,
      codec,
      flags: 0,
      payload: r.payload,
    };
    frames.push(frame);
    parts.set(frame, [r.payload]);
    open.set(key, frame);
  }
  for (const frame of frames) {
    const list = parts.get(frame) ?? [];
    frame.payload = list.length === 1 ? new Uint8Array(frame.payload) : concat(list);
    frame.flags = frameFlagsOf(classifyAccessUnit(frame.codec, frame.payload));
  }
  return { frames, unknownRecords };
}

function concat(list: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of list) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
