/**
 * ISO BMFF boxes (ISO/IEC 14496-12, -15; 3GPP TS 26.245 for tx3g) built in memory: the small,
 * fixed ones of the moov. The sample tables, which grow with the range, are streamed by
 * sample-table.ts instead.
 */

import type { H265SpsInfo } from '@valkka/fs';

/** Where boxes go: the output file (mp4.ts) or, in tests, memory. */
export interface ByteSink {
  write(bytes: Uint8Array): void | Promise<void>;
}

/** Seconds between the MP4 epoch (1904) and the Unix epoch. */
const MP4_EPOCH_OFFSET = 2_082_844_800;

/** 'und' as the packed ISO 639-2 code of mdhd. */
const LANGUAGE_UND = 0x55c4;

const IDENTITY_MATRIX = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/** Big-endian fields into a growing list of bytes. */
export class Fields {
  private parts: number[] = [];

  u8(...values: number[]): this {
    for (const v of values) this.parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v >> 8, v);
  }

  u32(v: number): this {
    return this.u8(v >>> 24, v >>> 16, v >>> 8, v);
  }

  u64(v: number): this {
    return this.u32(Math.floor(v / 2 ** 32)).u32(v >>> 0);
  }

  ascii(text: string): this {
    for (let i = 0; i < text.length; i++) this.parts.push(text.charCodeAt(i));
    return this;
  }

  bytes(b: Uint8Array): this {
    for (const v of b) this.parts.push(v);
    return this;
  }

  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The 8-byte header of a box of `size` bytes in all. */
export function boxHeader(type: string, size: number): Uint8Array {
  if (size > 0xffff_ffff) throw new Error(`${type} box of ${size} bytes: only mdat may exceed 4 GiB here`);
  return new Fields().u32(size).ascii(type).done();
}

