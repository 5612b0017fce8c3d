import { Codec } from '@valkka/fs';
import { SourceError } from './source-error.js';

/**
 * MP4 stores H.264/H.265 as length-prefixed NAL units (AVCC), with the parameter sets in the
 * avcC / hvcC box. These turn both into the NAL units our Annex-B frames are made of.
 */

/** The parameter-set NAL units of an avcC (H.264) or hvcC (H.265) record, and the size of the length prefixes. */
export function parseDecoderRecord(codec: number, record: Uint8Array, where: string): { lengthSize: number; configNals: Uint8Array[] } {
  const bad = (what: string): never => {
    throw new SourceError('ERR_SOURCE_FORMAT', `${where}: bad ${codec === Codec.h264 ? 'avcC' : 'hvcC'} record: ${what}`);
  };
  const u8 = (at: number): number => (at < record.length ? record[at]! : bad(`truncated at byte ${at}`));
  const u16 = (at: number): number => (u8(at) << 8) | u8(at + 1);
  const nal = (at: number, length: number): Uint8Array =>
    at + length <= record.length ? record.subarray(at, at + length) : bad(`NAL unit of ${length} bytes at ${at} runs past the end`);
  const configNals: Uint8Array[] = [];
  if (codec === Codec.h264) {
    if (u8(0) !== 1) bad(`configurationVersion ${u8(0)}`);
    const lengthSize = (u8(4) & 3) + 1;
    let at = 5;
    for (const countMask of [0x1f, 0xff]) {
      const count = u8(at++) & countMask; // SPS count (5 bits), then PPS count
      for (let i = 0; i < count; i++) {
        const length = u16(at);
        configNals.push(nal(at + 2, length));
        at += 2 + length;
      }
    }
    return { lengthSize, configNals };
  }
  const lengthSize = (u8(21) & 3) + 1;
  const arrays = u8(22);
  let at = 23;
  for (let a = 0; a < arrays; a++) {
    const count = u16(at + 1);
    at += 3;
    for (let i = 0; i < count; i++) {
      const length = u16(at);
      configNals.push(nal(at + 2, length));
      at += 2 + length;
    }
  }
  return { lengthSize, configNals };
}

/** The NAL units of one length-prefixed sample. */
export function splitLengthPrefixed(sample: Uint8Array, lengthSize: number, where: string): Uint8Array[] {
  const nals: Uint8Array[] = [];
  for (let at = 0; at < sample.length; ) {
    if (at + lengthSize > sample.length) throw new SourceError('ERR_SOURCE_FORMAT', `${where}: NAL length prefix cut at byte ${at}`);
    let length = 0;
    for (let i = 0; i < lengthSize; i++) length = length * 256 + sample[at + i]!;
    at += lengthSize;
    if (at + length > sample.length) {
      throw new SourceError('ERR_SOURCE_FORMAT', `${where}: NAL unit of ${length} bytes at byte ${at} runs past the sample (${sample.length} bytes)`);
    }
    if (length > 0) nals.push(sample.subarray(at, at + length));
    at += length;
  }
  return nals;
}
