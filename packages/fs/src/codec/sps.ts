/**
 * H.264 sequence parameter set: picture size and the avc1 codec string (what a WebCodecs
 * decoder needs to be configured).
 */
import { CodecError } from './errors.js';

export interface H264SpsInfo {
  profileIdc: number;
  /** constraint_set flags byte. */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  chromaFormatIdc: number;
  /** Displayed size, cropping applied. */
  width: number;
  height: number;
  /** "avc1.PPCCLL" */
  codecString: string;
}

/** RBSP from NAL bytes: every 00 00 03 loses its 03 (emulation prevention). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** MSB-first bit reader with exp-Golomb codes; reading past the end is a CodecError. */
class BitReader {
  private bit = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw new CodecError('ESPS', `${this.what}: truncated at bit ${this.bit}`);
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }

  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new CodecError('ESPS', `${this.what}: exp-Golomb code longer than 32 bits at bit ${this.bit}`);
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an H.264 SPS NAL unit (header byte first, no start code). */
export function parseH264Sps(nal: Uint8Array): H264SpsInfo {
  if (nal.length < 4 || ((nal[0] ?? 0) & 0x1f) !== 7) {
    throw new CodecError('ESPS', `not an H.264 SPS NAL unit (${nal.length} bytes, type ${(nal[0] ?? 0) & 0x1f})`);
  }
  const r = new BitReader(unescapeRbsp(nal.subarray(1)), 'H.264 SPS');
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  const spsId = r.ue();
  let chromaFormatIdc = 1;
  let separateColourPlanes = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new CodecError('ESPS', `H.264 SPS: chroma_format_idc ${chromaFormatIdc} > 3`);
    if (chromaFormatIdc === 3) separateColourPlanes = r.u(1) === 1;
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.u(1) === 1) {
      for (let i = 0; i < (chromaFormatIdc === 3 ? 12 : 8); i++) {
        if (r.u(1) === 1) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw new CodecError('ESPS', `H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle ${cycle} > 255`);
    for (let i = 0; i < cycle; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.u(1); // mb_adaptive_frame_field_flag
  r.u(1); // direct_8x8_inference_flag
  let crop = [0, 0, 0, 0];
  if (r.u(1) === 1) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const [left = 0, right = 0, top = 0, bottom = 0] = crop;
  const monochromeLike = chromaFormatIdc === 0 || separateColourPlanes;
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2;
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = monochromeLike ? 1 : subWidthC;
  const cropUnitY = (monochromeLike ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropUnitX * (left + right);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (top + bottom);
  if (width <= 0 || height <= 0) throw new CodecError('ESPS', `H.264 SPS: cropping leaves no picture (${width}x${height})`);
  return { profileIdc, constraintFlags, levelIdc, spsId, chromaFormatIdc, width, height, codecString: avc1CodecString(profileIdc, constraintFlags, levelIdc) };
}

/** "avc1.PPCCLL" from profile_idc, the constraint flags byte and level_idc. */
export function avc1CodecString(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  const hex = (v: number): string => v.toString(16).toUpperCase().padStart(2, '0');
  return `avc1.${hex(profileIdc)}${hex(constraintFlags)}${hex(levelIdc)}`;
}
