/**
 * What the writer does to a frame before it is stored: validate its fields, derive key/config
 * flags from the payload (H.264/H.265), and prepend the stream's codec configuration to a key
 * frame that lacks it, so every stored key frame starts a decodable run.
 */
import { classifyAccessUnit } from './codec/access-unit.js';
import { isVideoCodec } from './codec/nal.js';
import { ValkkaFSError } from './errors.js';
import { type Frame, FrameFlags } from './frame.js';

const START_CODE = Uint8Array.of(0, 0, 0, 1);

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

/** Remembers each video stream's last complete configuration (parameter sets) and adds it where missing. */
export class FrameIngest {
  private readonly config = new Map<number, Uint8Array>();

  /** The frame as it will be stored (a new object when flags or payload change). */
  prepare(frame: Frame): Frame {
    validateFrame(frame);
    if (!isVideoCodec(frame.codec)) return { ...frame, flags: (frame.flags & ~FrameFlags.config) | FrameFlags.key };
    const info = classifyAccessUnit(frame.codec, frame.payload);
    const streamKey = frame.streamId * 256 + frame.subsession;
    if (info.hasConfig) this.config.set(streamKey, annexB(info.configNals));
    let payload = frame.payload;
    let hasConfig = info.hasConfig;
    if (info.key && !hasConfig) {
      const config = this.config.get(streamKey);
      if (config) {
        payload = concat(config, frame.payload);
        hasConfig = true;
      }
    }
    const flags = (frame.flags & ~(FrameFlags.key | FrameFlags.config)) | (info.key ? FrameFlags.key : 0) | (hasConfig ? FrameFlags.config : 0);
    return payload === frame.payload && flags === frame.flags ? frame : { ...frame, flags, payload };
  }
}

function annexB(nals: readonly Uint8Array[]): Uint8Array {
  return concat(...nals.flatMap((n) => [START_CODE, n]));
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
