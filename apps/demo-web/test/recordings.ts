/**
 * Test recordings with known contents: the fixture clips written frame by frame into real filesystems, frame k
 * (of the clip's 250, looping) at START + k × 40 ms, so the picture at any instant is known exactly: its frame
 * number (drawn in the pixels) is k mod 250. Four cameras: a hole in A, B starting late with a hole, C in
 * H.265, D a stream of a MultiFS with a hole at another time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Codec, MediaType, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import { loadClip } from '@valkka/threads';

export const FIXTURES = resolve(import.meta.dirname, '../../../packages/threads/test/fixtures');
export const START = 1_790_000_000_000;
export const FRAME_MS = 40;
export const FRAMES = 500; // 20 s

export interface TestCamera {
  name: string;
  clip: string;
  codec: 'h264' | 'h265';
  /** First frame index written (a late start), at a key frame. */
  first: number;
  /** Frame indices [from, to) not written (a hole); `to` is a key frame, where a camera resumes. */
  hole: [number, number] | undefined;
  multi: boolean;
  streamId: number;
}

export const CAMERAS: TestCamera[] = [
  { name: 'camA', clip: 'h264-baseline-gop1s.h264', codec: 'h264', first: 0, hole: [100, 150], multi: false, streamId: 1 },
  { name: 'camB', clip: 'h264-high-gop2s.h264', codec: 'h264', first: 50, hole: [350, 400], multi: false, streamId: 2 },
  { name: 'camC', clip: 'h265-gop1s.h265', codec: 'h265', first: 0, hole: undefined, multi: false, streamId: 3 },
  { name: 'camD', clip: 'h264-baseline-gop1s.h264', codec: 'h264', first: 0, hole: [300, 350], multi: true, streamId: 4 },
];

export function written(cam: TestCamera, k: number): boolean {
  return k >= cam.first && k < FRAMES && !(cam.hole && k >= cam.hole[0] && k < cam.hole[1]);
}

/**
 * What a camera shows at instant t: the frame number in its pixels and the frame's timestamp, or null when
 * t is in a hole (no frame within HOLE_MS before it) — the same rule as the server's.
 */
export function expectedAt(cam: TestCamera, t: number, holeMs = 1500): { frame: number; timestamp: number } | null {
  let k = Math.floor((t - START) / FRAME_MS);
  if (k >= FRAMES) k = FRAMES - 1;
  while (k >= 0 && !written(cam, k)) k--;
  if (k < 0) return null;
  const timestamp = START + k * FRAME_MS;
  return t - timestamp > holeMs ? null : { frame: k % 250, timestamp };
}

export async function makeRecordings(): Promise<{ base: string; dirs: string[]; remove(): Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'valkka-web-'));
  const dirs: string[] = [];
  const multiDir = join(base, 'multi');
  let multi: ValkkaMultiFS | undefined;
  for (const cam of CAMERAS) {
    const clip = await loadClip(join(FIXTURES, cam.clip));
    let fs: ValkkaSingleFS | ValkkaMultiFS;
    if (cam.multi) {
      multi ??= await ValkkaMultiFS.newFromDirectory({ dirname: multiDir, blocksize: 64 * 1024, nBlocks: 32 });
      fs = multi;
      if (!dirs.includes(multiDir)) dirs.push(multiDir);
    } else {
      const dir = join(base, cam.name);
      fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 64 * 1024, nBlocks: 32 });
      dirs.push(dir);
    }
    for (let k = 0; k < FRAMES; k++) {
      if (!written(cam, k)) continue;
      const unit = clip.units[k % clip.units.length]!;
      await fs.write({
        streamId: cam.streamId,
        subsession: 0,
        timestamp: START + k * FRAME_MS,
        mediaType: MediaType.video,
        codec: cam.codec === 'h264' ? Codec.h264 : Codec.h265,
        flags: 0,
        payload: unit.payload,
      });
    }
    if (!cam.multi) await fs.close();
  }
  await multi?.close();
  return { base, dirs, remove: () => rm(base, { recursive: true, force: true }) };
}
