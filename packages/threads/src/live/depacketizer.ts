/**
 * RTP payloads to access units: H.264 (RFC 6184: single NAL unit, STAP-A, FU-A; packetization modes 0 and 1)
 * and H.265 (RFC 7798: single NAL unit, AP, FU; no DONL). A sequence gap, a broken fragment or an oversized
 * access unit discards what is being assembled, and nothing is passed on until the next key frame: a broken
 * access unit never leaves this module.
 */
import { Codec, configTypes, FrameFlags, isKeyNal, type VideoCodec } from '@valkka/fs';
import type { RtpPacket } from './rtp.js';

export interface DepacketizerOptions {
  codec: VideoCodec;
  /** Parameter sets from the SDP: put in front of key frames until the stream carries its own. */
  parameterSets?: Uint8Array[];
  /** Largest access unit passed on (bytes); a larger one is dropped and counted. */
  maxFrameBytes?: number;
  /** Told of each sequence gap: the first missing sequence number and how many are missing. */
  onGap?(firstMissing: number, count: number): void;
}

export interface DepacketizedUnit {
  /** RTP timestamp of the access unit. */
  rtpTimestamp: number;
  /** Annex-B, 4-byte start codes; parameter sets in front of a key frame that lacks them. */
  payload: Uint8Array;
  flags: number;
}

export interface DepacketizerCounts {
  packets: number;
  /** Packets missing from the sequence (gaps). */
  lostPackets: number;
  /** Packets arriving late or twice (ignored). */
  latePackets: number;
  /** Access units discarded: broken by loss or bad fragments, too large, or before the first key frame after a loss. */
  droppedUnits: number;
  /** Packets of unsupported or invalid payload types (STAP-B, MTAP, FU-B, PACI, type 0). */
  unsupportedPackets: number;
  units: number;
}

export const DEFAULT_MAX_FRAME_BYTES = 8 << 20;
/** NAL units per access unit, beyond which it is dropped (bounds memory of pending references). */
const MAX_NALS = 1024;
const START_CODE = new Uint8Array([0, 0, 0, 1]);
const NONE: DepacketizedUnit[] = Object.freeze([]) as unknown as DepacketizedUnit[];
const NO_NALS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

export class Depacketizer {
  readonly counts: DepacketizerCounts = { packets: 0, lostPackets: 0, latePackets: 0, droppedUnits: 0, unsupportedPackets: 0, units: 0 };
  readonly codec: VideoCodec;
  private readonly h264: boolean;
  private readonly maxFrameBytes: number;
  /** Latest parameter set by NAL type (copies: payloads share socket buffers). */
  private readonly config = new Map<number, Uint8Array>();
  private readonly configTypes: readonly number[];
  private readonly onGap: ((firstMissing: number, count: number) => void) | undefined;

  private expectedSeq = -1;
  /** NAL units (or pieces: a fragmented NAL is a list of pieces joined at the end) of the unit being assembled. */
  private nals: Uint8Array[][] = [];
  private bytes = 0;
  private timestamp = 0;
  private key = false;
  private seenConfig = 0;
  /** The unit being assembled is broken: discard it when it ends. */
  private broken = false;
  /** Pieces of the NAL unit being reassembled from fragments, or undefined. */
  private fragment: Uint8Array[] | undefined;
  /** After a loss (and at the start) nothing is passed on before a key frame. */
  private waitKey = true;

  constructor(options: DepacketizerOptions) {
    this.codec = options.codec;
    this.h264 = options.codec === Codec.h264;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.configTypes = configTypes(options.codec);
    this.onGap = options.onGap;
    for (const nal of options.parameterSets ?? []) this.remember(nal);
  }

