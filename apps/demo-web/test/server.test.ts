// The server against real recordings: the HTTP API, exact seeks over the WebSocket, and hostile input
// (bad JSON, huge messages, unknown commands, floods, a client that stops reading, no token off loopback).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, FRAME_KEY, FRAME_PREROLL } from '../src/protocol.js';
import { type RunningServer, startServer } from '../src/server/server.js';
import { TestClient } from './client.js';
import { CAMERAS, expectedAt, FRAME_MS, makeRecordings, START } from './recordings.js';

const silent = pino({ level: 'silent' });
let rec: Awaited<ReturnType<typeof makeRecordings>>;
let server: RunningServer;
const ws = (): string => `${server.url.replace('http', 'ws')}ws`;
const get = async (path: string): Promise<{ status: number; body: any }> => {
  const res = await fetch(new URL(path, server.url));
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer()) };
};

beforeAll(async () => {
  rec = await makeRecordings();
  server = await startServer({ dirs: rec.dirs, port: 0, logger: silent, limits: { softQueueBytes: 64 << 10, hardQueueBytes: 512 << 10, commandsPerSecond: 20 } });
});
afterAll(async () => {
  await server?.close();
  await rec?.remove();
});

describe('HTTP API', () => {
  it('lists the cameras with their time ranges', async () => {
    const { body } = await get('/api/cameras');
    expect(body.cameras.map((c: { name: string; codec: string }) => [c.name, c.codec])).toEqual([
      ['camA', 'h264'],
      ['camB', 'h264'],
      ['camC', 'h265'],
      ['multi/4', 'h264'],
    ]);
    expect(body.cameras[1].timeRange[0]).toBe(START + 50 * FRAME_MS); // camB starts late
    expect(body.timeRange).toEqual([START, START + 499 * FRAME_MS]);
  });

  it('gives recorded ranges with the holes, per camera and for all', async () => {
    const { body } = await get(`/api/ranges?from=0&to=${START + 60_000}&resolution=10`);
    const byId = new Map(body.cameras.map((c: { id: number; ranges: unknown }) => [c.id, c.ranges]));
    expect(byId.get(0)).toEqual([
      [START, START + 99 * FRAME_MS],
      [START + 150 * FRAME_MS, START + 499 * FRAME_MS],
    ]);
    expect(byId.get(1)).toEqual([
      [START + 50 * FRAME_MS, START + 349 * FRAME_MS],
      [START + 400 * FRAME_MS, START + 499 * FRAME_MS],
    ]);
    expect(byId.get(3)).toEqual([
      [START, START + 299 * FRAME_MS],
      [START + 350 * FRAME_MS, START + 499 * FRAME_MS],
    ]);
    expect(body.all).toEqual([[START, START + 499 * FRAME_MS]]);
    // Zoomed out (a pixel is 10 s): the 2 s holes are below a pixel and merge away.
    const wide = await get(`/api/ranges?from=0&to=${START + 60_000}&resolution=10000`);
    expect(wide.body.cameras[0].ranges).toEqual([[START, START + 499 * FRAME_MS]]);
  });

  it('serves the block table and a still (the key frame at or before an instant)', async () => {
    const blocks = await get('/api/filesystems/0/blocks');
    expect(blocks.body.rows.length).toBeGreaterThan(3);
    const firsts = blocks.body.rows.map((r: { mstime1: number }) => r.mstime1);
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    const still = await get(`/api/still?camera=0&time=${START + 1234}`);
    expect(still.status).toBe(200);
    const f = decodeFrame(still.body);
    expect(f.timestamp).toBe(START + 1000); // GOP of 1 s: the key frame at 1.000 s
    expect(f.flags & FRAME_KEY).toBe(FRAME_KEY);
    expect(f.config?.codecString).toMatch(/^avc1\./);
    expect(f.config?.width).toBe(320);
  });

  it('answers bad queries with 400 naming the parameter, unknown things with 404', async () => {
    expect(await get('/api/ranges?from=abc&to=5')).toMatchObject({ status: 400, body: { error: { code: 'EQUERY', message: expect.stringContaining('from') } } });
    expect(await get('/api/ranges?from=10&to=5')).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('from must not be after to') } } });
    expect(await get('/api/ranges?from=1&to=5&bogus=1')).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('bogus') } } });
    expect(await get('/api/still?camera=99&time=5')).toMatchObject({ status: 404, body: { error: { code: 'ECAMERA' } } });
    expect(await get('/api/still?camera=0&time=5')).toMatchObject({ status: 404, body: { error: { code: 'ENODATA' } } });
    expect(await get('/api/filesystems/7/blocks')).toMatchObject({ status: 404, body: { error: { code: 'EFS' } } });
    expect(await get('/nothing/here')).toMatchObject({ status: 404, body: { error: { code: 'ENOTFOUND' } } });
    const health = await get('/api/health');
    expect(health.body).toMatchObject({ ok: true, cameras: 4 });
  });
});

