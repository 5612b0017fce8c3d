/**
 * Keeps a stream's codec configuration in-band: remembers the latest parameter sets and puts
 * them in front of every key frame that lacks them, so every key frame starts a decodable run
 * even when the camera sends SPS/PPS only once.
 */
import { describeNals, type AccessUnitInfo } from './access-unit.js';
import { CodecError } from './errors.js';
import { audType, configTypes, findNalUnits, isVideoCodec, joinAnnexB, type VideoCodec } from './nal.js';

export interface TrackedAccessUnit extends AccessUnitInfo {
  /** The payload, with the remembered parameter sets inserted when it is a key frame without them. */
  payload: Uint8Array;
  /** True when parameter sets were inserted. */
  addedConfig: boolean;
}

/** One per stream. */
export class ConfigTracker {
  private readonly codec: VideoCodec;
  /** Latest parameter-set NAL units by type (a copy: payloads may be reused buffers). */
  private readonly latest = new Map<number, Uint8Array[]>();

  constructor(codec: number) {
    if (!isVideoCodec(codec)) throw new CodecError('ECODEC', `ConfigTracker: codec ${codec} is not H.264 or H.265`);
    this.codec = codec;
  }

  /** The remembered parameter sets, in stream order (VPS, SPS, PPS); empty until seen. */
  get configNals(): Uint8Array[] {
    return configTypes(this.codec).flatMap((t) => this.latest.get(t) ?? []);
  }

  /** True once every needed parameter set has been seen. */
  get complete(): boolean {
    return configTypes(this.codec).every((t) => this.latest.has(t));
  }

  process(payload: Uint8Array): TrackedAccessUnit {
    // One scan of the payload serves both the classification and the parameter sets.
    const nals = findNalUnits(this.codec, payload);
    const info = describeNals(this.codec, payload, nals);
    // An access unit carrying a type replaces what was remembered for that type.
    const seen = new Map<number, Uint8Array[]>();
    for (const nal of nals) {
      if (!configTypes(this.codec).includes(nal.type)) continue;
      const list = seen.get(nal.type) ?? [];
      list.push(payload.slice(nal.start, nal.end));
      seen.set(nal.type, list);
    }
    for (const [type, list] of seen) this.latest.set(type, list);

    if (!info.key || info.hasConfig || !this.complete) return { ...info, payload, addedConfig: false };
    const missing = configTypes(this.codec).filter((t) => !seen.has(t));
    const inserted = missing.flatMap((t) => this.latest.get(t) ?? []);
    // Parameter sets go after an AUD (which must stay first) and before everything else.
    const first = nals[0];
    const splitAt = first && first.type === audType(this.codec) ? first.end : (first?.startCode ?? 0);
    const head = payload.subarray(0, splitAt);
    const config = joinAnnexB(inserted);
    const tail = payload.subarray(splitAt);
    const out = new Uint8Array(head.length + config.length + tail.length);
    out.set(head, 0);
    out.set(config, head.length);
    out.set(tail, head.length + config.length);
    return { key: true, hasConfig: true, configNals: configTypes(this.codec).flatMap((t) => seen.get(t) ?? this.latest.get(t) ?? []), payload: out, addedConfig: true };
  }
}
