// valkka export: one stream to a file, several to a directory with a manifest; bad input writes nothing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AccessUnitSplitter, Codec, MediaType, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { valkka } from './run-cli.js';

const why = skipReason('valkka export', [[hasCommand('ffprobe', ['-version']), 'ffprobe not installed']]);
const CLIP = resolve(import.meta.dirname, '../../../packages/threads/test/fixtures/h264-baseline-gop1s.h264');
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

/** Frames ffprobe decodes from the file's video (the edit list applied). */
const countFrames = (file: string): number =>
  Number(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());

describe.skipIf(why)('valkka export', () => {
  let base: string;
  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'valkka-cli-export-'));
    const splitter = new AccessUnitSplitter(Codec.h264);
    const units = [...splitter.push(readFileSync(CLIP)), ...splitter.flush()];
    const single = await ValkkaSingleFS.newFromDirectory({ dirname: join(base, 'cam1'), blocksize: 64 * 1024, nBlocks: 16 });
    const multi = await ValkkaMultiFS.newFromDirectory({ dirname: join(base, 'all'), blocksize: 64 * 1024, nBlocks: 32 });
    for (const [k, u] of units.entries()) {
      const frame = { subsession: 0, timestamp: T0 + k * 40, mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload: u.payload };
      await single.write({ ...frame, streamId: 3 });
      for (const streamId of [1, 2]) await multi.write({ ...frame, streamId });
    }
    await single.close();
    await multi.close();
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('one stream into a file (ISO and ms times, both ends inclusive)', async () => {
    const out = join(base, 'clip.mp4');
    const r = await valkka('export', join(base, 'cam1'), '--from', new Date(T0 + 1000).toISOString(), '--to', String(T0 + 3000), '-o', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ streamId: 3, codec: 'h264', frames: 51, firstFrame: T0 + 1000, lastFrame: T0 + 3000, holes: [] });
    expect(countFrames(out)).toBe(51);
  });

  it('several streams into a directory, with manifest.json', async () => {
    const out = join(base, 'incident') + '/';
    const r = await valkka('export', join(base, 'all'), join(base, 'cam1'), '--from', String(T0 + 500), '--to', String(T0 + 2500), '-o', out, '--json');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(JSON.parse(r.stdout)).toEqual(manifest);
    expect(manifest.range).toMatchObject({ from: T0 + 500, to: T0 + 2500 });
    expect(manifest.streams.map((s: { file: string }) => s.file)).toEqual(['all-1.mp4', 'all-2.mp4', 'cam1-3.mp4']);
    for (const s of manifest.streams) {
      const bytes = readFileSync(join(out, s.file));
      expect(s.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(s.frames).toBe(51);
      expect(countFrames(join(out, s.file))).toBe(51);
    }
    expect(readdirSync(out).sort()).toEqual(['all-1.mp4', 'all-2.mp4', 'cam1-3.mp4', 'manifest.json']);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['--from after --to', ['--from', String(T0 + 3000), '--to', String(T0 + 1000)], /--from .* is after --to/],
    ['a time that does not parse', ['--from', 'noon', '--to', String(T0 + 1000)], /--from: 'noon' is neither/],
    ['an unknown --id', ['--from', String(T0), '--to', String(T0 + 1000), '--id', '9'], /stream id 9 is not in/],
    ['times outside the recording', ['--from', String(T0 - 60_000), '--to', String(T0 + 1000)], /before the start of the recording/],
  ];
  for (const [name, args, message] of bad) {
    it(`${name}: exit 2, the reason, nothing written`, async () => {
      const out = join(base, `bad-${name.replace(/\W+/g, '-')}`) + '/';
      const r = await valkka('export', join(base, 'all'), join(base, 'cam1'), ...args, '-o', out);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }
});
