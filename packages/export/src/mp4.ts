/**
 * The MP4 file, written here without re-encoding and in constant memory whatever the range: ftyp,
 * then the mdat streamed as the access units come (Annex-B turned into length-prefixed NAL units),
 * the sample tables kept compactly on the side (sample-table.ts), and the moov at the end. Times
 * are the recording's milliseconds (timescale 1000): a hole stays a gap on the timeline. Frames
 * before time 0 (from the key frame before `from`) are hidden by an edit list, so players start on
 * the frame at `from`. A tx3g text track can carry the wall-clock time of each second.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';

import { Codec, classifyAccessUnit, parseH264Sps, parseH265Sps } from '@valkka/fs';

import * as boxes from './boxes.js';
import { ExportError, describeTime } from './errors.js';
import type { RangeFrame } from './range.js';
import { SampleTable } from './sample-table.js';

export type VideoCodecName = 'h264' | 'h265';

/** Timescale of the movie and its tracks: ms, the recording's unit. */
const TIMESCALE = 1000;
/** Duration of a file's only frame (nothing follows it to say how long it lasts). */
const SINGLE_FRAME_MS = 40;
/** Each of the two output buffers (one filled while the other is written). */
const OUTPUT_BUFFER = 2 ** 20;
const START_CODE = Buffer.from([0, 0, 1]);

export interface Mp4WriterOptions {
  /** Sample-table entries kept in memory per list before they go to the scratch file (tests). */
  tableChunk?: number;
}

export class Mp4Writer {
  codec: VideoCodecName | undefined;
  width = 0;
  height = 0;
  private sink: FileSink | undefined;
  private sampleEntry: Uint8Array | undefined;
  private mdatAt = 0;
  private readonly video: SampleTable;
  private readonly text: SampleTable | undefined;
  /** End of the last cue on the timeline (ms): the text track is continuous from 0. */
  private textEnd = 0;
  private lastCue = 0;

  constructor(
    readonly path: string,
    /** ms since the epoch of time 0: the file's creation time. */
    readonly origin: number,
    withSubtitles: boolean,
    options: Mp4WriterOptions = {},
  ) {
    const scratch = `${path}.${randomBytes(4).toString('hex')}`;
    this.video = new SampleTable(`${scratch}.video`, options.tableChunk);
    this.text = withSubtitles ? new SampleTable(`${scratch}.text`, options.tableChunk) : undefined;
  }

  /** Sample-table bytes held in memory now, and the most at any time: bounded whatever the number of frames. */
  get tableBytesHeld(): number {
    return this.video.bytesHeld + (this.text?.bytesHeld ?? 0);
  }

  get peakTableBytes(): number {
    return this.video.peakBytesHeld + (this.text?.peakBytesHeld ?? 0);
  }

  /** Adds one access unit; the first must be a key frame carrying its parameter sets. */
  async addFrame(frame: RangeFrame): Promise<void> {
    const sink = this.sink ?? (await this.start(frame));
    const offset = sink.position;
    const bytes = Buffer.isBuffer(frame.payload) ? frame.payload : Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
    // Each NAL unit: its length (4 bytes) and its bytes, without the start code.
    let start = bytes.indexOf(START_CODE);
    if (start < 0) throw new ExportError('EMEDIA', `the frame at ${describeTime(frame.timestamp)} holds no NAL unit (no Annex-B start code)`);
    while (start >= 0) {
      start += 3;
      const next = bytes.indexOf(START_CODE, start);
      let end = next < 0 ? bytes.length : next;
      // Zero bytes before a start code belong to it (the 4-byte form, trailing_zero_8bits).
      while (end > start && bytes[end - 1] === 0) end--;
      if (end > start) {
        if (sink.free < 4) await sink.flush();
        sink.putU32(end - start);
        await sink.put(bytes, start, end);
      }
      start = next;
    }
    this.video.add(offset, sink.position - offset, frame.timestamp - this.origin, frame.key, frame.key);
  }

  /** A wall-clock cue from `start` to `end` ms on the file's timeline (after the previous cue). */
  async addCue(start: number, end: number, text: string): Promise<void> {
    if (!this.text || !this.sink || end <= start) return;
    if (start > this.textEnd) await this.addText(this.textEnd, '');
    await this.addText(Math.max(start, this.textEnd), text);
    this.lastCue = Math.max(start, this.textEnd);
    this.textEnd = end;
  }

