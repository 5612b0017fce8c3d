import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadValkkaFS, ValkkaSingleFS } from '@valkka/fs';
import { loadClip } from '@valkka/threads';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valkka } from './run-cli.js';

async function readAllFrames(dirname: string) {
  const fs = await ValkkaSingleFS.loadFromDirectory(dirname, { readOnly: true });
  try {
    const frames = [];
    for (let i = 0; i < fs.nBlocks; i++) {
      const c = await fs.readBlock(i).catch(() => undefined);
      if (c) frames.push(...c.frames);
    }
    return frames.sort((a, b) => a.timestamp - b.timestamp);
  } finally {
    await fs.close();
  }
}

/** The built command (bin/valkka.js runs dist/): turbo's test task builds first. */
const BIN = new URL('../bin/valkka.js', import.meta.url).pathname;

/** Waits until the filesystem shows flushed frames: the recorder is past its start (its signal handlers are in place). */
async function waitForFrames(dirname: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const fs = await loadValkkaFS(dirname, { readOnly: true });
    const range = fs.getTimeRange();
    await fs.close();
    if (range) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${dirname}: no frames flushed within 20 s`);
}

/** `valkka check DIR` finds nothing wrong. */
async function expectClean(dirname: string): Promise<void> {
  const { code, stdout } = await valkka('check', dirname, '--json');
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ ok: true });
}

const why = skipReason('valkka record', [
  [hasCommand('ffmpeg', ['-version']), 'ffmpeg not installed'],
  [hasCommand('ffprobe', ['-version']), 'ffprobe not installed'],
]);

describe.skipIf(why)('valkka record', () => {
  let base: string;
  let clip: string;
  let clipFrames: number;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'valkka-record-'));
    clip = join(base, 'clip.h264');
    // 2 s at 25 fps, key frame every second, parameter sets before each key frame.
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '2', '-c:v', 'libx264', '-profile:v', 'baseline',
      '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', '0', '-x264-params', 'repeat-headers=1:aud=1', '-f', 'h264', clip]);
    clipFrames = Number(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', clip]).toString().trim());
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  async function newFs(name: string): Promise<string> {
    const dirname = join(base, name);
    await (await ValkkaSingleFS.newFromDirectory({ dirname, blocksize: 64 * 1024, nBlocks: 64 })).close();
    return dirname;
  }

  it('records every access unit of the file, byte for byte, 1/fps apart, and prints a JSON summary', async () => {
    const dirname = await newFs('once');
    const { code, stdout } = await valkka('record', dirname, '--source', clip, '--id', '7', '--fast', '--json');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(clipFrames).toBe(50);
    const units = (await loadClip(clip)).units;
    expect(summary).toMatchObject({ dirname, id: 7, frames: clipFrames, drops: 0, bytes: units.reduce((n, u) => n + u.payload.length, 0) });
    const frames = await readAllFrames(dirname);
    expect(frames.length).toBe(clipFrames);
    expect(frames.every((f) => f.streamId === 7)).toBe(true);
    // The access units the source cut (Annex-B, 4-byte start codes), stored unchanged; together they hold the file's NAL units.
    frames.forEach((f, k) => expect(Buffer.from(f.payload).equals(Buffer.from(units[k]!.payload))).toBe(true));
    const nalBytes = (b: Uint8Array) => Buffer.from(b).toString('hex').replaceAll('00000001', '000001');
    expect(nalBytes(Buffer.concat(frames.map((f) => f.payload)))).toBe(nalBytes(readFileSync(clip)));
    expect(frames.map((f) => f.timestamp - summary.firstTimestamp)).toEqual(frames.map((_, k) => Math.round(k * 40)));
    expect(frames.filter((f) => (f.flags & 1) !== 0).length).toBe(2);
    expect(summary.lastTimestamp).toBe(frames[frames.length - 1]!.timestamp);
    expect(summary.interrupted).toBe(false);
  });

  it('--duration loops the file and stops at the duration', async () => {
    const dirname = await newFs('loop');
    const { code, stdout } = await valkka('record', dirname, '--source', clip, '--duration', '3', '--fast', '--json');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ frames: 75, drops: 0 });
    const frames = await readAllFrames(dirname);
    expect(frames.length).toBe(75);
    expect(frames.map((f) => f.timestamp)).toEqual(frames.map((_, k) => summary.firstTimestamp + k * 40));
  });

  it('records in real time by default (a short clip: a second of an MP4)', async () => {
    const dirname = await newFs('realtime');
    const mp4 = join(base, 'clip.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-r', '25', '-i', clip, '-c', 'copy', mp4]);
    const { code, stdout } = await valkka('record', dirname, '--source', mp4, '--duration', '1', '--json');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ frames: 25, drops: 0 });
    expect(summary.seconds).toBeGreaterThan(0.9); // paced by the clock: 25 frames take a second
    expect((await readAllFrames(dirname)).length).toBe(25);
  });

  it('Ctrl-C (SIGINT) stops a recording early and cleanly: what it reports is what was written', async () => {
    const dirname = await newFs('interrupted');
    const listeners = process.listenerCount('SIGINT');
    const running = valkka('record', dirname, '--source', clip, '--duration', '60', '--json');
    await waitForFrames(dirname);
    process.emit('SIGINT');
    const { code, stdout } = await running;
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.interrupted).toBe(true);
    expect(summary.frames).toBeLessThan(60 * 25);
    const frames = await readAllFrames(dirname);
    expect(frames.length).toBe(summary.frames);
    expect(frames.map((f) => f.timestamp)).toEqual(frames.map((_, k) => summary.firstTimestamp + k * 40));
    if (frames.length > 0) expect(summary.lastTimestamp).toBe(frames[frames.length - 1]!.timestamp);
    expect(process.listenerCount('SIGINT')).toBe(listeners); // the handler is gone with the recording
    await expectClean(dirname);
  });

  // A service manager stops a recorder with SIGTERM (systemd, Docker) or SIGHUP (the terminal went away): the real
  // command in its own process, real signals.
  it.each(['SIGTERM', 'SIGHUP'] as const)('%s stops a recording cleanly: exit 0, the summary printed, what it reports is durable, check is clean', async (name) => {
    const dirname = await newFs(`signal-${name}`);
    const child = spawn(process.execPath, [BIN, 'record', dirname, '--source', clip, '--duration', '60', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await waitForFrames(dirname);
    child.kill(name);
    expect(await exited, stderr).toEqual({ code: 0, signal: null });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ interrupted: true, signal: name, drops: 0 });
    expect(summary.frames).toBeGreaterThan(0);
    expect(summary.frames).toBeLessThan(60 * 25);
    const frames = await readAllFrames(dirname);
    expect(frames.length).toBe(summary.frames);
    expect(frames.map((f) => f.timestamp)).toEqual(frames.map((_, k) => summary.firstTimestamp + k * 40));
    await expectClean(dirname);
  });

  it('a second signal forces the stop: the threads are terminated, the exit status says which signal', async () => {
    const dirname = await newFs('forced');
    const running = valkka('record', dirname, '--source', clip, '--duration', '60', '--json');
    await waitForFrames(dirname);
    process.emit('SIGINT');
    process.emit('SIGINT');
    const { code, stderr } = await running;
    expect(code).toBe(130);
    expect(stderr).toMatch(/stopped at once by a second SIGINT/);
    for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) expect(process.listenerCount(name)).toBe(0);
  });

  it('refuses an id that a ValkkaSingleFS does not hold, naming the stream id it holds; nothing is written', async () => {
    const dirname = await newFs('one-stream');
    expect((await valkka('record', dirname, '--source', clip, '--id', '7', '--fast', '--json')).code).toBe(0);
    const before = (await readAllFrames(dirname)).length;
    const other = await valkka('record', dirname, '--source', clip, '--id', '8', '--fast', '--json');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--id 8: .*one-stream is a ValkkaSingleFS that holds stream id 7.*record with --id 7/);
    expect(other.stdout).toBe('');
    expect((await readAllFrames(dirname)).length).toBe(before);
  });

  it('counts drops by reason and says what to change: frames larger than a block', async () => {
    // Lossless 1280x720: frames of 45..56 kB, some of which do not fit into blocks of 52 KiB.
    const big = join(base, 'big.h264');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '1', '-c:v', 'libx264', '-qp', '0', '-g', '25', '-bf', '0',
      '-x264-params', 'repeat-headers=1', '-f', 'h264', big]);
    const newSmall = async (name: string): Promise<string> => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: join(base, name), blocksize: 52 * 1024, nBlocks: 64 });
      await fs.close();
      return join(base, name);
    };
    const dirname = await newSmall('small-blocks');
    const fs = await ValkkaSingleFS.loadFromDirectory(dirname, { readOnly: true });
    const maxPayload = fs.maxFramePayload;
    await fs.close();
    const units = (await loadClip(big)).units;
    const tooLarge = units.filter((u) => u.payload.length > maxPayload).length;
    expect(tooLarge).toBeGreaterThan(0);
    expect(tooLarge).toBeLessThan(units.length);
    const { code, stdout } = await valkka('record', dirname, '--source', big, '--fast');
    expect(code).toBe(0);
    expect(stdout).toContain(`${units.length - tooLarge} frames`);
    expect(stdout).toContain(`${tooLarge} dropped because they are larger than a block (52.0 KiB) can hold: make the filesystem with a larger --blocksize`);
    const json = JSON.parse((await valkka('record', await newSmall('small-json'), '--source', big, '--fast', '--json')).stdout);
    expect(json).toMatchObject({ drops: tooLarge, dropped: { queueFull: 0, tooLarge, wrongStream: 0 } });
    expect(json.advice).toHaveLength(1);
  });

  it('refuses bad input with a message that names it', async () => {
    const dirname = await newFs('bad');
    const missing = await valkka('record', dirname, '--source', join(base, 'nope.h264'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--source: cannot open media file .*nope\.h264/);
    const notAFs = await valkka('record', join(base, 'not-a-fs'), '--source', clip, '--fast');
    expect(notAFs.code).toBe(1);
    expect(notAFs.stderr).toMatch(/cannot record into .*not-a-fs/);
    const junk = join(base, 'junk.h264');
    writeFileSync(junk, Buffer.alloc(1000, 7));
    const noUnits = await valkka('record', dirname, '--source', junk, '--fast');
    expect(noUnits.code).toBe(2);
    expect(noUnits.stderr).toMatch(/--source: .*junk\.h264/);
    expect((await valkka('record', dirname, '--source', clip, '--id', '0')).stderr).toMatch(/--id: 0 is out of range/);
    expect((await valkka('record', dirname, '--source', clip, '--duration', 'soon')).stderr).toMatch(/--duration: 'soon'/);
  });
});
