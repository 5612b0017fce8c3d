/**
 * What the writer does to a frame before it is stored: validate its fields, derive key/config
 * flags from the payload (H.264/H.265, codec/classifyAccessUnit), and prepend the stream's
 * codec configuration to a key frame that lacks it (codec/ConfigTracker), so every stored key
 * frame starts a decodable run. Frames of other codecs are all key frames.
 */
import { ConfigTracker } from './codec/config-tracker.js';
import { type VideoCodec, configTypes, isKeyNal, isVcl, isVideoCodec, nalType, nextStartCode } from './codec/nal.js';
import { ValkkaFSError } from './errors.js';
import { type Frame, FrameFlags } from './frame.js';

function bad(what: string, value: unknown): never {
  throw new ValkkaFSError('EARGUMENT', `frame ${what} is invalid: ${String(value)}`);
}

export function validateFrame(f: Frame): void {
  if (!Number.isInteger(f.streamId) || f.streamId < 1 || f.streamId > 0xffffffff) bad('streamId (1..2^32-1)', f.streamId);
  if (!Number.isInteger(f.subsession) || f.subsession < 0 || f.subsession > 255) bad('subsession (0..255)', f.subsession);
  if (!Number.isSafeInteger(f.timestamp) || f.timestamp < 0) bad('timestamp (ms >= 0)', f.timestamp);
  if (!Number.isInteger(f.mediaType) || f.mediaType < -128 || f.mediaType > 127) bad('mediaType', f.mediaType);
  if (!Number.isInteger(f.codec) || f.codec < 0 || f.codec > 0xffffffff) bad('codec', f.codec);
  if (!(f.payload instanceof Uint8Array)) bad('payload', typeof f.payload);
}

export class FrameIngest {
  /** One tracker per (stream, subsession), replaced when the stream's codec changes. */
  private readonly trackers = new Map<number, { codec: number; tracker: ConfigTracker }>();

  /** The frame as it will be stored (a new object when flags or payload change). */
  prepare(frame: Frame): Frame {
    validateFrame(frame);
    if (!isVideoCodec(frame.codec)) return withFlags(frame, (frame.flags & ~FrameFlags.config) | FrameFlags.key, frame.payload);
    const first = firstPicture(frame.codec, frame.payload);
    // An inter picture with no parameter set in front: nothing to learn or add.
    if (first && !first.key && !first.configBefore) return withFlags(frame, frame.flags & ~(FrameFlags.key | FrameFlags.config), frame.payload);
    const tracker = this.trackerFor(frame.streamId, frame.subsession, frame.codec);
    // Everything the tracker looks at (parameter sets, the picture's type) comes before the first
    // slice's data: give it only that prefix unless it has to insert parameter sets.
    let au = tracker.process(first ? frame.payload.subarray(0, first.headerEnd) : frame.payload);
    let payload = frame.payload;
    if (au.addedConfig || !first) {
      au = first ? tracker.process(frame.payload) : au;
      payload = au.payload;
    }
    const flags = (frame.flags & ~(FrameFlags.key | FrameFlags.config)) | (au.key ? FrameFlags.key : 0) | (au.hasConfig ? FrameFlags.config : 0);
    return withFlags(frame, flags, payload);
  }

  /**
   * Remembers the parameter sets of a stored frame (a resumed writer learns each stream's last
   * configuration from what is on the device), without storing anything.
   */
  learn(frame: Frame): void {
    if (isVideoCodec(frame.codec)) this.trackerFor(frame.streamId, frame.subsession, frame.codec).process(configPrefix(frame));
  }

  private trackerFor(streamId: number, subsession: number, codec: VideoCodec): ConfigTracker {
    const key = streamId * 256 + subsession;
    let entry = this.trackers.get(key);
    if (!entry || entry.codec !== codec) {
      entry = { codec, tracker: new ConfigTracker(codec) };
      this.trackers.set(key, entry);
    }
    return entry.tracker;
  }
}

/** The part of an H.264/H.265 access unit up to its first picture's NAL header: its parameter sets and picture type. */
export function configPrefix(frame: Frame): Uint8Array {
  if (!isVideoCodec(frame.codec)) return frame.payload.subarray(0, 0);
  const first = firstPicture(frame.codec, frame.payload);
  return first ? frame.payload.subarray(0, first.headerEnd) : frame.payload;
}

function withFlags(frame: Frame, flags: number, payload: Uint8Array): Frame {
  return flags === frame.flags && payload === frame.payload ? frame : { ...frame, flags, payload };
}

/**
 * The access unit's first VCL NAL unit (parameter sets precede it in an access unit): whether it is
 * a key picture, whether a parameter set came before it, and where its NAL header ends. Looks at the
 * first few NAL units only; undefined when none of them is a VCL unit.
 */
function firstPicture(codec: VideoCodec, payload: Uint8Array): { key: boolean; configBefore: boolean; headerEnd: number } | undefined {
  const config = configTypes(codec);
  let configBefore = false;
  let sc = nextStartCode(payload, 0);
  for (let n = 0; sc && n < 8; n++) {
    const type = nalType(codec, payload[sc.start] ?? 0);
    if (isVcl(codec, type)) return { key: isKeyNal(codec, type), configBefore, headerEnd: Math.min(payload.length, sc.start + 2) };
    if (config.includes(type)) configBefore = true;
    sc = nextStartCode(payload, sc.start + 1);
  }
  return undefined;
}
