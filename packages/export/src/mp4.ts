/**
 * The MP4 file, written by mediabunny without re-encoding: the access units go in as they were
 * recorded (Annex-B turned into length-prefixed NAL units), metadata at the end so that data is
 * written as it comes (memory holds one write chunk plus the sample table the moov needs).
 * Frames before time 0 make mediabunny write an edit list that starts the presentation at 0.
 * A WebVTT track carries the wall-clock time of each second.
 */
import { open } from 'node:fs/promises';

import { Codec, classifyAccessUnit, parseH264Sps, parseH265Sps } from '@valkka/fs';
import { EncodedPacket, EncodedVideoPacketSource, FilePathTarget, Mp4OutputFormat, Output, TextSubtitleSource } from 'mediabunny';

import type { CutFrame } from './cut.js';
import { ExportError, describeTime } from './errors.js';

/** Seconds between the MP4 epoch (1904) and the Unix epoch. */
const MP4_EPOCH_OFFSET = 2_082_844_800;

export type VideoCodecName = 'h264' | 'h265';

interface Track {
  output: Output;
  video: EncodedVideoPacketSource;
  subtitles: TextSubtitleSource | undefined;
}

export class Mp4Writer {
  private track: Track | undefined;
  private moovAt: number | undefined;
  private lastTime: number | undefined;
  private lastDuration = 0.04;
  codec: VideoCodecName | undefined;
  width = 0;
  height = 0;

  constructor(
    readonly path: string,
    /** ms since the epoch of time 0: the file's creation time. */
    readonly origin: number,
    readonly withSubtitles: boolean,
  ) {}

  /** Adds one access unit; the first must be a key frame carrying its parameter sets. */
  async addFrame(frame: CutFrame): Promise<void> {
    // The decoder configuration goes with the first packet.
    const meta = this.track ? undefined : { decoderConfig: await this.start(frame) };
    // mediabunny times each frame up to the next; only the last keeps the duration given here.
    if (this.lastTime !== undefined && frame.time > this.lastTime) this.lastDuration = frame.time - this.lastTime;
    this.lastTime = frame.time;
    const packet = new EncodedPacket(frame.payload, frame.key ? 'key' : 'delta', frame.time, this.lastDuration);
    await this.track!.video.add(packet, meta);
  }

  /** A subtitle cue from `start` to `end` seconds on the file's timeline. */
  async addCue(start: number, end: number, text: string): Promise<void> {
    const subtitles = this.track?.subtitles;
    if (!subtitles) return;
    await subtitles.add(`${vttTime(start)} --> ${vttTime(end)}\n${text}\n\n`);
  }

  /** Writes the metadata and closes the file. */
  async finish(): Promise<void> {
    const track = this.track;
    if (!track) throw new ExportError('ERANGE', 'no frame to write');
    await track.output.finalize();
    await this.patchCreationTime();
  }

  /** Stops writing (the file is left for the caller to remove). */
  async cancel(): Promise<void> {
    await this.track?.output.cancel().catch(() => undefined);
  }

  private moov: Uint8Array | undefined;

  /** Opens the file for a stream whose first frame is `first`; returns the decoder configuration. */
  private async start(first: CutFrame): Promise<{ codec: string; codedWidth: number; codedHeight: number }> {
    if (!first.key) throw new ExportError('EMEDIA', `the first frame to export (${describeTime(this.origin + first.time * 1000)}) is not a key frame`);
    const { codec, sps } = parameterSets(first, this.origin);
    this.codec = codec;
    this.width = sps.width;
    this.height = sps.height;
    const output = new Output({
      format: new Mp4OutputFormat({
        fastStart: false,
        onMoov: (data, position) => {
          this.moov = data.slice();
          this.moovAt = position;
        },
      }),
      // Unchunked: each muxer chunk (half a second of video) is written as it is, without a second copy.
      target: new FilePathTarget(this.path, { chunked: false }),
    });
    // Timescale 1000: the recording's milliseconds, exactly.
    const video = new EncodedVideoPacketSource(codec === 'h264' ? 'avc' : 'hevc');
    output.addVideoTrack(video, { frameRate: 1000 });
    let subtitles: TextSubtitleSource | undefined;
    if (this.withSubtitles) {
      subtitles = new TextSubtitleSource('webvtt');
      output.addSubtitleTrack(subtitles, { name: 'wall-clock time (UTC)' });
    }
    output.setMetadataTags({ date: new Date(this.origin) });
    await output.start();
    if (subtitles) await subtitles.add('WEBVTT\n\n');
    this.track = { output, video, subtitles };
    return { codec: sps.codecString, codedWidth: sps.width, codedHeight: sps.height };
  }

  /** mediabunny stamps the moov with the current time; the file's creation time is the recording's. */
  private async patchCreationTime(): Promise<void> {
    const moov = this.moov;
    if (!moov || this.moovAt === undefined) throw new Error('mediabunny did not report the moov box');
    const seconds = Math.floor(this.origin / 1000) + MP4_EPOCH_OFFSET;
    const view = new DataView(moov.buffer, moov.byteOffset, moov.byteLength);
    const visit = (start: number, end: number): void => {
      for (let at = start; at + 8 <= end; ) {
        const size = view.getUint32(at);
        const type = String.fromCharCode(...moov.subarray(at + 4, at + 8));
        if (size < 8 || at + size > end) throw new Error(`malformed ${type} box in the moov written by mediabunny`);
        if (type === 'trak' || type === 'mdia') visit(at + 8, at + size);
        else if (type === 'mvhd' || type === 'tkhd' || type === 'mdhd') {
          if (view.getUint8(at + 8) === 1) {
            view.setBigUint64(at + 12, BigInt(seconds));
            view.setBigUint64(at + 20, BigInt(seconds));
          } else {
            view.setUint32(at + 12, seconds);
            view.setUint32(at + 16, seconds);
          }
        }
        at += size;
      }
    };
    visit(8, moov.length);
    const file = await open(this.path, 'r+');
    try {
      await file.write(moov, 0, moov.length, this.moovAt);
    } finally {
      await file.close();
    }
  }
}

/** The codec and the SPS of a key frame (the recorder puts parameter sets before every key frame). */
function parameterSets(frame: CutFrame, origin: number): { codec: VideoCodecName; sps: { width: number; height: number; codecString: string } } {
  if (frame.codec !== Codec.h264 && frame.codec !== Codec.h265) {
    throw new ExportError('EMEDIA', `the stream's codec (id ${frame.codec}) cannot go into an MP4 here: only H.264 and H.265 are exported`);
  }
  const h264 = frame.codec === Codec.h264;
  const spsNal = classifyAccessUnit(frame.codec, frame.payload).configNals.find((nal) => (h264 ? (nal[0]! & 0x1f) === 7 : ((nal[0]! >> 1) & 0x3f) === 33));
  if (!spsNal) throw new ExportError('EMEDIA', `the key frame at ${describeTime(origin + Math.round(frame.time * 1000))} carries no sequence parameter set`);
  return { codec: h264 ? 'h264' : 'h265', sps: h264 ? parseH264Sps(spsNal) : parseH265Sps(spsNal) };
}

/** WebVTT time: hh:mm:ss.ttt (hours may exceed 99). */
function vttTime(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (v: number, n = 2): string => String(v).padStart(n, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}
