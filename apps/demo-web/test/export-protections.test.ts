// /api/export (the MP4 of a camera's range, byte ranges, ffprobe of the body) and /api/protections
// (protect, list, release, bad input, the cap), on their own recordings: protections change the directories.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { retention } from '@valkka/fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/server/server.js';
import { FRAME_MS, makeRecordings, START } from './recordings.js';

const run = promisify(execFile);
const hasFfprobe = await run('ffprobe', ['-version']).then(
  () => true,
  () => false,
);
if (!hasFfprobe) console.log('SKIPPED demo-web export ffprobe check: ffprobe is not installed');

let rec: Awaited<ReturnType<typeof makeRecordings>>;
let server: RunningServer;
let guarded: RunningServer;
const call = async (path: string, init: RequestInit = {}, on = server): Promise<{ status: number; headers: Headers; body: any }> => {
  const res = await fetch(new URL(path, on.url), init);
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, body: type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer()) };
};
const post = (body: unknown): ReturnType<typeof call> =>
  call('/api/protections', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

// Frames 150..250 of camA (6 s .. 10 s, no hole; 150 is a key frame: GOP of 1 s).
const FROM = START + 150 * FRAME_MS;
const TO = START + 250 * FRAME_MS;
const clip = `/api/export?stream=camA&from=${FROM}&to=${TO}`;

beforeAll(async () => {
  rec = await makeRecordings();
  // camA: protections may hold 3 of its 32 blocks (its 20 s use 6), so the whole recording is over the cap.
  await retention.setMaxProtected(rec.dirs[0]!, 0.1);
  const silent = pino({ level: 'silent' });
  server = await startServer({ dirs: rec.dirs, port: 0, logger: silent });
  guarded = await startServer({ dirs: rec.dirs.slice(0, 1), port: 0, logger: silent, token: 'sesame' });
});
afterAll(async () => {
  await server?.close();
  await guarded?.close();
  await rec?.remove();
});

describe('GET /api/export', () => {
  it('sends the MP4 with its length and a file name, and byte ranges of the same bytes', async () => {
    const whole = await call(clip);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(Number(whole.headers.get('content-length'))).toBe(whole.body.length);
    expect(whole.headers.get('content-disposition')).toMatch(/^attachment; filename="camA_.+\.mp4"$/);
    expect(new TextDecoder().decode(whole.body.subarray(4, 8))).toBe('ftyp');

    const part = await call(clip, { headers: { range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${whole.body.length}`);
    expect(part.body).toEqual(whole.body.subarray(100, 1100));

    const head = await call(clip, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(whole.body.length);
  });

  it.skipIf(!hasFfprobe)('exports every frame of the range (ffprobe counts them)', async () => {
    // By camera number this time (a second export: another cache entry).
    const { status, body } = await call(`/api/export?stream=0&from=${FROM}&to=${TO}`);
    expect(status).toBe(200);
    const file = join(rec.base, 'clip.mp4');
    await writeFile(file, body);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,width,nb_read_frames', '-of', 'json', file]);
    const stream = JSON.parse(stdout).streams[0];
    expect(stream).toMatchObject({ codec_name: 'h264', width: 320 });
    expect(Number(stream.nb_read_frames)).toBe(101); // frames 150..250, both ends included
  });

  it('refuses bad input with 400 naming the parameter, and an unknown camera with 404', async () => {
    const bad = await call(`/api/export?stream=camA&from=yesterday&to=${TO}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/'from'.*neither milliseconds since the epoch nor an ISO 8601 time/);
    const missing = await call(`/api/export?stream=camA&from=${FROM}`);
    expect(missing).toMatchObject({ status: 400, body: { error: "the query parameter 'to' is missing" } });
    const unknown = await call(`/api/export?stream=nocam&from=${FROM}&to=${TO}`);
    expect(unknown).toMatchObject({ status: 404, body: { error: "no stream 'nocam'" } });
  });
});

describe('/api/protections', () => {
  it('protects a range, lists it on the camera filesystem, and releases it', async () => {
    const made = await post({ camera: 0, from: FROM, to: FROM + 500, note: 'bicycle theft' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ fs: 0, cameras: [0], protection: { id: 1, from: FROM, to: FROM + 500, note: 'bicycle theft' } });
    expect(made.body.protection.blocks).toBeGreaterThan(0);

    const list = await call('/api/protections');
    expect(list.status).toBe(200);
    const camA = list.body.filesystems.find((f: { fs: number }) => f.fs === 0);
    expect(camA).toMatchObject({ cameras: [0], maxProtected: 0.1, protections: [{ id: 1, from: FROM, to: FROM + 500, note: 'bicycle theft' }] });
    expect(camA.protectedBlocks).toBe(made.body.protection.blocks);
    expect(list.body.filesystems.filter((f: { protections: unknown[] }) => f.protections.length > 0)).toHaveLength(1);
    // The file a recorder polls holds it too.
    expect((await retention.listProtections(rec.dirs[0]!)).map((p) => p.id)).toEqual([1]);

    const gone = await call('/api/protections/0/1', { method: 'DELETE' });
    expect(gone).toMatchObject({ status: 200, body: { fs: 0, removed: { id: 1, note: 'bicycle theft' } } });
    expect((await call('/api/protections')).body.filesystems[0].protections).toEqual([]);
    expect(await call('/api/protections/0/1', { method: 'DELETE' })).toMatchObject({ status: 404, body: { error: { code: 'ENOTFOUND' } } });
  });

  it('refuses bad input with 400 naming what was wrong', async () => {
    expect(await post({ camera: 0, from: 'noon', to: TO })).toMatchObject({ status: 400, body: { error: { code: 'EQUERY', message: expect.stringMatching(/^from: /) } } });
    expect(await post({ camera: 0, from: TO, to: FROM })).toMatchObject({ status: 400, body: { error: { message: 'from: from must not be after to' } } });
    expect(await post({ camera: 0, from: FROM, to: TO, colour: 'red' })).toMatchObject({ status: 400, body: { error: { message: 'unknown parameter colour' } } });
    expect(await post({ camera: 0, from: FROM, to: TO, note: 'x'.repeat(501) })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^note: /) } } });
    expect(await post({ camera: 9, from: FROM, to: TO })).toMatchObject({ status: 404, body: { error: { code: 'ECAMERA' } } });
    // Checked by @valkka/fs: a range in the future, a range with no video.
    const future = await post({ camera: 0, from: FROM, to: Date.now() + 3_600_000 });
    expect(future).toMatchObject({ status: 400, body: { error: { code: 'EARGUMENT', message: expect.stringContaining('in the future') } } });
    const empty = await post({ camera: 0, from: START - 60_000, to: START - 1000 });
    expect(empty).toMatchObject({ status: 400, body: { error: { code: 'EARGUMENT', message: expect.stringContaining('holds no video') } } });
    expect(await call('/api/protections/0/abc', { method: 'DELETE' })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^id: /) } } });
    expect(await call('/api/protections/7/1', { method: 'DELETE' })).toMatchObject({ status: 404, body: { error: { code: 'EFS' } } });
    expect((await retention.listProtections(rec.dirs[0]!))).toEqual([]);
  });

  it('refuses a protection over the cap with 409 giving the numbers', async () => {
    const over = await post({ camera: 0, from: START, to: START + 499 * FRAME_MS });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('EPROTECTCAP');
    expect(over.body.error.message).toMatch(/protections would hold \d+ of 32 blocks .* more than the cap of 3/);
    expect(await retention.listProtections(rec.dirs[0]!)).toEqual([]);
  });

  it('asks for the token like every other route when the server has one', async () => {
    expect((await call(clip, {}, guarded)).status).toBe(401);
    expect((await call('/api/protections', {}, guarded)).status).toBe(401);
    const refused = await call('/api/protections', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ camera: 0, from: FROM, to: FROM }) }, guarded);
    expect(refused.status).toBe(401);
    expect(await retention.listProtections(rec.dirs[0]!)).toEqual([]);
    const auth = { authorization: 'Bearer sesame' };
    expect((await call('/api/protections', { headers: auth }, guarded)).status).toBe(200);
    expect((await call(clip, { headers: auth }, guarded)).status).toBe(200);
  });
});
