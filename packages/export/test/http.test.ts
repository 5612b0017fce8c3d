// The HTTP handler on a bare node:http server: the same bytes as exportRange, byte ranges, and
// clear errors with nothing cached for bad requests.
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { type ValkkaFS, loadValkkaFS } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ExportHandler, byteRange, createExportHandler, exportRange } from '../src/index.js';
import { type Recording, haveFfmpeg, loadClip, probe, record } from './helpers.js';

const why = skipReason('export over HTTP', [[haveFfmpeg, 'ffmpeg/ffprobe not installed']]);
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('byteRange', () => {
  it('reads the one range of a Range header', () => {
    expect(byteRange(undefined, 1000)).toBeUndefined();
    expect(byteRange('bytes=0-99', 1000)).toEqual([0, 99]);
    expect(byteRange('bytes=900-', 1000)).toEqual([900, 999]);
    expect(byteRange('bytes=-100', 1000)).toEqual([900, 999]);
    expect(byteRange('bytes=500-5000', 1000)).toEqual([500, 999]);
    expect(byteRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(byteRange('bytes=5-4', 1000)).toBe('unsatisfiable');
    expect(byteRange('bytes=0-1,5-6', 1000)).toBeUndefined();
    expect(byteRange('items=0-1', 1000)).toBeUndefined();
  });
});

describe.skipIf(why)('createExportHandler', () => {
  let rec: Recording;
  let fs: ValkkaFS;
  let server: Server;
  let handler: ExportHandler;
  let base: string;

  beforeAll(async () => {
    rec = await record(loadClip('h264-baseline-gop1s.h264'), { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * 40 });
    fs = await loadValkkaFS(rec.dirname, { readOnly: true });
    handler = createExportHandler({ resolveStream: (s) => (s === 'cam1' ? { fs } : undefined), cacheDir: join(rec.dirname, '..', 'cache'), cacheFiles: 2 });
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/export`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await handler?.close();
    await fs?.close();
    await rec?.remove();
  });

  const from = new Date(T0 + 1234).toISOString();
  const to = T0 + 7000;

  it('serves the exported MP4 with its length and name; the same bytes as exportRange', async () => {
    const res = await fetch(`${base}?stream=cam1&from=${from}&to=${to}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="cam1_2026-11-30T12-00-01-234Z_2026-11-30T12-00-07-000Z.mp4"');
    const body = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    const file = join(rec.dirname, '..', 'direct.mp4');
    await exportRange(fs, { from: T0 + 1234, to, output: file });
    expect(body.equals(readFileSync(file))).toBe(true);
    expect(probe(file).errors).toBe('');
  });

  it('answers byte ranges (206) and refuses one outside the file (416)', async () => {
    const whole = Buffer.from(await (await fetch(`${base}?stream=cam1&from=${from}&to=${to}`)).arrayBuffer());
    const part = await fetch(`${base}?stream=cam1&from=${from}&to=${to}`, { headers: { Range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${whole.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(100, 1100))).toBe(true);
    const tail = await fetch(`${base}?stream=cam1&from=${from}&to=${to}`, { headers: { Range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(whole.length - 10))).toBe(true);
    const outside = await fetch(`${base}?stream=cam1&from=${from}&to=${to}`, { headers: { Range: `bytes=${whole.length}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${whole.length}`);
    const head = await fetch(`${base}?stream=cam1&from=${from}&to=${to}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(whole.length);
  });

  const bad: Array<[string, string, number, RegExp]> = [
    ['a missing parameter', `stream=cam1&from=${T0}`, 400, /'to' is missing/],
    ['a time that does not parse', `stream=cam1&from=yesterday&to=${to}`, 400, /'from': 'yesterday' is neither/],
    ['from after to', `stream=cam1&from=${to}&to=${T0}`, 400, /is after to/],
    ['an unknown stream', `stream=cam9&from=${T0}&to=${to}`, 404, /no stream 'cam9'/],
    ['times outside the recording', `stream=cam1&from=${T0}&to=${T0 + 3_600_000}`, 422, /after the end of the recording/],
  ];
  for (const [name, query, status, message] of bad) {
    it(`${name}: ${status} with the reason`, async () => {
      const res = await fetch(`${base}?${query}`);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    });
  }

  it('answers 503 with Retry-After when as many exports as allowed are running', async () => {
    const busy = createExportHandler({ resolveStream: () => ({ fs }), cacheDir: join(rec.dirname, '..', 'cache-busy'), maxExports: 0 });
    const other = createServer((req, res) => void busy(req, res));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/?stream=cam1&from=${T0}&to=${to}`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: string }).error).toMatch(/busy with other exports/);
    } finally {
      await new Promise((r) => other.close(r));
      await busy.close();
    }
  });

  it('refuses other methods', async () => {
    const res = await fetch(`${base}?stream=cam1&from=${T0}&to=${to}`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});
