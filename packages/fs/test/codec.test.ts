import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessUnitSplitter,
  CodecError,
  ConfigTracker,
  classifyAccessUnit,
  findNalUnits,
  frameFlagsOf,
  joinAnnexB,
  parseH264Sps,
  parseH265Sps,
  unescapeRbsp,
  type AccessUnit,
  type VideoCodec,
} from '../src/codec/index.js';
import { Codec, FrameFlags } from '../src/frame.js';

const h264 = Codec.h264;
const h265 = Codec.h265;
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

function splitAll(codec: number, data: Uint8Array, chunkSizes: () => number = () => data.length, max?: number): AccessUnit[] {
  const s = new AccessUnitSplitter(codec, max === undefined ? {} : { maxAccessUnitBytes: max });
  const out: AccessUnit[] = [];
  for (let at = 0; at < data.length; ) {
    const n = Math.max(1, chunkSizes());
    out.push(...s.push(data.subarray(at, at + n)));
    at += n;
  }
  out.push(...s.flush());
  return out;
}

describe('NAL units and classification (hand-made streams)', () => {
  // H.264: AUD, SPS, PPS, IDR (first_mb 0), IDR (second slice: first_mb != 0), P (first_mb 0).
  const aud = [0, 0, 0, 1, 0x09, 0xf0];
  const sps = [0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9];
  const pps = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
  const idr1 = [0, 0, 1, 0x65, 0x88, 0x84, 0x21];
  const idr2 = [0, 0, 0, 1, 0x65, 0x40, 0x11];
  const p1 = [0, 0, 1, 0x41, 0x9a, 0x22];
  const stream = bytes(...aud, ...sps, ...pps, ...idr1, ...idr2, ...p1);

  it('finds 3- and 4-byte start codes and H.264 NAL types', () => {
    const nals = findNalUnits(h264, stream);
    expect(nals.map((n) => n.type)).toEqual([9, 7, 8, 5, 5, 1]);
    expect(nals.map((n) => n.start - n.startCode)).toEqual([4, 3, 4, 3, 4, 3]);
    expect(nals[0]?.end).toBe(aud.length);
  });

  it('classifies: key = IDR, config = SPS + PPS', () => {
    const info = classifyAccessUnit(h264, stream.subarray(0, aud.length + sps.length + pps.length + idr1.length + idr2.length));
    expect(info.key).toBe(true);
    expect(info.hasConfig).toBe(true);
    expect(info.configNals.map((n) => n[0])).toEqual([0x67, 0x68]);
    expect(frameFlagsOf(info)).toBe(FrameFlags.key | FrameFlags.config);
    expect(classifyAccessUnit(h264, bytes(...p1))).toEqual({ key: false, hasConfig: false, configNals: [] });
    expect(classifyAccessUnit(h264, bytes(...sps, ...idr1)).hasConfig).toBe(false);
    // Audio and codecs without inter frames: every frame is key.
    expect(classifyAccessUnit(Codec.pcmMulaw, bytes(1, 2, 3)).key).toBe(true);
  });

  it('H.265 types: IRAP 16..23 key, VPS+SPS+PPS config', () => {
    const nal = (type: number, ...rest: number[]): number[] => [0, 0, 0, 1, type << 1, 1, ...rest];
    const au = bytes(...nal(35, 0x50), ...nal(32, 1), ...nal(33, 2), ...nal(34, 3), ...nal(19, 0x80));
    expect(findNalUnits(h265, au).map((n) => n.type)).toEqual([35, 32, 33, 34, 19]);
    expect(classifyAccessUnit(h265, au)).toMatchObject({ key: true, hasConfig: true });
    expect(classifyAccessUnit(h265, bytes(...nal(33, 2), ...nal(34, 3), ...nal(21, 0x80))).hasConfig).toBe(false);
    expect(classifyAccessUnit(h265, bytes(...nal(1, 0x80))).key).toBe(false);
  });

  it('splits at AUD and at the first slice of a new picture, whatever the chunking', () => {
    const expected = [stream.subarray(0, stream.length - p1.length), bytes(...p1)];
    expect(splitAll(h264, stream).map((u) => u.payload)).toEqual(expected);
    for (let size = 1; size <= 8; size++) expect(splitAll(h264, stream, () => size).map((u) => u.payload)).toEqual(expected);
    // Without AUD, SPS after a picture opens the next access unit.
    const twice = bytes(...sps, ...pps, ...idr1, ...sps, ...pps, ...idr1);
    expect(splitAll(h264, twice).map((u) => u.payload.length)).toEqual([twice.length / 2, twice.length / 2]);
  });

  it('ignores bytes before the first start code', () => {
    const units = splitAll(h264, bytes(7, 7, 7, ...sps, ...idr1), () => 2);
    expect(units.map((u) => u.payload)).toEqual([bytes(...sps, ...idr1)]);
  });

  it('an access unit over the bound is CodecError EAUSIZE, and the splitter recovers', () => {
    const big = bytes(...sps, ...idr1, ...new Array(100).fill(0x55), ...p1, ...p1);
    const s = new AccessUnitSplitter(h264, { maxAccessUnitBytes: 64 });
    let err: unknown;
    try {
      s.push(big);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('EAUSIZE');
    expect((err as Error).message).toMatch(/maxAccessUnitBytes \(64\)/);
    expect([...s.push(bytes(...p1, ...p1)), ...s.flush()].map((u) => u.payload)).toEqual([bytes(...p1), bytes(...p1)]);
  });

  it('refuses codecs it cannot split', () => {
    expect(() => new AccessUnitSplitter(Codec.pcmAlaw)).toThrow(CodecError);
    expect(() => new ConfigTracker(Codec.none)).toThrow(/not H.264 or H.265/);
  });

  it('ConfigTracker puts remembered SPS/PPS after the AUD of a key frame that lacks them', () => {
    const t = new ConfigTracker(h264);
    const first = t.process(bytes(...aud, ...sps, ...pps, ...idr1));
    expect(first.addedConfig).toBe(false);
    expect(t.process(bytes(...p1)).payload).toEqual(bytes(...p1));
    const key = t.process(bytes(...aud, ...idr1));
    expect(key.addedConfig).toBe(true);
    expect(key.hasConfig).toBe(true);
    expect(findNalUnits(h264, key.payload).map((n) => n.type)).toEqual([9, 7, 8, 5]);
    // A key frame before any configuration is passed as is.
    expect(new ConfigTracker(h264).process(bytes(...idr1))).toMatchObject({ addedConfig: false, hasConfig: false });
  });

  it('fuzz: random bytes give access units or CodecError, and lose no byte after the first start code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom(h264, h265), (data, chunk, codec) => {
        const units = splitAll(codec, data, () => chunk, 1 << 20);
        const first = findNalUnits(codec, data)[0];
        const joined = Buffer.concat(units.map((u) => u.payload));
        expect(joined.equals(Buffer.from(first ? data.subarray(first.startCode) : []))).toBe(true);
        const t = new ConfigTracker(codec);
        for (const u of units) t.process(u.payload);
        for (const parse of [() => parseH264Sps(Uint8Array.from([0x67, ...data])), () => parseH265Sps(Uint8Array.from([0x42, 0x01, ...data]))]) {
          try {
            parse();
          } catch (e) {
            expect(e).toBeInstanceOf(CodecError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('H.264 SPS', () => {
  it('removes emulation prevention bytes', () => {
    expect(unescapeRbsp(bytes(1, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3))).toEqual(bytes(1, 0, 0, 1, 0, 0, 0, 0));
  });

  it('a truncated or foreign NAL unit is CodecError ESPS', () => {
    expect(() => parseH264Sps(bytes(0x68, 1, 2, 3))).toThrow(/not an H.264 SPS/);
    expect(() => parseH264Sps(bytes(0x67, 0x64, 0, 0x1e))).toThrow(expect.objectContaining({ code: 'ESPS' }));
  });
});

// ---- real media from ffmpeg ----

const why = skipReason('codec vs ffmpeg', [
  [hasCommand('ffmpeg', ['-version']) && hasCommand('ffprobe', ['-version']), 'ffmpeg/ffprobe not installed (apt-get install ffmpeg)'],
]);
const hasX265 = !why && execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).includes('libx265');
if (!why && !hasX265) console.log('SKIPPED H.265 clips: ffmpeg has no libx265 encoder');

interface Clip {
  name: string;
  codec: VideoCodec;
  file: string;
}

interface Probe {
  frames: number;
  keys: boolean[];
  width: number;
  height: number;
  profile: string;
  level: number;
  pixFmt: string;
}

/** chroma_format_idc and bit depth of an ffmpeg pixel format (the formats these clips use). */
const PIX_FMTS: Record<string, { chroma: number; depth: number }> = {
  yuv420p: { chroma: 1, depth: 8 },
  yuv444p: { chroma: 3, depth: 8 },
  yuv420p10le: { chroma: 1, depth: 10 },
};

function probe(file: string): Probe {
  const streams = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames,width,height,profile,level,pix_fmt', '-of', 'json', file], { encoding: 'utf8' }),
  ) as { streams: Array<{ nb_read_frames: string; width: number; height: number; profile: string; level: number; pix_fmt: string }> };
  const s = streams.streams[0];
  if (!s) throw new Error(`ffprobe found no stream in ${file}`);
  const keys = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.startsWith('1'));
  return { frames: Number(s.nb_read_frames), keys, width: s.width, height: s.height, profile: s.profile, level: s.level, pixFmt: s.pix_fmt };
}

describe.skipIf(why)('access units of real streams match ffprobe', () => {
  let dir = '';
  const clips: Clip[] = [];
  const probes = new Map<string, Probe>();
  const lavfi = (size: string): string[] => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-t', '2'];
  const x264 = ['-c:v', 'libx264', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', '0'];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'valkka-codec-'));
    const make = (name: string, codec: VideoCodec, args: string[]): void => {
      const file = join(dir, name);
      execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, '-f', codec === h264 ? 'h264' : 'hevc', file]);
      clips.push({ name, codec, file });
    };
    make('baseline-aud-repeat.h264', h264, [...lavfi('320x240'), ...x264, '-profile:v', 'baseline', '-x264-params', 'aud=1:repeat-headers=1']);
    make('high.h264', h264, [...lavfi('320x240'), ...x264, '-profile:v', 'high', '-level', '4.0']);
    // ffmpeg's raw output repeats the parameter sets; a camera that sends them once is made by
    // dropping them from every access unit but the first.
    const headersOnce = (from: string, to: string, codec: VideoCodec): void => {
      const units = splitAll(codec, readFileSync(join(dir, from)));
      const config = new Set(codec === h264 ? [7, 8] : [32, 33, 34]);
      const kept = units.map((u, i) =>
        Buffer.concat(findNalUnits(codec, u.payload).filter((n) => i === 0 || !config.has(n.type)).map((n) => u.payload.subarray(n.startCode, n.end))),
      );
      writeFileSync(join(dir, to), Buffer.concat(kept));
      clips.push({ name: to, codec, file: join(dir, to) });
    };
    headersOnce('high.h264', 'high-headers-once.h264', h264);
    make('high444-cropped-cqm-slices.h264', h264, [...lavfi('330x186'), ...x264, '-profile:v', 'high444', '-pix_fmt', 'yuv444p', '-x264-params', 'cqm=jvt:slices=3']);
    // The same stream with 3-byte start codes everywhere.
    const slices = readFileSync(join(dir, 'high444-cropped-cqm-slices.h264'));
    const three = Buffer.concat(findNalUnits(h264, slices).map((n) => Buffer.concat([Buffer.from([0, 0, 1]), slices.subarray(n.start, n.end)])));
    writeFileSync(join(dir, 'three-byte-start-codes.h264'), three);
    clips.push({ name: 'three-byte-start-codes.h264', codec: h264, file: join(dir, 'three-byte-start-codes.h264') });
    if (hasX265) {
      const x265 = (extra: string): string[] => ['-c:v', 'libx265', '-x265-params', `keyint=25:min-keyint=25:bframes=0:log-level=error${extra}`];
      make('aud-repeat.hevc', h265, [...lavfi('320x240'), ...x265(':aud=1:repeat-headers=1')]);
      make('slices.hevc', h265, [...lavfi('330x186'), ...x265(':slices=2')]);
      headersOnce('slices.hevc', 'headers-once.hevc', h265);
    }
    for (const c of clips) probes.set(c.name, probe(c.file));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const each = (f: (clip: Clip, data: Uint8Array, p: Probe) => void) => () => {
    expect(clips.length).toBeGreaterThanOrEqual(hasX265 ? 8 : 5);
    for (const clip of clips) f(clip, readFileSync(clip.file), probes.get(clip.name) as Probe);
  };

  it(
    'one access unit per frame ffprobe counts, key frames where ffprobe has them',
    each((clip, data, p) => {
      const units = splitAll(clip.codec, data);
      expect(p.frames, clip.name).toBe(50);
      expect(units.length, clip.name).toBe(p.frames);
      expect(units.map((u) => u.key), clip.name).toEqual(p.keys);
      expect(Buffer.concat(units.map((u) => u.payload)).equals(Buffer.from(data)), clip.name).toBe(true);
    }),
  );

  it(
    'chunk boundaries anywhere give the same access units (1-byte chunks and random sizes)',
    each((clip, data) => {
      const digests = (units: AccessUnit[]): string[] => units.map((u) => createHash('sha1').update(u.payload).digest('hex'));
      const whole = digests(splitAll(clip.codec, data));
      expect(digests(splitAll(clip.codec, data, () => 1)), clip.name).toEqual(whole);
      let seed = 7;
      const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) % 3000;
      for (let i = 0; i < 5; i++) expect(digests(splitAll(clip.codec, data, rand)), clip.name).toEqual(whole);
    }),
  );

  it(
    'a too small maxAccessUnitBytes is a clear EAUSIZE error',
    each((clip, data) => {
      expect(() => splitAll(clip.codec, data, () => 4096, 1024)).toThrow(expect.objectContaining({ code: 'EAUSIZE' }));
    }),
  );

  it(
    'ConfigTracker: every key frame carries its configuration; a cut at the second key frame decodes',
    each((clip, data, p) => {
      const tracker = new ConfigTracker(clip.codec);
      const tracked = splitAll(clip.codec, data).map((u) => tracker.process(u.payload));
      for (const u of tracked.filter((x) => x.key)) expect(classifyAccessUnit(clip.codec, u.payload).hasConfig, clip.name).toBe(true);
      const repeats = !clip.name.includes('once');
      expect(tracked.some((u) => u.addedConfig), clip.name).toBe(!repeats);
      // Start decoding at the second key frame: only possible when it carries SPS/PPS(/VPS).
      const second = p.keys.indexOf(true, 1);
      expect(second).toBeGreaterThan(0);
      const cut = join(dir, `cut-${clip.name}`);
      writeFileSync(cut, Buffer.concat(tracked.slice(second).map((u) => u.payload)));
      expect(probe(cut).frames, clip.name).toBe(p.frames - second);
    }),
  );

  it(
    'H.264 SPS: width, height, profile and level as ffprobe reads them',
    each((clip, data, p) => {
      if (clip.codec !== h264) return;
      const units = splitAll(clip.codec, data);
      const sps = parseH264Sps(classifyAccessUnit(h264, units[0]?.payload ?? new Uint8Array()).configNals[0] ?? new Uint8Array());
      expect([sps.width, sps.height], clip.name).toEqual([p.width, p.height]);
      expect(sps.levelIdc, clip.name).toBe(p.level);
      const profiles: Record<string, number> = { 'Constrained Baseline': 66, Baseline: 66, Main: 77, High: 100, 'High 4:4:4 Predictive': 244 };
      expect(sps.profileIdc, clip.name).toBe(profiles[p.profile]);
      const fmt = PIX_FMTS[p.pixFmt];
      expect([sps.chromaFormatIdc, sps.bitDepthLuma, sps.bitDepthChroma], `${clip.name} ${p.pixFmt}`).toEqual([fmt?.chroma, fmt?.depth, fmt?.depth]);
      expect(sps.codecString, clip.name).toMatch(/^avc1\.[0-9A-F]{6}$/);
      expect(sps.codecString.slice(5, 7), clip.name).toBe(sps.profileIdc.toString(16).toUpperCase().padStart(2, '0'));
    }),
  );

  it(
    'H.265 SPS: width, height and profile as ffprobe reads them; a hev1 codec string',
    each((clip, data, p) => {
      if (clip.codec !== h265) return;
      const units = splitAll(clip.codec, data);
      const spsNal = classifyAccessUnit(h265, units[0]?.payload ?? new Uint8Array()).configNals.find((n) => ((n[0] ?? 0) >> 1) === 33);
      const sps = parseH265Sps(spsNal ?? new Uint8Array());
      expect([sps.width, sps.height], clip.name).toEqual([p.width, p.height]);
      expect(sps.levelIdc, clip.name).toBe(p.level);
      expect(sps.profileIdc, clip.name).toBe({ Main: 1, 'Main 10': 2, Rext: 4 }[p.profile]);
      const fmt = PIX_FMTS[p.pixFmt];
      expect([sps.chromaFormatIdc, sps.bitDepthLuma, sps.bitDepthChroma], `${clip.name} ${p.pixFmt}`).toEqual([fmt?.chroma, fmt?.depth, fmt?.depth]);
      expect([sps.maxSubLayers, sps.temporalIdNesting], clip.name).toEqual([1, 1]);
      expect(sps.codecString, clip.name).toMatch(new RegExp(`^hev1\\.${sps.profileIdc}\\.[0-9A-F]+\\.L${p.level}(\\.[0-9A-F]{2})*$`));
    }),
  );

  it('joinAnnexB round trip of a real access unit', () => {
    const clip = clips[0] as Clip;
    const unit = splitAll(clip.codec, readFileSync(clip.file))[0] as AccessUnit;
    const nals = findNalUnits(h264, unit.payload).map((n) => unit.payload.subarray(n.start, n.end));
    expect(findNalUnits(h264, joinAnnexB(nals)).map((n) => n.type)).toEqual(findNalUnits(h264, unit.payload).map((n) => n.type));
  });
});