describe('WebSocket playback', () => {
  it('a seek sends every camera the GOP up to the exact frame at the target, or says no data', async () => {
    const c = await TestClient.connect(ws());
    c.send({ cmd: 'open', cameras: [0, 1, 2, 3] });
    await c.event('seeked');
    for (const offset of [0, 1000, 1039, 4100, 5000, 7777, 12_500, 15_000, 19_960]) {
      const t = START + offset;
      const mark = c.events.length;
      const framesBefore = c.frames.length;
      c.send({ cmd: 'seek', time: t });
      const seeked = await c.event('seeked', mark);
      expect(seeked.time).toBe(t);
      for (const [i, cam] of CAMERAS.entries()) {
        const want = expectedAt(cam, t);
        const shown = seeked.shown.find((s) => s.camera === i)!;
        expect(shown.timestamp, `${cam.name} at +${offset}`).toBe(want?.timestamp ?? null);
        const burst = c.frames.slice(framesBefore).filter((f) => f.camera === i && f.generation === seeked.generation);
        if (!want) {
          expect(burst).toEqual([]);
          continue;
        }
        expect(burst[0]!.flags & FRAME_KEY, `${cam.name} at +${offset}: starts at a key frame`).toBe(FRAME_KEY);
        expect(burst[0]!.config, 'the key frame carries its configuration').toBeDefined();
        expect(burst.at(-1)!.timestamp).toBe(want.timestamp);
        expect(burst.slice(0, -1).every((f) => f.flags & FRAME_PREROLL)).toBe(true);
        expect(burst.at(-1)!.flags & FRAME_PREROLL).toBe(0);
      }
    }
    c.close();
  });

  it('plays on from a seek: consecutive frames of every camera, a little ahead of the clock', async () => {
    const c = await TestClient.connect(ws());
    c.send({ cmd: 'open', cameras: [0, 3] });
    await c.event('seeked');
    const mark = c.events.length;
    c.send({ cmd: 'seek', time: START + 2000 });
    const seeked = await c.event('seeked', mark);
    c.send({ cmd: 'play', rate: 4 });
    await c.until(() => (c.frames.filter((f) => f.generation === seeked.generation && f.camera === 0).length > 60 ? true : undefined), 10_000, '60 frames');
    for (const cam of [0, 3]) {
      const ts = c.frames.filter((f) => f.camera === cam && f.generation === seeked.generation && !(f.flags & FRAME_PREROLL)).map((f) => f.timestamp);
      expect(ts[0]).toBe(START + 2000);
      expect(ts.slice(0, 40)).toEqual(Array.from({ length: 40 }, (_, i) => START + 2000 + i * FRAME_MS));
    }
    c.close();
  });

  it('steps one frame forward and back, and plays in reverse by whole GOPs', async () => {
    const c = await TestClient.connect(ws());
    c.send({ cmd: 'open', cameras: [0] });
    await c.event('seeked');
    let mark = c.events.length;
    c.send({ cmd: 'seek', time: START + 3000 });
    await c.event('seeked', mark);
    mark = c.events.length;
    c.send({ cmd: 'step', direction: 1 });
    expect((await c.event('seeked', mark)).time).toBe(START + 3040);
    mark = c.events.length;
    c.send({ cmd: 'step', direction: -1 });
    expect((await c.event('seeked', mark)).time).toBe(START + 3000);
    mark = c.events.length;
    c.send({ cmd: 'step', direction: -1 });
    expect((await c.event('seeked', mark)).time).toBe(START + 2960);

    mark = c.events.length;
    c.send({ cmd: 'reverse', rate: 1 });
    const clock = await c.until(() => c.events.slice(mark).find((e) => e.type === 'clock' && e.rate === -1), 5000, 'a reverse clock');
    const gen = (clock as { generation: number }).generation;
    const ofRun = () => c.frames.filter((x) => x.generation === gen);
    const frames = await c
      .until(() => (ofRun().length >= 75 ? ofRun() : undefined), 30_000, 'three GOPs backwards') // three seconds of video; a loaded CI needs room
      .catch((err: Error) => {
        const got = ofRun().map((f) => f.timestamp - START);
        const events = c.events.slice(mark).map((e) => JSON.stringify(e));
        throw new Error(`${err.message}: got ${got.length} frames [${got.join(' ')}]; events since reverse: ${events.join(', ')}`);
      });
    // GOP 2.000..2.960 (up to the position), then 1.000..1.960, then 0..0.960: each in decode order.
    expect(frames.slice(0, 75).map((f) => f.timestamp - START)).toEqual([
      ...Array.from({ length: 25 }, (_, i) => 2000 + i * 40),
      ...Array.from({ length: 25 }, (_, i) => 1000 + i * 40),
      ...Array.from({ length: 25 }, (_, i) => i * 40),
    ]);
    c.close();
  });

  it('refuses bad input with clear errors and keeps going', async () => {
    const c = await TestClient.connect(ws());
    const errors = async (msg: string): Promise<{ code: string; message: string }> => {
      const mark = c.events.length;
      c.send(msg);
      return (await c.event('error', mark)) as { code: string; message: string };
    };
    expect(await errors('{not json')).toMatchObject({ code: 'EJSON' });
    expect(await errors('42')).toMatchObject({ code: 'ECOMMAND' });
    expect(await errors('{"cmd":"format-disk"}')).toMatchObject({ code: 'EUNKNOWN', message: expect.stringContaining('format-disk') });
    expect(await errors('{"cmd":"seek","time":"soon"}')).toMatchObject({ code: 'EINVALID', message: expect.stringContaining('time') });
    expect(await errors('{"cmd":"seek","time":1,"extra":true}')).toMatchObject({ code: 'EINVALID' });
    expect(await errors('{"cmd":"play","rate":1000}')).toMatchObject({ code: 'ERATE' });
    expect(await errors('{"cmd":"open","cameras":[0,1,2,3,0,1,2,3,0,1,2,3,0,1,2,3,0]}')).toMatchObject({ code: 'ELIMIT' });
    expect(await errors('{"cmd":"open","cameras":[42]}')).toMatchObject({ code: 'ECAMERA' });
    // Still alive and answering.
    const mark = c.events.length;
    c.send({ cmd: 'open', cameras: [0] });
    await c.event('seeked', mark);
    c.close();
  });

  it('closes a socket that sends a message over the size limit', async () => {
    const c = await TestClient.connect(ws());
    c.send(JSON.stringify({ cmd: 'seek', time: 1, pad: 'x'.repeat(10_000) }));
    await c.until(() => c.closed, 5000, 'the close');
    expect(c.closed!.code).toBe(1009);
  });

  it('drops commands beyond the rate limit, then disconnects a flood', async () => {
    const c = await TestClient.connect(ws());
    for (let i = 0; i < 400; i++) c.send({ cmd: 'stop' });
    await c.until(() => c.closed, 10_000, 'the disconnect');
    expect(c.events.some((e) => e.type === 'error' && e.code === 'EFLOOD')).toBe(true);
    expect(c.closed!.code).toBe(1008);
  });

  it('a client that stops reading never grows the server queue past its limits', async () => {
    const rssBefore = (await get('/api/health')).body.rssBytes as number;
    const c = await TestClient.connect(ws());
    c.send({ cmd: 'open', cameras: [0, 1, 3] });
    await c.event('seeked');
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stop reading: the kernel buffers fill, then the server's
    c.send({ cmd: 'seek', time: START });
    c.send({ cmd: 'play', rate: 32 });
    let maxQueued = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      maxQueued = Math.max(maxQueued, (await get('/api/health')).body.sessions.maxQueuedBytes);
    }
    // Paced frames stop at the soft limit (64 KiB) plus one frame; seek bursts past the hard limit drop the client.
    expect(maxQueued).toBeLessThan(512 << 10);
    for (let i = 0; i < 15 && !c.closed; i++) {
      c.send({ cmd: 'seek', time: START + 900 + i });
      await new Promise((r) => setTimeout(r, 60));
    }
    const health = (await get('/api/health')).body;
    expect(health.sessions.maxQueuedBytes).toBeLessThan(512 << 10);
    expect(health.rssBytes - rssBefore).toBeLessThan(64 << 20);
    c.ws.terminate();
  });
});

