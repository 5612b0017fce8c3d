import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Codec, classifyAccessUnit } from '@valkka/fs';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, describe, expect, it } from 'vitest';
import { PlaybackClock } from '../src/cacher/playback-clock.js';
import { FileSourceCore } from '../src/sources/file-source-core.js';
import { parseDecoderRecord, splitLengthPrefixed } from '../src/sources/avcc.js';
import { loadClip, type MediaClip } from '../src/sources/media-clip.js';
import { SourceError } from '../src/sources/source-error.js';
import { readFrameNumber } from './fixtures/frame-number.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const tmp = mkdtempSync(join(tmpdir(), 'valkka-source-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CLIPS = [
  { file: 'h264-baseline-gop1s.h264', codec: Codec.h264 },
  { file: 'h264-high-gop2s.h264', codec: Codec.h264 },
  { file: 'h265-gop1s.h265', codec: Codec.h265 },
  { file: 'h264-baseline-gop1s.mp4', codec: Codec.h264 },
  { file: 'h265-gop1s.mp4', codec: Codec.h265 },
];

function ffprobeKeyFlags(path: string): boolean[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.startsWith('1'));
}

/** Decodes Annex-B access units with ffmpeg and reads the frame number drawn in each picture. */
function decodeFrameNumbers(clip: MediaClip, payloads: Uint8Array[]): number[] {
  const file = join(tmp, `burst-${Math.random().toString(36).slice(2)}.${clip.codec === Codec.h265 ? 'h265' : 'h264'}`);
  writeFileSync(file, Buffer.concat(payloads));
  const gray = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 });
  const size = 320 * 240;
  return Array.from({ length: gray.length / size }, (_, i) => readFrameNumber(gray.subarray(i * size, (i + 1) * size), 320, 240));
}

const why = skipReason('FileSource with media fixtures', [
  [hasCommand('ffprobe', ['-version']), 'ffprobe (Debian ffmpeg) not installed'],
  [hasCommand('ffmpeg', ['-version']), 'ffmpeg not installed'],
]);

describe.skipIf(why)('loadClip: the fixtures as ffprobe sees them', () => {
  it.each(CLIPS)('$file: one access unit per frame, key frames where ffprobe says, parameter sets in every key frame', async ({ file, codec }) => {
    const clip = await loadClip(fixture(file));
    expect(clip.codec).toBe(codec);
    expect(clip.frameMs).toBe(40);
    const keys = ffprobeKeyFlags(fixture(file));
    expect(clip.units.length).toBe(keys.length);
    expect(clip.units.map((u) => u.key)).toEqual(keys);
    for (const unit of clip.units) {
      const info = classifyAccessUnit(codec, unit.payload);
      expect(info.key).toBe(unit.key);
      if (unit.key) expect(info.hasConfig).toBe(true);
    }
  });

  it.each([
    ['h264-baseline-gop1s.mp4', 'h264-baseline-gop1s.h264'],
    ['h265-gop1s.mp4', 'h265-gop1s.h265'],
  ])('%s gives the same access units, byte for byte, as the Annex-B file it was made from', async (mp4File, annexBFile) => {
    const annexB = await loadClip(fixture(annexBFile));
    const mp4 = await loadClip(fixture(mp4File));
    expect(mp4.container).toBe('mp4');
    expect(mp4.units.length).toBe(annexB.units.length);
    mp4.units.forEach((u, i) => {
      expect(u.key).toBe(annexB.units[i]!.key);
      expect(Buffer.from(u.payload).equals(Buffer.from(annexB.units[i]!.payload))).toBe(true);
    });
  });

  it.each(CLIPS.slice(1, 3))('$file: a GOP cut out of the clip decodes to the right frame numbers', async ({ file }) => {
    const clip = await loadClip(fixture(file));
    const from = clip.units.findIndex((u, i) => u.key && i > 0); // the second key frame: needs its own parameter sets
    expect(decodeFrameNumbers(clip, clip.units.slice(from, from + 10).map((u) => u.payload))).toEqual(
      Array.from({ length: 10 }, (_, i) => from + i),
    );
  });
});

