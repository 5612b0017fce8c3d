/**
 * Annex-B NAL units: start codes, NAL types, which NAL units are pictures (VCL) and which are
 * codec configuration, for H.264 and H.265.
 */
import { Codec } from '../frame.js';

export type VideoCodec = typeof Codec.h264 | typeof Codec.h265;

export const H264Nal = { slice: 1, idr: 5, sei: 6, sps: 7, pps: 8, aud: 9 } as const;
export const H265Nal = { irapFirst: 16, irapLast: 23, vps: 32, sps: 33, pps: 34, aud: 35, prefixSei: 39, suffixSei: 40 } as const;

/** One NAL unit found in an Annex-B buffer; offsets are into that buffer. */
export interface NalUnit {
  /** Offset of its start code (00 00 01 or 00 00 00 01). */
  startCode: number;
  /** Offset of its first header byte. */
  start: number;
  /** Offset just past its last byte. */
  end: number;
  type: number;
}

export function isVideoCodec(codec: number): codec is VideoCodec {
  return codec === Codec.h264 || codec === Codec.h265;
}

/** NAL type from the first header byte. */
export function nalType(codec: VideoCodec, headerByte: number): number {
  return codec === Codec.h264 ? headerByte & 0x1f : (headerByte >> 1) & 0x3f;
}

/** Bytes of NAL header: 1 for H.264, 2 for H.265. */
export const nalHeaderBytes = (codec: VideoCodec): number => (codec === Codec.h264 ? 1 : 2);

/** A coded slice of a picture. */
export function isVcl(codec: VideoCodec, type: number): boolean {
  return codec === Codec.h264 ? type >= 1 && type <= 5 : type <= 31;
}

/** A picture that starts a decodable run: H.264 IDR, H.265 IRAP. */
export function isKeyNal(codec: VideoCodec, type: number): boolean {
  return codec === Codec.h264 ? type === H264Nal.idr : type >= H265Nal.irapFirst && type <= H265Nal.irapLast;
}

/** The parameter-set types a decoder needs, in the order they go in a stream. */
export function configTypes(codec: VideoCodec): readonly number[] {
  return codec === Codec.h264 ? H264_CONFIG : H265_CONFIG;
}
const H264_CONFIG: readonly number[] = Object.freeze([H264Nal.sps, H264Nal.pps]);
const H265_CONFIG: readonly number[] = Object.freeze([H265Nal.vps, H265Nal.sps, H265Nal.pps]);

export const audType = (codec: VideoCodec): number => (codec === Codec.h264 ? H264Nal.aud : H265Nal.aud);

/**
 * A NAL unit that, after a picture's slices, opens the next access unit (H.264 7.4.1.2.3,
 * H.265 7.4.2.4.4): parameter sets, AUD, prefix SEI and the reserved types before the slices.
 */
export function startsAccessUnitAfterVcl(codec: VideoCodec, type: number): boolean {
  if (codec === Codec.h264) return type === 6 || type === 7 || type === 8 || type === 9 || (type >= 14 && type <= 18);
  return (type >= 32 && type <= 35) || type === 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55);
}

/**
 * Whether a slice NAL begins a new picture, from the bit after its header: H.264
 * first_mb_in_slice == 0 (ue(v) 0 is the single bit 1), H.265 first_slice_segment_in_pic_flag.
 */
export function isFirstSliceOfPicture(codec: VideoCodec, bytes: Uint8Array, nal: NalUnit): boolean {
  const at = nal.start + nalHeaderBytes(codec);
  return at < nal.end && ((bytes[at] ?? 0) & 0x80) !== 0;
}

/**
 * Position of the next start code whose 00 00 01 begins at or after `from` in bytes[0..end): the
 * offset of its first zero (the 4-byte form's extra zero, when at or after `minStartCode`) and
 * of the NAL header after it; undefined if none.
 */
export function nextStartCode(
  bytes: Uint8Array,
  from: number,
  end = bytes.length,
  minStartCode = from,
): { startCode: number; start: number } | undefined {
  for (let i = Math.max(0, from); i + 2 < end; i++) {
    // Skip fast: a start code needs bytes[i+2] to be 0 or 1.
    const b2 = bytes[i + 2] ?? 0;
    if (b2 > 1) {
      i += 2;
      continue;
    }
    if (b2 === 1 && bytes[i] === 0 && bytes[i + 1] === 0) {
      const startCode = i - 1 >= minStartCode && bytes[i - 1] === 0 ? i - 1 : i;
      return { startCode, start: i + 3 };
    }
  }
  return undefined;
}

/** Every NAL unit of an Annex-B buffer; bytes before the first start code are ignored. */
export function findNalUnits(codec: VideoCodec, bytes: Uint8Array): NalUnit[] {
  const out: NalUnit[] = [];
  let sc = nextStartCode(bytes, 0);
  while (sc) {
    const next = nextStartCode(bytes, sc.start + 1);
    const end = next ? next.startCode : bytes.length;
    if (end > sc.start) out.push({ startCode: sc.startCode, start: sc.start, end, type: nalType(codec, bytes[sc.start] ?? 0) });
    sc = next;
  }
  return out;
}

/** NAL units (without start codes) joined into Annex-B with 4-byte start codes. */
export function joinAnnexB(nals: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(nals.reduce((n, nal) => n + 4 + nal.length, 0));
  let at = 0;
  for (const nal of nals) {
    out.set([0, 0, 0, 1], at);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}