  /** Feeds one RTP packet; returns the access units it completed (zero, one, or two when a marker was missing). */
  push(packet: RtpPacket): DepacketizedUnit[] {
    this.counts.packets++;
    // Most packets complete nothing: they share one empty (frozen) list instead of a new one each.
    let out: DepacketizedUnit[] = NONE;
    if (this.expectedSeq >= 0 && packet.sequence !== this.expectedSeq) {
      const gap = (packet.sequence - this.expectedSeq) & 0xffff;
      if (gap >= 0x8000) {
        this.counts.latePackets++;
        return out;
      }
      this.counts.lostPackets += gap;
      this.onGap?.(this.expectedSeq, gap);
      this.loss();
    }
    this.expectedSeq = (packet.sequence + 1) & 0xffff;
    // A new timestamp ends the previous unit even when its marker packet was lost or never set.
    if (this.nals.length > 0 || this.fragment || this.broken) {
      if (packet.timestamp !== this.timestamp) out = this.finish(out);
    }
    if (this.nals.length === 0 && !this.fragment) {
      this.timestamp = packet.timestamp;
    }
    if (this.h264) this.h264Payload(packet.payload);
    else this.h265Payload(packet.payload);
    if (packet.marker) out = this.finish(out);
    return out;
  }

  /** Forget the unit being assembled and wait for a key frame (a gap, or a new connection). */
  loss(): void {
    if (this.nals.length > 0 || this.fragment) this.broken = true;
    this.waitKey = true;
  }

