// Real H.264 and H.265 from ffmpeg, without repeated parameter sets: written access unit by access
// unit, every stored key frame carries its configuration, and a cut at any key frame decodes.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { describe, expect, it } from 'vitest';

import { AccessUnitSplitter, Codec, type Frame, MediaType, ValkkaSingleFS, type VideoCodec, configTypes, findNalUnits, joinAnnexB } from '../src/index.js';
import { memoryDevice, withTempDir } from './helpers.js';

const why = skipReason('ValkkaFS with ffmpeg media', [[hasCommand('ffmpeg', ['-version']) && hasCommand('ffprobe', ['-version']), 'ffmpeg/ffprobe not installed (apt-get install ffmpeg)']]);
const hasX265 = !why && execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).includes('libx265');

const clips = [
  { name: 'H.264 high, headers once', codec: Codec.h264, ext: 'h264', args: ['-c:v', 'libx264', '-profile:v', 'high', '-bf', '0', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'] },
  ...(hasX265 ? [{ name: 'H.265, headers once', codec: Codec.h265, ext: 'h265', args: ['-c:v', 'libx265', '-x265-params', 'keyint=25:min-keyint=25:scenecut=0:bframes=0:repeat-headers=1:log-level=error'] }] : []),
];

describe.skipIf(why)('real media through the filesystem', () => {
  for (const clip of clips) {
    it(`${clip.name}: every stored key frame starts a decodable run`, async () => {
      await withTempDir(async (dir) => {
        const src = join(dir, `in.${clip.ext}`);
        execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '3', ...clip.args, '-f', clip.ext === 'h264' ? 'h264' : 'hevc', src]);
        const splitter = new AccessUnitSplitter(clip.codec);
        // Keep the parameter sets of the first access unit only, as a camera that sends them once.
        const units = [...splitter.push(readFileSync(src)), ...splitter.flush()].map((u, i) =>
          i === 0 ? u : { ...u, payload: joinAnnexB(findNalUnits(clip.codec as VideoCodec, u.payload).filter((n) => !configTypes(clip.codec as VideoCodec).includes(n.type)).map((n) => u.payload.subarray(n.start, n.end))) },
        );
        expect(units.length).toBe(75);

        const fs = await ValkkaSingleFS.newFromDirectory({ dirname: join(dir, 'fs'), blocksize: 256 * 1024, nBlocks: 8, device: memoryDevice(256 * 1024 * 8) });
        for (const [i, u] of units.entries()) {
          await fs.write({ streamId: 1, subsession: 0, timestamp: 1000 + 40 * i, mediaType: MediaType.video, codec: clip.codec, flags: 0, payload: u.payload });
        }
        const frames: Frame[] = [];
        for (const b of fs.getInd([0, 1e9])) frames.push(...(await fs.readBlock(b)).frames);
        await fs.close();
        expect(frames).toHaveLength(75);
        const keys = frames.map((f, i) => ((f.flags & 1) !== 0 ? i : -1)).filter((i) => i >= 0);
        expect(keys).toEqual([0, 25, 50]);
        for (const k of keys) expect([k, frames[k]!.flags & 2]).toEqual([k, 2]);
        // The stream only had its parameter sets before the first key frame: a cut at the last one decodes.
        const cut = join(dir, `cut.${clip.ext}`);
        writeFileSync(cut, Buffer.concat(frames.slice(50).map((f) => f.payload)));
        const count = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', cut], { encoding: 'utf8' });
        expect(Number(count.trim())).toBe(25);
      });
    });
  }
});
