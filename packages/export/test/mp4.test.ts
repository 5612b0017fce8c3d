// The MP4 writer alone: its sample tables stay within a fixed number of bytes in memory however
// many frames go through it (read back by ffprobe, packet by packet), and chunk offsets past
// 4 GiB switch stco to co64 (checked on the table's own boxes, without writing 4 GiB).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Codec, findNalUnits } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ExportError } from '../src/errors.js';
import { Mp4Writer } from '../src/mp4.js';
import { STCO_LIMIT, SampleTable } from '../src/sample-table.js';
import { haveFfmpeg, loadClip } from './helpers.js';

const why = skipReason('MP4 writer against ffprobe', [[haveFfmpeg, 'ffmpeg/ffprobe not installed']]);
const T0 = Date.UTC(2026, 10, 30, 0, 0, 0);
/** Entries per table list kept in memory: small, so that long runs spill to the scratch file many times. */
const CHUNK = 256;

/** The body of the first box of `type`, looking into the containers of a sample table. */
function findBox(bytes: Buffer, type: string, start = 0, end = bytes.length): Buffer | undefined {
  for (let at = start; at + 8 <= end; ) {
    const size = bytes.readUInt32BE(at);
    const t = bytes.toString('latin1', at + 4, at + 8);
    if (t === type) return bytes.subarray(at + 8, at + size);
    if (['moov', 'trak', 'mdia', 'minf', 'stbl'].includes(t)) {
      const inner = findBox(bytes, type, at + 8, at + size);
      if (inner) return inner;
    }
    if (size < 8) return undefined;
    at += size;
  }
  return undefined;
}

describe.skipIf(why)('Mp4Writer: constant memory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'valkka-mp4-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** N frames: a real key frame every 25, tiny made-up slices between, timestamps 40 ms apart with jitter (no stts runs). */
  async function writeFrames(n: number, subtitles: boolean) {
    const key = loadClip('h264-baseline-gop1s.h264').units[0]!;
    const output = join(dir, `frames-${n}.mp4`);
    const writer = new Mp4Writer(output, T0, subtitles, { tableChunk: CHUNK });
    const expected: Array<{ pts: number; size: number; key: boolean }> = [];
    let peakHeld = 0;
    for (let k = 0; k < n; k++) {
      const timestamp = T0 + k * 40 + (k % 3);
      const isKey = k % 25 === 0;
      const payload = isKey ? key.payload : Uint8Array.of(0, 0, 0, 1, 0x41, 0x9a, k & 0xff, (k >> 8) & 0xff, 0x80);
      await writer.addFrame({ timestamp, key: isKey, codec: Codec.h264, payload });
      if (subtitles && k % 25 === 24) await writer.addCue(Math.floor(k / 25) * 1000, Math.floor(k / 25) * 1000 + 1000, `second ${Math.floor(k / 25)}`);
      peakHeld = Math.max(peakHeld, writer.tableBytesHeld);
      // Each NAL unit's start code becomes a 4-byte length.
      const size = findNalUnits(Codec.h264, payload).reduce((sum, nal) => sum + 4 + nal.end - nal.start, 0);
      expected.push({ pts: timestamp - T0, size, key: isKey });
    }
    await writer.finish();
    return { output, writer, expected, peakHeld };
  }

  it('holds the same few KiB of sample table for 20 000 frames as for 60 000, and ffprobe reads every packet back', async () => {
    const short = await writeFrames(20_000, true);
    const long = await writeFrames(60_000, true);
    // Ten lists (five per track) of CHUNK 32-bit entries at most, whatever the number of frames.
    const bound = 10 * CHUNK * 4;
    expect(long.writer.peakTableBytes).toBeLessThanOrEqual(bound);
    expect(long.peakHeld).toBeLessThanOrEqual(bound);
    expect(long.writer.peakTableBytes).toBe(short.writer.peakTableBytes);
    // Without spooling the long run would hold at least its sizes (4 bytes a frame).
    expect(60_000 * 4).toBeGreaterThan(10 * bound);

    for (const { output, expected } of [short, long]) {
      // The made-up slices are not decodable: what ffmpeg's parser says about them (stderr) is not the point here.
      const run = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,size,flags', '-of', 'csv=p=0', output], {
        encoding: 'utf8',
        maxBuffer: 64 * 2 ** 20,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const packets = run
        .trim()
        .split('\n')
        .map((l) => {
          const [pts, size, flags] = l.split(',');
          return { pts: Number(pts), size: Number(size), key: flags!.startsWith('K') };
        });
      expect(packets).toEqual(expected);
    }
    const cues = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 's:0', '-count_packets', '-show_entries', 'stream=codec_name,nb_read_packets', '-of', 'csv=p=0', long.output], { encoding: 'utf8' });
    expect(cues.trim()).toBe(`mov_text,${60_000 / 25}`);
  });
});