  private h264Payload(p: Uint8Array): void {
    if (p.length < 1) return this.bad();
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) return this.addNal([p]);
    if (type === 24) return this.aggregate(p, 1);
    if (type === 28) {
      if (p.length < 3) return this.bad();
      return this.fragmentPiece(p[1]!, new Uint8Array([(p[0]! & 0xe0) | (p[1]! & 0x1f)]), p.subarray(2));
    }
    this.counts.unsupportedPackets++;
    this.broken = true;
  }

  private h265Payload(p: Uint8Array): void {
    if (p.length < 2) return this.bad();
    const type = (p[0]! >> 1) & 0x3f;
    if (type < 48) return this.addNal([p]);
    if (type === 48) return this.aggregate(p, 2);
    if (type === 49) {
      if (p.length < 4) return this.bad();
      const header = new Uint8Array([(p[0]! & 0x81) | ((p[2]! & 0x3f) << 1), p[1]!]);
      return this.fragmentPiece(p[2]!, header, p.subarray(3));
    }
    this.counts.unsupportedPackets++;
    this.broken = true;
  }

  /** STAP-A / AP: 16-bit size, NAL unit, repeated; a size running past the packet breaks the unit. */
  private aggregate(p: Uint8Array, headerBytes: number): void {
    let pos = headerBytes;
    while (pos < p.length) {
      if (pos + 2 > p.length) return this.bad();
      const size = (p[pos]! << 8) | p[pos + 1]!;
      pos += 2;
      if (size === 0 || pos + size > p.length) return this.bad();
      this.addNal([p.subarray(pos, pos + size)]);
      pos += size;
    }
  }

  /** FU-A / FU: start, middle and end pieces of one NAL unit; a middle or end without a start is a loss. */
  private fragmentPiece(fuHeader: number, nalHeader: Uint8Array, data: Uint8Array): void {
    const start = (fuHeader & 0x80) !== 0;
    const end = (fuHeader & 0x40) !== 0;
    if (start) {
      if (this.fragment) this.broken = true; // the previous fragment never ended
      this.fragment = [nalHeader, data];
      this.bytes += nalHeader.length + data.length;
    } else if (!this.fragment) {
      this.broken = true;
      return;
    } else {
      this.fragment.push(data);
      this.bytes += data.length;
      if (this.fragment.length > MAX_NALS * 4) this.broken = true;
    }
    if (this.bytes > this.maxFrameBytes) {
      this.broken = true;
      this.fragment = undefined;
      return;
    }
    if (end) {
      const pieces = this.fragment;
      this.fragment = undefined;
      this.bytes -= pieces.reduce((n, x) => n + x.length, 0);
      this.addNal(pieces);
    }
  }

  private addNal(pieces: Uint8Array[]): void {
    if (this.broken) return;
    const header = pieces[0]!;
    const type = this.h264 ? header[0]! & 0x1f : (header[0]! >> 1) & 0x3f;
    if (this.nals.length >= MAX_NALS) {
      this.broken = true;
      return;
    }
    let size = 0;
    for (const piece of pieces) size += piece.length;
    this.bytes += size + 4;
    if (this.bytes > this.maxFrameBytes) {
      this.broken = true;
      return;
    }
    if (isKeyNal(this.codec, type)) this.key = true;
    const ci = this.configTypes.indexOf(type);
    if (ci >= 0) this.seenConfig |= 1 << ci;
    this.nals.push(pieces);
  }

  private bad(): void {
    this.counts.unsupportedPackets++;
    this.broken = true;
  }

  /** Ends the unit being assembled: passes it on when whole (and, after a loss, key), else counts it dropped. */
  private finish(out: DepacketizedUnit[]): DepacketizedUnit[] {
    const broken = this.broken || this.fragment !== undefined;
    const nals = this.nals;
    const key = this.key;
    const seenConfig = this.seenConfig;
    this.nals = [];
    this.bytes = 0;
    this.key = false;
    this.seenConfig = 0;
    this.broken = false;
    this.fragment = undefined;
    if (broken) {
      this.counts.droppedUnits++;
      this.waitKey = true;
      return out;
    }
    if (nals.length === 0) return out;
    if (this.waitKey && !key) {
      this.counts.droppedUnits++;
      return out;
    }
    this.waitKey = false;
    // Remember the stream's own parameter sets; insert the remembered ones before a key frame lacking them.
    for (const pieces of nals) {
      const header = pieces[0]!;
      const type = this.h264 ? header[0]! & 0x1f : (header[0]! >> 1) & 0x3f;
      if (this.configTypes.includes(type)) this.remember(joinPieces(pieces));
    }
    const all = (1 << this.configTypes.length) - 1;
    let insert: Uint8Array[] = NO_NALS;
    if (key && seenConfig !== all) {
      insert = this.configTypes.filter((_t, i) => !(seenConfig & (1 << i))).flatMap((t) => this.config.get(t) ?? []);
    }
    const hasConfig = seenConfig === all || (key && insert.length > 0 && this.configTypes.every((t) => this.config.has(t)));
    const unit = { rtpTimestamp: this.timestamp, payload: this.annexB(insert, nals), flags: (key ? FrameFlags.key : 0) | (hasConfig ? FrameFlags.config : 0) };
    this.counts.units++;
    return out === NONE ? [unit] : [...out, unit];
  }

  private remember(nal: Uint8Array): void {
    const type = this.h264 ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
    if (this.configTypes.includes(type)) this.config.set(type, nal.slice());
  }

  /** One copy of every byte: start codes, inserted parameter sets (after an AUD), then the NAL units. */
  private annexB(insert: Uint8Array[], nals: Uint8Array[][]): Uint8Array {
    let size = 0;
    for (const nal of insert) size += 4 + nal.length;
    for (const pieces of nals) {
      size += 4;
      for (const piece of pieces) size += piece.length;
    }
    const out = new Uint8Array(size);
    let pos = 0;
    const put = (pieces: Uint8Array[]): void => {
      out.set(START_CODE, pos);
      pos += 4;
      for (const piece of pieces) {
        out.set(piece, pos);
        pos += piece.length;
      }
    };
    const audType = this.h264 ? 9 : 35;
    let i = 0;
    const firstType = nals[0] ? (this.h264 ? nals[0][0]![0]! & 0x1f : (nals[0][0]![0]! >> 1) & 0x3f) : -1;
    if (firstType === audType) put(nals[i++]!);
    for (const nal of insert) put([nal]);
    for (; i < nals.length; i++) put(nals[i]!);
    return out;
  }
}

function joinPieces(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of pieces) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