describe('loadClip: bad files get a clear error', () => {
  const write = (name: string, bytes: Uint8Array | string) => {
    const path = join(tmp, name);
    writeFileSync(path, bytes);
    return path;
  };

  it.each([
    ['garbage.h264', 'this is not a video stream at all'.repeat(20), 'ERR_SOURCE_FORMAT', /no start code at byte 0/],
    ['empty.h264', '', 'ERR_SOURCE_FORMAT', /no start code/],
    ['only-headers.h264', () => readFileSync(fixture('h264-high-gop2s.h264')).subarray(0, 40), 'ERR_SOURCE_EMPTY', /no decodable picture/],
    ['cut.mp4', () => readFileSync(fixture('h264-baseline-gop1s.mp4')).subarray(0, 600), 'ERR_SOURCE_EMPTY', /no video track/],
    ['cut-in-samples.mp4', () => readFileSync(fixture('h264-baseline-gop1s.mp4')).subarray(0, 2000), 'ERR_SOURCE_EMPTY', /no decodable picture/],
    ['garbage.mp4', () => Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom'), Buffer.alloc(4000, 0xab)]), 'ERR_SOURCE', /garbage.mp4/],
  ] as const)('%s', async (name, content, code, message) => {
    const path = write(name, typeof content === 'function' ? content() : content);
    const err = await loadClip(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).code.startsWith(code)).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(name);
  });

  it('damaged avcC / hvcC records and samples are refused with where they went wrong', () => {
    const avcC = Uint8Array.from([1, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0, 4, 0x67, 1, 2, 3, 1, 0, 2, 0x68, 9]);
    expect(parseDecoderRecord(Codec.h264, avcC, 'x.mp4')).toEqual({
      lengthSize: 4,
      configNals: [Uint8Array.from([0x67, 1, 2, 3]), Uint8Array.from([0x68, 9])],
    });
    expect(() => parseDecoderRecord(Codec.h264, avcC.subarray(0, 10), 'x.mp4')).toThrow(/x.mp4: bad avcC record: NAL unit of 4 bytes at 8 runs past the end/);
    expect(() => parseDecoderRecord(Codec.h264, avcC.subarray(0, 5), 'x.mp4')).toThrow(/truncated at byte 5/);
    expect(() => parseDecoderRecord(Codec.h265, new Uint8Array(22), 'y.mp4')).toThrow(/y.mp4: bad hvcC record: truncated at byte 22/);
    expect(splitLengthPrefixed(Uint8Array.from([0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41]), 4, 's')).toEqual([Uint8Array.from([0x65, 1]), Uint8Array.from([0x41])]);
    expect(() => splitLengthPrefixed(Uint8Array.from([0, 0, 0, 9, 0x65]), 4, 'sample 3')).toThrow(SourceError);
    expect(() => splitLengthPrefixed(Uint8Array.from([0, 0, 0, 1, 0x65, 0, 0]), 4, 'sample 3')).toThrow(/sample 3: NAL length prefix cut at byte 5/);
  });

  it('a missing file, a file over the size bound and bad options', async () => {
    await expect(loadClip(join(tmp, 'nope.h264'))).rejects.toMatchObject({ code: 'ERR_SOURCE_OPEN' });
    await expect(loadClip(fixture('h264-high-gop2s.h264'), { maxBytes: 1000 })).rejects.toMatchObject({ code: 'ERR_SOURCE_TOO_LARGE' });
    await expect(loadClip(fixture('h264-high-gop2s.h264'), { fps: 0 })).rejects.toMatchObject({ code: 'ERR_SOURCE_OPTIONS' });
  });
});