describe('Mp4Writer: frames it cannot write', () => {
  it('refuses a first frame that is not a key frame, or a key frame without its parameter sets, and a frame with no start code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkka-mp4-bad-'));
    try {
      const key = loadClip('h264-baseline-gop1s.h264').units[0]!.payload;
      const slice = Uint8Array.of(0, 0, 0, 1, 0x41, 0x9a, 0x80);
      const attempt = async (frames: Array<{ key: boolean; payload: Uint8Array }>) => {
        const writer = new Mp4Writer(join(dir, 'bad.mp4'), T0, false);
        try {
          for (const [k, f] of frames.entries()) await writer.addFrame({ timestamp: T0 + k * 40, codec: Codec.h264, ...f });
          return undefined;
        } catch (err) {
          return err as ExportError;
        } finally {
          await writer.cancel();
        }
      };
      expect(await attempt([{ key: false, payload: slice }])).toMatchObject({ code: 'EMEDIA', message: /the first frame to export \(2026-11-30T00:00:00.000Z.*\) is not a key frame/ });
      expect(await attempt([{ key: true, payload: Uint8Array.of(0, 0, 0, 1, 0x65, 0x88, 0x80) }])).toMatchObject({ code: 'EMEDIA', message: /does not carry its parameter sets \(SPS and PPS\)/ });
      expect(await attempt([{ key: true, payload: key }, { key: false, payload: Uint8Array.of(0x41, 0x9a, 0x80) }])).toMatchObject({
        code: 'EMEDIA',
        message: /the frame at 2026-11-30T00:00:00.040Z .* holds no NAL unit/,
      });
      expect(await attempt([{ key: true, payload: key }, { key: false, payload: slice }])).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SampleTable: chunk offsets', () => {
  /** The table's boxes, written to memory. */
  async function boxesOf(offsets: number[]): Promise<{ bytes: Buffer; table: SampleTable }> {
    const table = new SampleTable(join(tmpdir(), `valkka-co64-${process.pid}`), CHUNK);
    // One sample per chunk (offsets far apart), 40 ms each.
    offsets.forEach((offset, k) => table.add(offset, 1000, k * 40, k === 0));
    table.finish();
    const parts: Uint8Array[] = [];
    await table.write({ write: (b) => void parts.push(Uint8Array.from(b)) });
    table.close();
    const bytes = Buffer.concat(parts);
    expect(bytes.length).toBe(table.boxesSize);
    return { bytes, table };
  }

  it('uses co64 with the exact 64-bit offsets once a chunk starts past 4 GiB', async () => {
    // 600 chunks (more than CHUNK offset pairs: they spill), crossing 4 GiB half way.
    const offsets = Array.from({ length: 600 }, (_, k) => STCO_LIMIT - 300 * 2 ** 20 + k * 2 ** 20);
    const { bytes, table } = await boxesOf(offsets);
    expect(table.co64).toBe(true);
    expect(findBox(bytes, 'stco')).toBeUndefined();
    const co64 = findBox(bytes, 'co64')!;
    expect(co64.readUInt32BE(4)).toBe(600);
    const read = Array.from({ length: 600 }, (_, k) => Number(co64.readBigUInt64BE(8 + 8 * k)));
    expect(read).toEqual(offsets);
    expect(read.at(-1)).toBeGreaterThan(2 ** 32);
  });

  it('keeps 32-bit stco while every chunk starts below 4 GiB', async () => {
    const offsets = Array.from({ length: 600 }, (_, k) => STCO_LIMIT - 600 * 2 ** 20 + k * 2 ** 20);
    const { bytes, table } = await boxesOf(offsets);
    expect(table.co64).toBe(false);
    expect(findBox(bytes, 'co64')).toBeUndefined();
    const stco = findBox(bytes, 'stco')!;
    expect(stco.readUInt32BE(4)).toBe(600);
    expect(Array.from({ length: 600 }, (_, k) => stco.readUInt32BE(8 + 4 * k))).toEqual(offsets);
    // One sample per chunk: stsc collapses to one entry; 40 ms each: stts to one run.
    expect(findBox(bytes, 'stsc')!.readUInt32BE(4)).toBe(1);
    expect(findBox(bytes, 'stts')!.readUInt32BE(4)).toBe(1);
  });
});
