/**
 * Access units: classifying one (key? carries its configuration?) and cutting a raw Annex-B
 * byte stream, arriving in chunks of any size, into access units.
 */
import { FrameFlags } from '../frame.js';
import { CodecError } from './errors.js';
import {
  audType,
  configTypes,
  findNalUnits,
  isFirstSliceOfPicture,
  isKeyNal,
  isVcl,
  isVideoCodec,
  nalType,
  nextStartCode,
  startsAccessUnitAfterVcl,
  type NalUnit,
  type VideoCodec,
} from './nal.js';

export interface AccessUnitInfo {
  /** Starts a decodable run: H.264 IDR, H.265 IRAP; always true for codecs without inter frames. */
  key: boolean;
  /** Every parameter set the decoder needs is in the payload (H.264 SPS+PPS, H.265 VPS+SPS+PPS). */
  hasConfig: boolean;
  /** The parameter-set NAL units of the payload (without start codes), in stream order. */
  configNals: Uint8Array[];
}

/** Key and configuration of one access unit. Non-video codecs: every frame is key, no configuration. */
export function classifyAccessUnit(codec: number, payload: Uint8Array): AccessUnitInfo {
  if (!isVideoCodec(codec)) return { key: true, hasConfig: false, configNals: [] };
  return describeNals(codec, payload, findNalUnits(codec, payload));
}

/** Key and configuration from the NAL units of `payload`, already found (internal to codec/). */
export function describeNals(codec: VideoCodec, payload: Uint8Array, nals: readonly NalUnit[]): AccessUnitInfo {
  const wanted = configTypes(codec);
  let key = false;
  const configNals: Uint8Array[] = [];
  const present = new Set<number>();
  for (const nal of nals) {
    if (isKeyNal(codec, nal.type)) key = true;
    if (wanted.includes(nal.type)) {
      present.add(nal.type);
      configNals.push(payload.subarray(nal.start, nal.end));
    }
  }
  return { key, hasConfig: wanted.every((t) => present.has(t)), configNals };
}

/** FrameFlags bits for an access unit. */
export function frameFlagsOf(info: Pick<AccessUnitInfo, 'key' | 'hasConfig'>): number {
  return (info.key ? FrameFlags.key : 0) | (info.hasConfig ? FrameFlags.config : 0);
}

export interface AccessUnit extends AccessUnitInfo {
  /** Annex-B bytes of the access unit, start codes as they came. */
  payload: Uint8Array;
}

export interface AccessUnitSplitterOptions {
  /** Largest access unit accepted, bytes (default 16 MiB). Bounds the splitter's memory. */
  maxAccessUnitBytes?: number;
}

/**
 * Cuts a raw Annex-B stream into access units. An access unit ends where an AUD, a parameter set
 * or SEI after the picture's slices, or the first slice of a new picture (H.264 first_mb_in_slice
 * == 0, H.265 first_slice_segment_in_pic_flag) begins. A NAL unit is complete only when the next
 * start code arrives, so the last access unit comes out of flush().
 *
 * Memory is bounded: when the buffered access unit exceeds maxAccessUnitBytes, push() throws
 * CodecError EAUSIZE and drops what it buffered; feeding may continue (the splitter then waits
 * for the next start code).
 */
export class AccessUnitSplitter {
  private readonly codec: VideoCodec;
  private readonly maxBytes: number;
  private buf: Uint8Array;
  private len = 0;
  /** The NAL unit still being received (its end unknown), or undefined before the first start code. */
  private open: { startCode: number; start: number } | undefined;
  /** Where the current access unit starts in buf (its first start code). */
  private auStart = -1;
  private auHasVcl = false;
  /** The complete NAL units of the current access unit, offsets relative to auStart. */
  private auNals: NalUnit[] = [];
  /** Where the search for the next start code resumes. */
  private scanFrom = 0;

