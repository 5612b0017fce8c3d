import { type FileHandle, open } from 'node:fs/promises';
import { extname } from 'node:path';
import { AccessUnitSplitter, Codec, ConfigTracker, findNalUnits, isVcl, joinAnnexB, nalType, type VideoCodec } from '@valkka/fs';
import { parseDecoderRecord, splitLengthPrefixed } from './avcc.js';
import { SourceError } from './source-error.js';

/** One access unit of a clip: Annex-B with 4-byte start codes, parameter sets in front of every key frame. */
export interface ClipUnit {
  payload: Uint8Array;
  key: boolean;
}

/** A whole H.264/H.265 clip in memory, ready to be played as a camera. */
export interface MediaClip {
  path: string;
  codec: VideoCodec;
  container: 'annexb' | 'mp4';
  /** Frame duration in ms: from the MP4's timing, else the `fps` option (default 25). */
  frameMs: number;
  /** In decode order, starting at the first key frame (units before it cannot be decoded and are left out). */
  units: ClipUnit[];
}

export interface LoadClipOptions {
  /** 'h264' | 'h265' for an Annex-B file whose extension does not say (.h264/.264/.avc, .h265/.265/.hevc). */
  codec?: 'h264' | 'h265';
  /** Frame rate of an Annex-B file (it has no timestamps); also overrides an MP4's. Default 25. */
  fps?: number;
  /** Largest file accepted, bytes (default 256 MiB): a clip is held in memory whole. */
  maxBytes?: number;
}

const EXTENSION_CODECS: Record<string, VideoCodec> = {
  '.h264': Codec.h264,
  '.264': Codec.h264,
  '.avc': Codec.h264,
  '.h265': Codec.h265,
  '.265': Codec.h265,
  '.hevc': Codec.h265,
};

/** Reads an H.264/H.265 clip: Annex-B elementary stream, or MP4 (demuxed with mediabunny). */
export async function loadClip(path: string, options: LoadClipOptions = {}): Promise<MediaClip> {
  const fps = options.fps ?? 25;
  if (!(fps > 0 && fps <= 1000)) throw new SourceError('ERR_SOURCE_OPTIONS', `fps must be in (0, 1000], got ${options.fps}`);
  const bytes = await readBounded(path, options.maxBytes ?? 256 * 1024 * 1024);
  const isMp4 = bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'ftyp';
  const clip = isMp4 ? await demuxMp4(path, bytes, options.fps) : splitAnnexB(path, bytes, annexBCodec(path, bytes, options.codec), 1000 / fps);
  return clip;
}

