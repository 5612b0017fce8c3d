import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Frame, isKeyFrame, loadValkkaFS, type ValkkaFS, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import { FileSourceCore, loadClip, PlaybackClock, type SlotFrame, type SourceHole } from '@valkka/threads';

/** The media fixtures of @valkka/threads (320x240, 25 fps, 10 s, the frame number drawn in the pixels). */
export const FIXTURES = join(import.meta.dirname, '..', '..', 'threads', 'test', 'fixtures');
export const FRAME_MS = 40;
export const CLIP_FRAMES = 250;

export interface StreamSpec {
  id: number;
  clip: string;
  /** Stream time of its first frame. */
  start: number;
  /** Source holes, from its start. */
  holes: SourceHole[];
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkka-manager-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Records the streams as cameras would have sent them until stream time `end` (the file sources' own logic, on a
 * manual clock, so it takes no real time) into a new filesystem, in time order, and closes it.
 */
export async function record(
  dirname: string,
  kind: 'single' | 'multi',
  geometry: { blocksize: number; nBlocks: number },
  streams: StreamSpec[],
  end: number,
): Promise<void> {
  const cls = kind === 'multi' ? ValkkaMultiFS : ValkkaSingleFS;
  const fs = await cls.newFromDirectory({ dirname, ...geometry });
  const frames: Frame[] = [];
  for (const s of streams) {
    const clock = PlaybackClock.manual(0);
    const core = new FileSourceCore(await loadClip(join(FIXTURES, s.clip)), clock, { slot: 1, startTime: s.start, holes: s.holes });
    core.start(); // the camera starts at clock 0 ...
    clock.setNow(end - s.start); // ... and this is when recording ends
    for (let batch = core.pull(); batch.length > 0; batch = core.pull()) {
      for (const { slot: _slot, ...f } of batch) if (f.timestamp <= end) frames.push({ ...f, streamId: s.id });
    }
  }
  frames.sort((a, b) => a.timestamp - b.timestamp);
  for (const f of frames) await fs.write(f);
  await fs.close();
}

/** Every frame on disk per stream id, in time order (what the recording says). */
export async function framesOnDisk(dirname: string): Promise<Map<number, Frame[]>> {
  const fs = await loadValkkaFS(dirname, { readOnly: true });
  const out = new Map<number, Frame[]>();
  try {
    for (const b of fs.blockTable.timeOrder()) {
      for (const f of (await fs.readBlock(b)).frames) {
        let list = out.get(f.streamId);
        if (!list) out.set(f.streamId, (list = []));
        list.push(f);
      }
    }
  } finally {
    await fs.close();
  }
  for (const list of out.values()) list.sort((a, b) => a.timestamp - b.timestamp);
  return out;
}

/**
 * The frame a seek to `t` must show of a stream, as the recording says: the last frame at or before t, if it is
 * no older than holeMs and the key frame of its GOP was recorded (kept by the ring); else null (no data).
 */
export function expectedAt(frames: Frame[], t: number, holeMs: number): Frame | null {
  let i = frames.length - 1;
  while (i >= 0 && frames[i]!.timestamp > t) i--;
  if (i < 0 || t - frames[i]!.timestamp > holeMs) return null;
  for (let k = i; k >= 0; k--) {
    if (isKeyFrame(frames[k]!)) return frames[i]!;
    if (k > 0 && frames[k]!.timestamp - frames[k - 1]!.timestamp > holeMs) return null;
  }
  return null;
}

/** Decodes a run of frames (from a key frame) with ffmpeg; returns the frame number drawn in each picture. */
export async function decodedNumbers(frames: SlotFrame[], file: string): Promise<number[]> {
  const ext = frames[0]!.codec === 173 ? 'h265' : 'h264';
  const path = `${file}.${ext}`;
  await writeFile(path, Buffer.concat(frames.map((f) => f.payload)));
  const gray = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 });
  const size = 320 * 240;
  return Array.from({ length: gray.length / size }, (_, i) => readFrameNumber(gray.subarray(i * size, (i + 1) * size), 320, 240));
}

/** The frame number the fixtures draw in their top band (see the threads fixtures' README): 16 squares, white = 1. */
function readFrameNumber(gray: Uint8Array, width: number, height: number): number {
  if (width < 320 || height < 20) throw new Error(`frame ${width}x${height} is too small for the code`);
  let n = 0;
  for (let bit = 0; bit < 16; bit++) {
    let sum = 0;
    for (let y = 6; y < 14; y++) for (let x = bit * 20 + 6; x < bit * 20 + 14; x++) sum += gray[y * width + x] ?? 0;
    const mean = sum / 64;
    if (mean > 64 && mean < 192) throw new Error(`bit ${bit} has mean luma ${mean}: not a frame-number code`);
    if (mean >= 128) n |= 1 << bit;
  }
  return n;
}

/** Opens the directories read-only (enough to play). */
export async function openAll(dirs: string[]): Promise<ValkkaFS[]> {
  return Promise.all(dirs.map((d) => loadValkkaFS(d, { readOnly: true })));
}