  constructor(codec: number, options: AccessUnitSplitterOptions = {}) {
    if (!isVideoCodec(codec)) throw new CodecError('ECODEC', `AccessUnitSplitter: codec ${codec} is not H.264 or H.265`);
    this.codec = codec;
    this.maxBytes = options.maxAccessUnitBytes ?? 16 * 1024 * 1024;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 16) {
      throw new CodecError('ECODEC', `maxAccessUnitBytes must be an integer >= 16, got ${options.maxAccessUnitBytes}`);
    }
    this.buf = new Uint8Array(Math.min(this.maxBytes, 64 * 1024) + 4);
  }

  /** Feeds bytes; returns the access units completed by them. */
  push(chunk: Uint8Array): AccessUnit[] {
    const out: AccessUnit[] = [];
    let at = 0;
    while (at < chunk.length) {
      // Copy what fits under the bound (plus the 3 bytes a straddling start code needs), then parse.
      const room = this.maxBytes + 3 - (this.len - Math.max(0, this.auStart));
      if (room <= 0) this.overflow();
      const take = Math.min(room, chunk.length - at);
      if (this.len + take > this.buf.length && this.auStart > 0) this.dropBefore(this.auStart);
      this.append(chunk.subarray(at, at + take));
      at += take;
      this.parse(out);
    }
    return out;
  }

  /** Ends the stream: returns the last access unit, if any, and resets. */
  flush(): AccessUnit[] {
    const out: AccessUnit[] = [];
    if (this.open) this.completeNal({ ...this.open, end: this.len }, out);
    if (this.auStart >= 0 && this.len > this.auStart) out.push(this.makeUnit(this.len));
    this.reset();
    return out;
  }

  private reset(): void {
    this.len = 0;
    this.open = undefined;
    this.auStart = -1;
    this.auHasVcl = false;
    this.auNals = [];
    this.scanFrom = 0;
  }

  private overflow(): never {
    const size = this.len - Math.max(0, this.auStart);
    this.reset();
    throw new CodecError('EAUSIZE', `access unit larger than maxAccessUnitBytes (${this.maxBytes}): ${size} bytes buffered without its end; dropped`);
  }

  private append(bytes: Uint8Array): void {
    if (this.len + bytes.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.len + bytes.length, Math.min(this.buf.length * 2, this.maxBytes + 8)));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private parse(out: AccessUnit[]): void {
    for (;;) {
      const minStartCode = this.open ? this.open.start + 1 : 0;
      const sc = nextStartCode(this.buf, Math.max(this.scanFrom, minStartCode), this.len, minStartCode);
      if (!sc) {
        // Resume where a start code straddling the chunk boundary would begin.
        this.scanFrom = Math.max(this.scanFrom, minStartCode, this.len - 2);
        if (!this.open) this.dropBefore(this.scanFrom - 1); // garbage before the first start code
        return;
      }
      if (this.open) this.completeNal({ ...this.open, end: sc.startCode }, out);
      else this.auStart = sc.startCode;
      this.open = sc;
      this.scanFrom = sc.start;
    }
  }

  /** A NAL unit is complete: decide whether it opens a new access unit. */
  private completeNal(span: { startCode: number; start: number; end: number }, out: AccessUnit[]): void {
    if (span.end <= span.start) return;
    const nal: NalUnit = { ...span, type: nalType(this.codec, this.buf[span.start] ?? 0) };
    const vcl = isVcl(this.codec, nal.type);
    const opensNew =
      nal.type === audType(this.codec) ||
      (this.auHasVcl && (vcl ? isFirstSliceOfPicture(this.codec, this.buf, nal) : startsAccessUnitAfterVcl(this.codec, nal.type)));
    if (opensNew && nal.startCode > this.auStart) {
      out.push(this.makeUnit(nal.startCode));
      this.auStart = nal.startCode;
      this.auHasVcl = false;
    }
    if (vcl) this.auHasVcl = true;
    const base = this.auStart;
    this.auNals.push({ startCode: nal.startCode - base, start: nal.start - base, end: nal.end - base, type: nal.type });
  }

  /** The current access unit, ending at `to`; the next one starts empty. */
  private makeUnit(to: number): AccessUnit {
    const payload = this.buf.slice(this.auStart, to);
    const info = describeNals(this.codec, payload, this.auNals);
    this.auNals = [];
    return { payload, ...info };
  }

  private dropBefore(offset: number): void {
    if (offset <= 0) return;
    this.buf.copyWithin(0, offset, this.len);
    this.len -= offset;
    this.scanFrom -= offset;
    if (this.auStart >= 0) this.auStart -= offset;
    if (this.open) this.open = { startCode: this.open.startCode - offset, start: this.open.start - offset };
  }
}