export function box(type: string, ...children: Uint8Array[]): Uint8Array {
  const size = 8 + children.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(size);
  out.set(boxHeader(type, size));
  let at = 8;
  for (const c of children) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function fullBox(type: string, version: number, flags: number, ...children: Uint8Array[]): Uint8Array {
  return box(type, new Fields().u8(version, flags >> 16, flags >> 8, flags).done(), ...children);
}

/** Seconds since 1904 of a time in ms since the epoch. */
export function mp4Time(ms: number): number {
  return Math.floor(ms / 1000) + MP4_EPOCH_OFFSET;
}

export function ftyp(brands: string[]): Uint8Array {
  const f = new Fields().ascii('isom').u32(0x200);
  for (const b of ['isom', 'iso2', ...brands, 'mp41']) f.ascii(b);
  return box('ftyp', f.done());
}

/** Version 1 (64-bit times and durations): a creation time past 2040, a range longer than 49 days. */
export function mvhd(created: number, timescale: number, duration: number, nextTrackId: number): Uint8Array {
  const f = new Fields().u64(created).u64(created).u32(timescale).u64(duration).u32(0x0001_0000).u16(0x0100).u16(0).u32(0).u32(0);
  for (const m of IDENTITY_MATRIX) f.u32(m);
  for (let i = 0; i < 6; i++) f.u32(0);
  return fullBox('mvhd', 1, 0, f.u32(nextTrackId).done());
}

export function tkhd(created: number, trackId: number, duration: number, width: number, height: number): Uint8Array {
  const f = new Fields().u64(created).u64(created).u32(trackId).u32(0).u64(duration).u32(0).u32(0).u16(0).u16(0).u16(0).u16(0);
  for (const m of IDENTITY_MATRIX) f.u32(m);
  // Flags: enabled, in the movie.
  return fullBox('tkhd', 1, 3, f.u32(width * 0x10000).u32(height * 0x10000).done());
}

export interface Edit {
  duration: number;
  /** Media time the edit starts at; -1 for an empty edit (nothing shown). */
  mediaTime: number;
}

export function edts(edits: Edit[]): Uint8Array {
  const f = new Fields().u32(edits.length);
  for (const e of edits) {
    f.u64(e.duration);
    if (e.mediaTime < 0) f.u32(0xffff_ffff).u32(0xffff_ffff);
    else f.u64(e.mediaTime);
    f.u16(1).u16(0); // rate 1.0
  }
  return box('edts', fullBox('elst', 1, 0, f.done()));
}

export function mdhd(created: number, timescale: number, duration: number): Uint8Array {
  return fullBox('mdhd', 1, 0, new Fields().u64(created).u64(created).u32(timescale).u64(duration).u16(LANGUAGE_UND).u16(0).done());
}

export function hdlr(handler: string, name: string): Uint8Array {
  return fullBox('hdlr', 0, 0, new Fields().u32(0).ascii(handler).u32(0).u32(0).u32(0).bytes(Buffer.from(`${name}\0`, 'utf8')).done());
}

/** The media header and data reference of a video ('vmhd') or other ('nmhd') track. */
export function mediaHeaders(video: boolean): Uint8Array[] {
  const header = video ? fullBox('vmhd', 0, 1, new Fields().u16(0).u16(0).u16(0).u16(0).done()) : fullBox('nmhd', 0, 0);
  const dinf = box('dinf', fullBox('dref', 0, 0, new Fields().u32(1).done(), fullBox('url ', 0, 1)));
  return [header, dinf];
}

/** avc1/hvc1 sample entry: the picture size and the decoder configuration (avcC/hvcC). */
export function visualSampleEntry(type: 'avc1' | 'hvc1', width: number, height: number, config: Uint8Array): Uint8Array {
  const f = new Fields().u32(0).u16(0).u16(1); // reserved, data_reference_index
  f.u16(0).u16(0).u32(0).u32(0).u32(0).u16(width).u16(height).u32(0x0048_0000).u32(0x0048_0000).u32(0).u16(1);
  const name = 'ValkkaFS export';
  f.u8(name.length).ascii(name);
  for (let i = name.length + 1; i < 32; i++) f.u8(0);
  f.u16(0x18).u16(0xffff);
  return fullBox('stsd', 0, 0, new Fields().u32(1).done(), box(type, f.done(), config));
}

/** tx3g (3GPP timed text) sample entry: white text, bottom centre, on a half-transparent box. */
export function textSampleEntry(): Uint8Array {
  const f = new Fields().u32(0).u16(0).u16(1);
  f.u32(0).u8(1, 0xff).u8(0, 0, 0, 0x80); // display flags, centred, bottom, background rgba
  f.u16(0).u16(0).u16(0).u16(0); // default text box: the whole track
  f.u16(0).u16(0).u16(1).u8(0, 18).u8(0xff, 0xff, 0xff, 0xff); // style: font 1, plain, 18 px, white
  const font = 'Sans-Serif';
  const ftab = box('ftab', new Fields().u16(1).u16(1).u8(font.length).ascii(font).done());
  return fullBox('stsd', 0, 0, new Fields().u32(1).done(), box('tx3g', f.done(), ftab));
}

/** One tx3g sample: the text (empty for a gap between cues). */
export function textSample(text: string): Uint8Array {
  const utf8 = Buffer.from(text, 'utf8');
  return new Fields().u16(utf8.length).bytes(utf8).done();
}

/** The recording date as the iTunes-style ©day tag (what ffprobe shows as "date"). */
export function dateTag(ms: number): Uint8Array {
  const text = new Date(ms).toISOString();
  const data = box('data', new Fields().u32(1).u32(0).ascii(text).done());
  const handler = fullBox('hdlr', 0, 0, new Fields().u32(0).ascii('mdir').ascii('appl').u32(0).u32(0).u8(0).done());
  return box('udta', fullBox('meta', 0, 0, handler, box('ilst', box('\u00a9day', data))));
}

/** avcC (ISO/IEC 14496-15 5.3.3.1) from the SPS and PPS NAL units of a key frame. */
export function avcC(sps: Uint8Array[], pps: Uint8Array[], info: { chromaFormatIdc: number; bitDepthLuma: number; bitDepthChroma: number }): Uint8Array {
  const first = sps[0]!;
  const f = new Fields().u8(1, first[1]!, first[2]!, first[3]!, 0xff, 0xe0 | sps.length);
  for (const n of sps) f.u16(n.length).bytes(n);
  f.u8(pps.length);
  for (const n of pps) f.u16(n.length).bytes(n);
  // High profiles carry the chroma format and bit depths too.
  if (![66, 77, 88].includes(first[1]!)) f.u8(0xfc | info.chromaFormatIdc, 0xf8 | (info.bitDepthLuma - 8), 0xf8 | (info.bitDepthChroma - 8), 0);
  return box('avcC', f.done());
}

/** What hvcC needs of the SPS (the displayed size and codec string are not in it). */
export type HevcInfo = Omit<H265SpsInfo, 'width' | 'height' | 'codecString'>;

/** hvcC (ISO/IEC 14496-15 8.3.3.1) from the VPS, SPS and PPS NAL units of a key frame. */
export function hvcC(arrays: Array<{ type: number; nals: Uint8Array[] }>, s: HevcInfo): Uint8Array {
  const f = new Fields().u8(1, (s.profileSpace << 6) | (s.tierFlag << 5) | s.profileIdc).u32(s.compatibilityFlags).u8(...s.constraintBytes, s.levelIdc);
  f.u16(0xf000).u8(0xfc, 0xfc | s.chromaFormatIdc, 0xf8 | (s.bitDepthLuma - 8), 0xf8 | (s.bitDepthChroma - 8)).u16(0);
  f.u8((s.maxSubLayers << 3) | (s.temporalIdNesting << 2) | 3); // lengthSizeMinusOne 3
  f.u8(arrays.length);
  for (const { type, nals } of arrays) {
    f.u8(0x80 | type).u16(nals.length); // array_completeness: every set of this type is here (as hvc1 asks)
    for (const n of nals) f.u16(n.length).bytes(n);
  }
  return box('hvcC', f.done());
}