describe('token off loopback', () => {
  let open: RunningServer;
  beforeAll(async () => {
    open = await startServer({ dirs: rec.dirs, host: '0.0.0.0', port: 0, logger: silent, token: 'sesame-123' });
  });
  afterAll(() => open?.close());

  it('answers 401 without the token (page, assets, API, WebSocket) and serves with it', async () => {
    const port = new URL(open.url).port;
    const base = `http://127.0.0.1:${port}`;
    for (const path of ['/', '/main.js', '/api/cameras', '/api/health']) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(401);
      expect(await res.text()).not.toContain('<html');
      expect((await fetch(`${base}${path}${path.includes('?') ? '&' : '?'}token=wrong`)).status).toBe(401);
    }
    await expect(TestClient.connect(`ws://127.0.0.1:${port}/ws`)).rejects.toThrow('401');
    await expect(TestClient.connect(`ws://127.0.0.1:${port}/ws?token=sesame-12`)).rejects.toThrow('401');

    const page = await fetch(`${base}/?token=sesame-123`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${base}/main.js`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${base}/api/cameras`, { headers: { authorization: 'Bearer sesame-123' } })).status).toBe(200);
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws?token=sesame-123`);
    await c.event('hello');
    c.close();
    expect(open.openUrl).toContain('token=sesame-123');
  });
});
