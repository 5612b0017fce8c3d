/**
 * Sequence parameter sets: picture size and the codec string (avc1.PPCCLL, hev1.P.C.TL.CC) that
 * a WebCodecs decoder needs to be configured.
 */
import { CodecError } from './errors.js';

export interface H264SpsInfo {
  profileIdc: number;
  /** constraint_set flags byte. */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  chromaFormatIdc: number;
  /** Bits per sample (8 unless a high profile says otherwise). */
  bitDepthLuma: number;
  bitDepthChroma: number;
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
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new CodecError('ESPS', `H.264 SPS: chroma_format_idc ${chromaFormatIdc} > 3`);
    if (chromaFormatIdc === 3) separateColourPlanes = r.u(1) === 1;
    bitDepthLuma = 8 + r.ue();
    bitDepthChroma = 8 + r.ue();
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
  return { profileIdc, constraintFlags, levelIdc, spsId, chromaFormatIdc, bitDepthLuma, bitDepthChroma, width, height, codecString: avc1CodecString(profileIdc, constraintFlags, levelIdc) };
}

export interface H265SpsInfo {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flags, bit 31 = flag 0. */
  compatibilityFlags: number;
  /** The 6 bytes of general constraint flags. */
  constraintBytes: number[];
  levelIdc: number;
  /** sps_max_sub_layers_minus1 + 1, and sps_temporal_id_nesting_flag. */
  maxSubLayers: number;
  temporalIdNesting: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Displayed size, conformance window applied. */
  width: number;
  height: number;
  /** "hev1.P.C.TL.CC" (ISO/IEC 14496-15 E.3) */
  codecString: string;
}

/** Parses an H.265 SPS NAL unit (2-byte header first, no start code). */
export function parseH265Sps(nal: Uint8Array): H265SpsInfo {
  if (nal.length < 4 || (((nal[0] ?? 0) >> 1) & 0x3f) !== 33) {
    throw new CodecError('ESPS', `not an H.265 SPS NAL unit (${nal.length} bytes, type ${((nal[0] ?? 0) >> 1) & 0x3f})`);
  }
  const r = new BitReader(unescapeRbsp(nal.subarray(2)), 'H.265 SPS');
  r.u(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  const temporalIdNesting = r.u(1);
  // profile_tier_level(1, maxSubLayersMinus1)
  const profileSpace = r.u(2);
  const tierFlag = r.u(1);
  const profileIdc = r.u(5);
  const compatibilityFlags = r.u(32);
  const constraintBytes = Array.from({ length: 6 }, () => r.u(8));
  const levelIdc = r.u(8);
  const subLayers = Array.from({ length: maxSubLayersMinus1 }, () => ({ profile: r.u(1), level: r.u(1) }));
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.u(2);
  for (const sub of subLayers) {
    if (sub.profile) for (let i = 0; i < 11; i++) r.u(8); // 88 bits of sub-layer profile
    if (sub.level) r.u(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3) throw new CodecError('ESPS', `H.265 SPS: chroma_format_idc ${chromaFormatIdc} > 3`);
  const separateColourPlanes = chromaFormatIdc === 3 && r.u(1) === 1;
  const picWidth = r.ue();
  const picHeight = r.ue();
  let window = [0, 0, 0, 0];
  if (r.u(1) === 1) window = [r.ue(), r.ue(), r.ue(), r.ue()];
  const [left = 0, right = 0, top = 0, bottom = 0] = window;
  const bitDepthLuma = 8 + r.ue();
  const bitDepthChroma = 8 + r.ue();
  const chroma = separateColourPlanes ? 0 : chromaFormatIdc;
  const subWidthC = chroma === 1 || chroma === 2 ? 2 : 1;
  const subHeightC = chroma === 1 ? 2 : 1;
  const width = picWidth - subWidthC * (left + right);
  const height = picHeight - subHeightC * (top + bottom);
  if (width <= 0 || height <= 0) throw new CodecError('ESPS', `H.265 SPS: conformance window leaves no picture (${width}x${height})`);
  const maxSubLayers = maxSubLayersMinus1 + 1;
  const info = { profileSpace, tierFlag, profileIdc, compatibilityFlags, constraintBytes, levelIdc, maxSubLayers, temporalIdNesting, chromaFormatIdc, bitDepthLuma, bitDepthChroma, width, height };
  return { ...info, codecString: hev1CodecString(info) };
}

/** "hev1.P.C.TL.CC": profile space and idc, reversed compatibility flags, tier and level, constraint bytes without trailing zeros. */
export function hev1CodecString(s: Pick<H265SpsInfo, 'profileSpace' | 'tierFlag' | 'profileIdc' | 'compatibilityFlags' | 'constraintBytes' | 'levelIdc'>): string {
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed = reversed * 2 + ((s.compatibilityFlags >>> i) & 1);
  const constraints = [...s.constraintBytes];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [
    'hev1',
    `${['', 'A', 'B', 'C'][s.profileSpace] ?? ''}${s.profileIdc}`,
    reversed.toString(16).toUpperCase(),
    `${s.tierFlag ? 'H' : 'L'}${s.levelIdc}`,
    ...constraints.map((b) => b.toString(16).toUpperCase().padStart(2, '0')),
  ];
  return parts.join('.');
}

/** "avc1.PPCCLL" from profile_idc, the constraint flags byte and level_idc. */
export function avc1CodecString(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  const hex = (v: number): string => v.toString(16).toUpperCase().padStart(2, '0');
  return `avc1.${hex(profileIdc)}${hex(constraintFlags)}${hex(levelIdc)}`;
}