describe.skipIf(why)('FileSourceCore: a clip played as a camera', () => {
  const T0 = 1_700_000_000_000;

  it('paces frames 40 ms apart at 25 fps, with timestamps monotone across loops, key frames repeating with the clip', async () => {
    const clip = await loadClip(fixture('h264-baseline-gop1s.h264'));
    const clock = PlaybackClock.manual(500);
    const source = new FileSourceCore(clip, clock, { slot: 3, startTime: T0 });
    source.start();
    const frames = [];
    for (let t = 0; t <= 25_010; t += 7) {
      clock.setNow(500 + t);
      for (const f of source.pull()) frames.push({ ...f, at: clock.now() });
    }
    expect(frames.length).toBe(626); // k * 40 <= 25000: k = 0..625, two and a half loops
    frames.forEach((f, k) => {
      expect(f.timestamp).toBe(T0 + k * 40);
      expect(f.slot).toBe(3);
      expect(f.at - 500).toBeGreaterThanOrEqual(k * 40); // never early
      expect(f.at - 500).toBeLessThan(k * 40 + 7); // and due at the first pull after its time
      expect(f.payload).toBe(clip.units[k % 250]!.payload);
      expect((f.flags & 1) === 1).toBe(k % 25 === 0);
    });
    expect(source.nextWakeAt()).toBe(500 + 626 * 40);
  });

  it('holes leave gaps of the requested length; after a hole the camera resumes at a key frame', async () => {
    const clip = await loadClip(fixture('h264-baseline-gop1s.h264'));
    const play = (resumeAtKeyFrame: boolean) => {
      const clock = PlaybackClock.manual(0);
      const source = new FileSourceCore(clip, clock, {
        slot: 1,
        startTime: T0,
        holes: [{ afterMs: 2000, lengthMs: 1000 }, { afterMs: 5100, lengthMs: 300 }, { afterMs: 11_000, lengthMs: 2000 }],
        resumeAtKeyFrame,
      });
      source.start();
      clock.setNow(15_000);
      return source.pull().map((f) => f.timestamp - T0);
    };
    const exact = play(false);
    const gaps = (times: number[]) => times.slice(1).flatMap((t, i) => (t - times[i]! > 40 ? [[times[i], t]] : []));
    expect(gaps(exact)).toEqual([[1960, 3000], [5080, 5400], [10960, 13000]]); // hole + one frame interval
    const atKey = play(true);
    expect(gaps(atKey)).toEqual([[1960, 3000], [5080, 6000], [10960, 13000]]); // 5400 is mid-GOP: wait for 6000
  });

  it('a periodic hole comes back every period', async () => {
    const clip = await loadClip(fixture('h264-baseline-gop1s.h264'));
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceCore(clip, clock, { slot: 1, startTime: 0, periodicHole: { everyMs: 4000, lengthMs: 1000 } });
    source.start();
    clock.setNow(12_000);
    const times = source.pull().map((f) => f.timestamp);
    expect(times.filter((t) => t % 4000 >= 3000)).toEqual([]); // 3000..3999, 7000..7999, 11000..11999 are empty
    expect(times.filter((t) => t % 4000 < 3000).length).toBe(3 * 75 + 1); // everything else, and 12000
    expect(() => new FileSourceCore(clip, clock, { slot: 1, periodicHole: { everyMs: 1000, lengthMs: 1000 } })).toThrow(SourceError);
  });

  it('stops after the requested loops when not looping', async () => {
    const clip = await loadClip(fixture('h265-gop1s.h265'));
    const clock = PlaybackClock.manual(0);
    const source = new FileSourceCore(clip, clock, { slot: 1, loop: false, loops: 2 });
    source.start();
    clock.setNow(60_000);
    expect(source.pull().length).toBe(256); // at most 256 at a time, however far behind the clock
    expect(source.pull(Infinity).length).toBe(500 - 256);
    expect(source.done).toBe(true);
    expect(source.nextWakeAt()).toBe(Infinity);
    expect(() => new FileSourceCore(clip, clock, { slot: 0 })).toThrow(SourceError);
    expect(() => new FileSourceCore(clip, clock, { slot: 1, holes: [{ afterMs: 0, lengthMs: -5 }] })).toThrow(/hole/);
  });
});