/** Opens a media file for reading; failure is ERR_SOURCE_OPEN naming the file. */
export async function openMediaFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new SourceError('ERR_SOURCE_OPEN', `cannot open media file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function readBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  const file = await openMediaFile(path);
  try {
    const { size } = await file.stat();
    if (size > maxBytes) throw new SourceError('ERR_SOURCE_TOO_LARGE', `${path}: ${size} bytes is more than the ${maxBytes} allowed for a clip`);
    const bytes = new Uint8Array(size);
    const { bytesRead } = await file.read(bytes, 0, size, 0);
    return bytes.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

export function annexBCodec(path: string, bytes: Uint8Array, option: LoadClipOptions['codec']): VideoCodec {
  if (option !== undefined) {
    if (option !== 'h264' && option !== 'h265') throw new SourceError('ERR_SOURCE_OPTIONS', `codec must be 'h264' or 'h265', got ${String(option)}`);
    return Codec[option];
  }
  const byExtension = EXTENSION_CODECS[extname(path).toLowerCase()];
  if (byExtension !== undefined) return byExtension;
  // Sniff the first NAL header: H.265 streams begin with an AUD (0x46), VPS (0x40), SPS (0x42) or PPS (0x44).
  const first = findNalUnits(Codec.h264, bytes.subarray(0, 64))[0];
  const header = first ? bytes[first.start] : undefined;
  return header === 0x46 || header === 0x40 || header === 0x42 || header === 0x44 ? Codec.h265 : Codec.h264;
}

function splitAnnexB(path: string, bytes: Uint8Array, codec: VideoCodec, frameMs: number): MediaClip {
  const head = bytes.subarray(0, 4);
  if (!(head[0] === 0 && head[1] === 0 && (head[2] === 1 || (head[2] === 0 && head[3] === 1)))) {
    throw new SourceError('ERR_SOURCE_FORMAT', `${path}: neither an MP4 (no ftyp box) nor an Annex-B stream (no start code at byte 0)`);
  }
  const splitter = new AccessUnitSplitter(codec);
  let units: Uint8Array[];
  try {
    units = [...splitter.push(bytes), ...splitter.flush()].map((au) => au.payload);
  } catch (err) {
    throw new SourceError('ERR_SOURCE_FORMAT', `${path}: ${(err as Error).message}`, { cause: err });
  }
  return { path, codec, container: 'annexb', frameMs, units: finishUnits(path, codec, units.map((u) => nalsOf(codec, u))) };
}

async function demuxMp4(path: string, bytes: Uint8Array, fps: number | undefined): Promise<MediaClip> {
  const { BufferSource } = await import('mediabunny');
  const track = await openMp4Track(path, new BufferSource(bytes));
  try {
    const samples: Uint8Array[][] = [track.configNals]; // the record's parameter sets, remembered for key frames without them
    let duration = 0;
    for await (const sample of track.samples()) {
      samples.push(sample.nals);
      if (!duration && sample.duration > 0) duration = sample.duration;
    }
    const frameMs = fps !== undefined ? 1000 / fps : duration > 0 ? duration * 1000 : 40;
    return { path, codec: track.codec, container: 'mp4', frameMs, units: finishUnits(path, track.codec, samples) };
  } finally {
    track.dispose();
  }
}

/** The video track of an MP4 (mediabunny), its samples as NAL units: read as they are asked for. */
export interface Mp4Track {
  codec: VideoCodec;
  /** The avcC/hvcC record's parameter sets. */
  configNals: Uint8Array[];
  samples(): AsyncGenerator<{ nals: Uint8Array[]; duration: number }>;
  dispose(): void;
}

export async function openMp4Track(path: string, source: import('mediabunny').Source): Promise<Mp4Track> {
  const { Input, ALL_FORMATS, EncodedPacketSink } = await import('mediabunny');
  const input = new Input({ source, formats: ALL_FORMATS });
  const fail = (err: unknown): never => {
    input.dispose();
    if (err instanceof SourceError) throw err;
    throw new SourceError('ERR_SOURCE_FORMAT', `${path}: cannot demux the MP4: ${(err as Error).message}`, { cause: err });
  };
  try {
    const track = await input.getPrimaryVideoTrack();
    if (!track) throw new SourceError('ERR_SOURCE_EMPTY', `${path}: the MP4 has no video track`);
    const codec = track.codec === 'avc' ? Codec.h264 : track.codec === 'hevc' ? Codec.h265 : undefined;
    if (codec === undefined) throw new SourceError('ERR_SOURCE_CODEC', `${path}: video codec ${String(track.codec)} is not H.264 or H.265`);
    const config = await track.getDecoderConfig();
    const record = config?.description;
    if (!record) throw new SourceError('ERR_SOURCE_FORMAT', `${path}: the video track has no avcC/hvcC record`);
    const recordBytes = ArrayBuffer.isView(record) ? new Uint8Array(record.buffer, record.byteOffset, record.byteLength) : new Uint8Array(record);
    const { lengthSize, configNals } = parseDecoderRecord(codec, recordBytes, path);
    return {
      codec,
      configNals,
      async *samples() {
        let n = 0;
        try {
          for await (const packet of new EncodedPacketSink(track).packets()) {
            yield { nals: splitLengthPrefixed(packet.data, lengthSize, `${path} sample ${n++}`), duration: packet.duration };
          }
        } catch (err) {
          fail(err);
        }
      },
      dispose: () => input.dispose(),
    };
  } catch (err) {
    return fail(err);
  }
}

export function nalsOf(codec: VideoCodec, payload: Uint8Array): Uint8Array[] {
  return findNalUnits(codec, payload).map((n) => payload.subarray(n.start, n.end));
}

/**
 * A NAL unit never ends in a zero byte (its last byte holds the RBSP stop bit): zeros there are the byte
 * stream's trailing_zero_8bits, which demuxers attach to the NAL unit or not (ffmpeg's HEVC one does).
 */
function withoutTrailingZeros(nal: Uint8Array): Uint8Array {
  let end = nal.length;
  while (end > 1 && nal[end - 1] === 0) end--;
  return nal.subarray(0, end);
}

/**
 * Joins each access unit's NAL units with 4-byte start codes (so Annex-B and MP4 inputs give the same bytes),
 * puts the remembered parameter sets in front of key frames that lack them, and drops what cannot be
 * decoded: units before the first key frame, and units carrying no picture (parameter sets alone).
 * One access unit at a time, so a clip can be streamed (ClipFeed) as well as loaded whole.
 */
export class UnitFinisher {
  private readonly tracker: ConfigTracker;
  /** Units given out so far. */
  count = 0;

  constructor(
    private readonly path: string,
    private readonly codec: VideoCodec,
  ) {
    this.tracker = new ConfigTracker(codec);
  }

  /** The playable unit made of these NAL units, or undefined when there is none (see above). */
  take(accessUnit: Uint8Array[]): ClipUnit | undefined {
    const { codec } = this;
    const nals = accessUnit.map(withoutTrailingZeros);
    const tracked = this.tracker.process(joinAnnexB(nals)); // also remembers parameter sets of units without a picture
    const hasPicture = nals.some((nal) => nal.length > 0 && isVcl(codec, nalType(codec, nal[0]!)));
    if (!hasPicture || (this.count === 0 && !tracked.key)) return undefined;
    if (tracked.key && !tracked.hasConfig) {
      throw new SourceError('ERR_SOURCE_FORMAT', `${this.path}: key frame ${this.count} has no parameter sets (none seen before it)`);
    }
    this.count++;
    return { payload: tracked.payload, key: tracked.key };
  }

  /** Throws when the whole clip gave no playable unit. */
  end(): void {
    if (this.count === 0) throw new SourceError('ERR_SOURCE_EMPTY', `${this.path}: no decodable picture (no key frame with its parameter sets)`);
  }
}

function finishUnits(path: string, codec: VideoCodec, accessUnits: Uint8Array[][]): ClipUnit[] {
  const finisher = new UnitFinisher(path, codec);
  const units: ClipUnit[] = [];
  for (const au of accessUnits) {
    const unit = finisher.take(au);
    if (unit) units.push(unit);
  }
  finisher.end();
  return units;
}