  /** Writes the sample tables and closes the file. */
  async finish(): Promise<void> {
    const sink = this.sink;
    if (!sink) throw new ExportError('ERANGE', 'no frame to write');
    const video = this.video;
    video.finish(video.samples === 1 ? SINGLE_FRAME_MS : undefined);
    // The last cue lasts as long as the last frame is shown.
    this.text?.finish(Math.max(this.textEnd, video.lastTime + video.lastDuration) - this.lastCue);
    await sink.flush();
    await sink.drain();
    await sink.patch(this.mdatAt + 8, new boxes.Fields().u64(sink.position - this.mdatAt).done());

    const created = boxes.mp4Time(this.origin);
    // Time 0 is the frame at `from`: earlier frames are skipped, or an empty edit waits for the first frame.
    const first = video.firstTime!;
    const edits: boxes.Edit[] =
      first > 0
        ? [
            { duration: first, mediaTime: -1 },
            { duration: video.duration, mediaTime: 0 },
          ]
        : [{ duration: video.duration + first, mediaTime: -first }];
    const videoDuration = edits.reduce((n, e) => n + e.duration, 0);
    const text = this.text && this.text.samples > 0 ? this.text : undefined;
    const tracks: Track[] = [
      {
        table: video,
        head: [boxes.tkhd(created, 1, videoDuration, this.width, this.height), boxes.edts(edits)],
        mdhd: boxes.mdhd(created, TIMESCALE, video.duration),
        hdlr: boxes.hdlr('vide', 'VideoHandler'),
        media: boxes.mediaHeaders(true),
        stsd: this.sampleEntry!,
      },
    ];
    if (text) {
      tracks.push({
        table: text,
        head: [boxes.tkhd(created, 2, text.duration, 0, 0)],
        mdhd: boxes.mdhd(created, TIMESCALE, text.duration),
        hdlr: boxes.hdlr('sbtl', 'wall-clock time (UTC)'),
        media: boxes.mediaHeaders(false),
        stsd: boxes.textSampleEntry(),
      });
    }
    const mvhd = boxes.mvhd(created, TIMESCALE, Math.max(videoDuration, text?.duration ?? 0), tracks.length + 1);
    const udta = boxes.dateTag(this.origin);
    const sizes = tracks.map(trackSizes);
    await sink.write(boxes.boxHeader('moov', 8 + mvhd.length + sizes.reduce((n, s) => n + s.trak, 0) + udta.length));
    await sink.write(mvhd);
    for (const [i, t] of tracks.entries()) {
      const s = sizes[i]!;
      await sink.write(boxes.boxHeader('trak', s.trak));
      for (const b of t.head) await sink.write(b);
      await sink.write(boxes.boxHeader('mdia', s.mdia));
      await sink.write(t.mdhd);
      await sink.write(t.hdlr);
      await sink.write(boxes.boxHeader('minf', s.minf));
      for (const b of t.media) await sink.write(b);
      await sink.write(boxes.boxHeader('stbl', s.stbl));
      await sink.write(t.stsd);
      await t.table.write(sink);
    }
    await sink.write(udta);
    await sink.flush();
    await sink.close();
    this.closeTables();
  }

  /** Stops writing (the file is left for the caller to remove). */
  async cancel(): Promise<void> {
    await this.sink?.close().catch(() => undefined);
    this.closeTables();
  }

  private closeTables(): void {
    this.video.close();
    this.text?.close();
  }

  private async addText(time: number, text: string): Promise<void> {
    const sink = this.sink!;
    const sample = boxes.textSample(text);
    const offset = sink.position;
    await sink.write(sample);
    this.text!.add(offset, sample.length, time, true);
  }

  /** Opens the file for a stream whose first frame is `first`: ftyp and the mdat header. */
  private async start(first: RangeFrame): Promise<FileSink> {
    if (!first.key) throw new ExportError('EMEDIA', `the first frame to export (${describeTime(first.timestamp)}) is not a key frame`);
    const { codec, width, height, entry } = sampleEntry(first);
    this.codec = codec;
    this.width = width;
    this.height = height;
    this.sampleEntry = entry;
    const sink = new FileSink(await open(this.path, 'w'));
    this.sink = sink;
    await sink.write(boxes.ftyp(codec === 'h264' ? ['avc1'] : []));
    this.mdatAt = sink.position;
    // Size 1: the real size follows as 64 bits (filled in at the end), so the mdat may pass 4 GiB.
    await sink.write(new boxes.Fields().u32(1).ascii('mdat').u64(0).done());
    return sink;
  }
}

interface Track {
  table: SampleTable;
  /** tkhd, and edts for the video. */
  head: Uint8Array[];
  mdhd: Uint8Array;
  hdlr: Uint8Array;
  media: Uint8Array[];
  stsd: Uint8Array;
}

