/**
 * Fixtures and checks for the export tests: clips whose frames show their number (made by
 * @valkka/threads' scripts/make-fixtures.sh, see its test/fixtures/README.md), recorded straight
 * into a filesystem with chosen timestamps, and ffmpeg/ffprobe views of an exported file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AccessUnitSplitter, Codec, MediaType, ValkkaSingleFS } from '@valkka/fs';
import { hasCommand } from '@valkka/vitest-preset/skip';

/** The committed media fixtures (10 s, 25 fps, 250 frames numbered in their pixels). */
const FIXTURES = resolve(import.meta.dirname, '../../threads/test/fixtures');

export const haveFfmpeg = hasCommand('ffmpeg', ['-version']) && hasCommand('ffprobe', ['-version']);

export interface Clip {
  codec: number;
  units: Array<{ payload: Uint8Array; key: boolean }>;
  /** MD5 of each decoded frame (yuv420p), in order: a frame's identity. */
  md5: string[];
}

const clips = new Map<string, Clip>();

/** Access units and decoded-frame MD5s of a fixture clip. */
export function loadClip(name: 'h264-baseline-gop1s.h264' | 'h264-high-gop2s.h264' | 'h265-gop1s.h265'): Clip {
  const known = clips.get(name);
  if (known) return known;
  const path = join(FIXTURES, name);
  const codec = name.endsWith('.h265') ? Codec.h265 : Codec.h264;
  const splitter = new AccessUnitSplitter(codec);
  const units = [...splitter.push(readFileSync(path)), ...splitter.flush()].map((u) => ({ payload: u.payload.slice(), key: u.key }));
  let md5: string[] | undefined;
  const clip = {
    codec,
    units,
    // Decoded once, when a test first compares frames.
    get md5(): string[] {
      md5 ??= frameMd5s(['-f', codec === Codec.h265 ? 'hevc' : 'h264', '-i', path]);
      if (md5.length !== units.length) throw new Error(`${name}: ${units.length} access units but ffmpeg decodes ${md5.length} frames`);
      return md5;
    },
  };
  clips.set(name, clip);
  return clip;
}

/** MD5 per decoded frame, in output order (ffmpeg's framemd5 muxer, every frame as it comes). */
export function frameMd5s(input: string[]): string[] {
  const out = execFileSync('ffmpeg', ['-v', 'error', ...input, '-map', '0:v:0', '-fps_mode', 'passthrough', '-pix_fmt', 'yuv420p', '-f', 'framemd5', '-'], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  return out
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}

/** Decoded frames of an MP4 as indices into the clip (by MD5), and ffprobe's view of it. */
export function inspect(file: string, clip: Clip): { frames: number[]; probe: Probe } {
  const index = new Map(clip.md5.map((m, i) => [m, i]));
  const frames = frameMd5s(['-i', file]).map((m) => {
    const i = index.get(m);
    if (i === undefined) throw new Error(`${file}: a decoded frame (md5 ${m}) is none of the source's frames`);
    return i;
  });
  return { frames, probe: probe(file) };
}

/** The cues of a file's subtitle track as ffmpeg decodes them (via SRT): times in ms, text without markup. */
export function subtitleCues(file: string): Array<{ start: number; end: number; text: string }> {
  const srt = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:s:0', '-f', 'srt', '-'], { encoding: 'utf8' });
  const ms = (t: string): number => {
    const [h, m, s, f] = t.split(/[:,]/).map(Number) as [number, number, number, number];
    return ((h * 60 + m) * 60 + s) * 1000 + f;
  };
  return srt
    .trim()
    .split(/\n\s*\n/)
    .map((cue) => {
      const [, times = '', ...text] = cue.split('\n');
      const [start = '', end = ''] = times.split(' --> ');
      return { start: ms(start), end: ms(end), text: text.join('\n').replace(/<[^>]*>/g, '') };
    });
}

export interface Probe {
  errors: string;
  /** Frames ffprobe decodes in the video stream (edit list applied). */
  videoFrames: number;
  codec: string;
  creationTime: string | undefined;
  streams: string[];
}

export function probe(file: string): Probe {
  // One run: the JSON on stdout, anything wrong on stderr.
  const run = spawnSync(
    'ffprobe',
    ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,codec_tag_string,codec_type,nb_read_frames:format_tags=creation_time', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`ffprobe ${file} failed: ${run.stderr}`);
  const r = run.stdout;
  const errors = run.stderr;
  const j = JSON.parse(r) as { streams: Array<{ codec_name?: string; codec_tag_string: string; codec_type: string; nb_read_frames?: string }>; format: { tags?: { creation_time?: string } } };
  const video = j.streams.find((s) => s.codec_type === 'video');
  return {
    errors,
    videoFrames: Number(video?.nb_read_frames ?? NaN),
    codec: video?.codec_name ?? '',
    creationTime: j.format.tags?.creation_time,
    streams: j.streams.map((s) => `${s.codec_type}:${s.codec_name ?? s.codec_tag_string}`),
  };
}

export interface Recording {
  dirname: string;
  /** Timestamp of each written frame, and the clip frame it shows. */
  written: Array<{ ts: number; frame: number }>;
  remove(): Promise<void>;
}

/**
 * A Single FS with `clip` recorded into it: frame k of the recording is clip frame k % length at
 * time `timeOf(k)` (ms); `count` frames. Returns the closed directory.
 */
export async function record(
  clip: Clip,
  options: { blocksize: number; nBlocks: number; count: number; timeOf: (k: number) => number },
): Promise<Recording> {
  const base = await mkdtemp(join(tmpdir(), 'valkka-export-'));
  const dirname = join(base, 'fs');
  const fs = await ValkkaSingleFS.newFromDirectory({ dirname, blocksize: options.blocksize, nBlocks: options.nBlocks });
  const written: Recording['written'] = [];
  for (let k = 0; k < options.count; k++) {
    const frame = k % clip.units.length;
    const ts = options.timeOf(k);
    await fs.write({ streamId: 7, subsession: 0, timestamp: ts, mediaType: MediaType.video, codec: clip.codec as typeof Codec.h264, flags: 0, payload: clip.units[frame]!.payload });
    written.push({ ts, frame });
  }
  await fs.close();
  return { dirname, written, remove: () => rm(base, { recursive: true, force: true }) };
}

/** Runs `body` on a fresh recording (see record) and removes it afterwards. */
export async function withRecording(clip: Clip, options: Parameters<typeof record>[1], body: (rec: Recording) => Promise<void>): Promise<void> {
  const rec = await record(clip, options);
  try {
    await body(rec);
  } finally {
    await rec.remove();
  }
}

/** The clip frames a correct export of [from, to] shows: from the frame on screen at `from` to the last at or before `to`. */
export function expectedFrames(written: Recording['written'], from: number, to: number): number[] {
  let first = written.findIndex((w) => w.ts > from) - 1;
  if (first < 0) first = written.findIndex((w) => w.ts >= from);
  return written.filter((w, k) => k >= first && w.ts <= to).map((w) => w.frame);
}
