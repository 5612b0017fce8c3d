/**
 * `GET /api/export?stream=…&from=…&to=…` as a plain Node request handler, so any server (node:http,
 * fastify's raw request/reply, hono's node adapter) can mount it. The MP4 is exported once into a
 * cache directory and served from there with Content-Length, Content-Disposition and byte ranges,
 * so a `<video>` element can seek in it; the last few exports are kept for the range requests a
 * player sends.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { ValkkaFS } from '@valkka/fs';

import { ExportError, type ExportErrorCode } from './errors.js';
import { exportRange } from './export.js';
import { parseTime } from './time.js';

export interface ExportHandlerOptions {
  /** The filesystem (and stream id, for a MultiFS) that the `stream` parameter names; undefined when unknown. */
  resolveStream(stream: string): { fs: ValkkaFS; streamId?: number } | undefined | Promise<{ fs: ValkkaFS; streamId?: number } | undefined>;
  /** Where exported files are kept (default: a directory under the system's temp dir). */
  cacheDir?: string;
  /** How many exported files to keep for repeated and ranged requests (default 4). */
  cacheFiles?: number;
  /** Exports running at once (default 2); a request for another gets 503 with Retry-After. */
  maxExports?: number;
  /** Passed to exportRange. */
  maxGapMs?: number;
  subtitles?: boolean;
}

export type ExportHandler = ((req: IncomingMessage, res: ServerResponse) => Promise<void>) & {
  /** Removes the cached files. */
  close(): Promise<void>;
};

const STATUS: Record<ExportErrorCode, number> = { EARGUMENT: 400, ENOTFOUND: 404, ERANGE: 422, EEXPIRED: 410, EMEDIA: 422 };

interface Cached {
  path: string;
  done: Promise<void>;
}

/** The handler for GET/HEAD `?stream=&from=&to=` (times in ms since the epoch or ISO 8601). */
export function createExportHandler(options: ExportHandlerOptions): ExportHandler {
  const cacheDir = options.cacheDir ?? join(tmpdir(), `valkka-export-${process.pid}`);
  const keep = options.cacheFiles ?? 4;
  const cache = new Map<string, Cached>();
  const maxExports = options.maxExports ?? 2;
  let running = 0;

  const exported = async (fs: ValkkaFS, streamId: number | undefined, from: number, to: number, key: string): Promise<string> => {
    let entry = cache.get(key);
    if (entry) {
      cache.delete(key); // most recently used goes last
      cache.set(key, entry);
    } else {
      if (running >= maxExports) throw new Busy();
      await mkdir(cacheDir, { recursive: true });
      const path = join(cacheDir, `${createHash('sha256').update(key).digest('hex').slice(0, 24)}.mp4`);
      const request = { from, to, output: path, subtitles: options.subtitles ?? true, ...(streamId !== undefined ? { streamId } : {}) };
      running++;
      const done = exportRange(fs, options.maxGapMs !== undefined ? { ...request, maxGapMs: options.maxGapMs } : request).then(
        () => void running--,
        (err: unknown) => {
          running--;
          throw err;
        },
      );
      entry = { path, done };
      cache.set(key, entry);
      done.catch(() => cache.get(key) === entry && cache.delete(key));
      for (const [k, old] of cache) {
        if (cache.size <= keep) break;
        // An open file stays readable after it is removed: responses in flight finish.
        cache.delete(k);
        void old.done.then(() => rm(old.path, { force: true })).catch(() => undefined);
      }
    }
    await entry.done;
    return entry.path;
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return fail(res, 405, `${req.method} is not supported: use GET`);
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const param = (name: string): string => {
        const v = url.searchParams.get(name);
        if (v === null || v === '') throw new ExportError('EARGUMENT', `the query parameter '${name}' is missing`);
        return v;
      };
      const stream = param('stream');
      const from = parseTime(param('from'), "'from'");
      const to = parseTime(param('to'), "'to'");
      const target = await options.resolveStream(stream);
      if (!target) throw new ExportError('ENOTFOUND', `no stream '${stream}'`);
      const key = `${stream}\n${from}\n${to}`;
      const name = `${stream}_${fileTime(from)}_${fileTime(to)}.mp4`;
      // A file evicted from the cache between its export and its opening is exported again, once.
      const sent = await send(req, res, await exported(target.fs, target.streamId, from, to, key), name);
      if (!sent) {
        cache.delete(key);
        if (!(await send(req, res, await exported(target.fs, target.streamId, from, to, key), name))) throw new Error('the exported file disappeared twice');
      }
    } catch (err) {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      if (err instanceof Busy) {
        res.setHeader('Retry-After', '5');
        return fail(res, 503, err.message);
      }
      if (err instanceof ExportError) return fail(res, STATUS[err.code], err.message);
      return fail(res, 500, `export failed: ${(err as Error).message}`);
    }
  };
  return Object.assign(handler, {
    async close(): Promise<void> {
      const entries = [...cache.values()];
      cache.clear();
      await Promise.all(entries.map((e) => e.done.catch(() => undefined)));
      await rm(cacheDir, { recursive: true, force: true });
    },
  });
}

class Busy extends Error {
  constructor() {
    super('the server is busy with other exports: try again in a few seconds');
  }
}

/**
 * Sends the file, or the one byte range asked for (206), or 416 for a range outside it.
 * False when the file is gone (removed from the cache meanwhile): nothing was sent.
 */
async function send(req: IncomingMessage, res: ServerResponse, path: string, filename: string): Promise<boolean> {
  const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!file) return false;
  try {
    const size = (await file.stat()).size;
    res.setHeader('Content-Type', 'video/mp4');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Disposition', `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`);
    let start = 0;
    let end = size - 1;
    const range = byteRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      fail(res, 416, `the range ${req.headers.range} is outside the file's ${size} bytes`);
      return true;
    }
    if (range) {
      [start, end] = range;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    } else res.statusCode = 200;
    res.setHeader('Content-Length', end - start + 1);
    if (req.method === 'HEAD' || size === 0) res.end();
    else await pipeline(file.createReadStream({ start, end, autoClose: false, highWaterMark: 2 ** 20 }), res);
    return true;
  } finally {
    await file.close();
  }
}

/**
 * The single range of a `Range: bytes=…` header as [start, end] inclusive; undefined for no
 * header, a malformed one or several ranges (the whole file is sent, as RFC 9110 allows).
 */
export function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}

function fail(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: message }));
}

const fileTime = (ms: number): string => new Date(ms).toISOString().replace(/[:.]/g, '-');