/** The sizes of a track's nested boxes, known before any of them is written. */
function trackSizes(t: Track): { trak: number; mdia: number; minf: number; stbl: number } {
  const sum = (list: Uint8Array[]): number => list.reduce((n, b) => n + b.length, 0);
  const stbl = 8 + t.stsd.length + t.table.boxesSize;
  const minf = 8 + sum(t.media) + stbl;
  const mdia = 8 + t.mdhd.length + t.hdlr.length + minf;
  return { trak: 8 + sum(t.head) + mdia, mdia, minf, stbl };
}

/** The codec, picture size and avc1/hvc1 sample entry of a key frame (the recorder puts parameter sets before each). */
function sampleEntry(frame: RangeFrame): { codec: VideoCodecName; width: number; height: number; entry: Uint8Array } {
  if (frame.codec !== Codec.h264 && frame.codec !== Codec.h265) {
    throw new ExportError('EMEDIA', `the stream's codec (id ${frame.codec}) cannot go into an MP4 here: only H.264 and H.265 are exported`);
  }
  const h264 = frame.codec === Codec.h264;
  const nals = classifyAccessUnit(frame.codec, frame.payload).configNals;
  const ofType = (type: number): Uint8Array[] => nals.filter((n) => (h264 ? n[0]! & 0x1f : (n[0]! >> 1) & 0x3f) === type);
  const sps = ofType(h264 ? 7 : 33);
  const pps = ofType(h264 ? 8 : 34);
  const vps = ofType(32);
  if (sps.length === 0 || pps.length === 0 || (!h264 && vps.length === 0)) {
    throw new ExportError('EMEDIA', `the key frame at ${describeTime(frame.timestamp)} does not carry its parameter sets (${h264 ? 'SPS and PPS' : 'VPS, SPS and PPS'})`);
  }
  // The boxes are built from copies of the bytes (the frame's block buffer is reused).
  if (h264) {
    const info = parseH264Sps(sps[0]!);
    return { codec: 'h264', width: info.width, height: info.height, entry: boxes.visualSampleEntry('avc1', info.width, info.height, boxes.avcC(sps, pps, info)) };
  }
  const info = parseH265Sps(sps[0]!);
  const config = boxes.hvcC(
    [
      { type: 32, nals: vps },
      { type: 33, nals: sps },
      { type: 34, nals: pps },
    ],
    info,
  );
  return { codec: 'h265', width: info.width, height: info.height, entry: boxes.visualSampleEntry('hvc1', info.width, info.height, config) };
}

/**
 * Sequential writes to the output through two buffers: one is filled while the other is being
 * written, so the disk and the muxing overlap. `position` is the file offset of the next byte.
 */
class FileSink implements boxes.ByteSink {
  position = 0;
  private buffer = Buffer.allocUnsafe(OUTPUT_BUFFER);
  private spare = Buffer.allocUnsafe(OUTPUT_BUFFER);
  private used = 0;
  /** File offset of the buffer's first byte. */
  private base = 0;
  private writing: Promise<unknown> | undefined;

  constructor(private readonly file: FileHandle) {}

  get free(): number {
    return this.buffer.length - this.used;
  }

  putU32(v: number): void {
    this.buffer.writeUInt32BE(v, this.used);
    this.used += 4;
    this.position += 4;
  }

  /** Copies bytes[start, end) into the output. */
  async put(bytes: Buffer, start: number, end: number): Promise<void> {
    while (start < end) {
      if (this.free === 0) await this.flush();
      const n = Math.min(this.free, end - start);
      bytes.copy(this.buffer, this.used, start, start + n);
      this.used += n;
      this.position += n;
      start += n;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.put(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.length);
  }

  /** Starts writing what the buffer holds (after the previous write finished) and swaps buffers. */
  async flush(): Promise<void> {
    await this.drain();
    if (this.used === 0) return;
    const full = this.buffer;
    const at = this.base;
    const length = this.used;
    this.writing = writeAll(this.file, full, length, at);
    // Its failure is reported by the next flush, drain or close; until then it is not unhandled.
    this.writing.catch(() => undefined);
    this.buffer = this.spare;
    this.spare = full;
    this.base += length;
    this.used = 0;
  }

  /** Waits for the write in progress. */
  async drain(): Promise<void> {
    const writing = this.writing;
    this.writing = undefined;
    await writing;
  }

  /** Overwrites bytes already written (the mdat size). */
  async patch(at: number, bytes: Uint8Array): Promise<void> {
    await this.drain();
    await writeAll(this.file, bytes, bytes.length, at);
  }

  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      await this.file.close();
    }
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array, length: number, at: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await file.write(bytes, done, length - done, at + done);
    done += bytesWritten;
  }
}
