/**
 * The HTTP API (JSON; every query validated with zod; errors name the parameter):
 *   GET /api/health                          uptime, sessions, recorders, block cache (and the fleet's state in one)
 *   GET /api/cameras                         cameras with their time ranges, and the global range
 *   GET /api/filesystems                     geometry and state of each filesystem
 *   GET /api/filesystems/:fs/blocks          the block table in time order (optionally within from..to)
 *   GET /api/ranges?from&to&resolution       recorded ranges per camera and for all, from the block summaries
 *   GET /api/still?camera&time               the key frame at or before time, as a binary frame message
 * and, in their own modules: /api/export (export-route.ts) and /api/protections (protections.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { encodeFrame, HOLE_MS } from '../protocol.js';
import { type Catalog, joinRanges, toWire } from './catalog.js';
import type { Recorders } from './recorder.js';
import { gopAt } from './stream-cursor.js';

const ms = z.coerce.number().finite().min(0).max(8.64e15);
/** Rows of the block table in one answer, at most. */
const MAX_ROWS = 100_000;
/** Ranges per camera in one answer, at most (the resolution merges closer ones). */
const MAX_RANGES = 20_000;

export interface ApiContext {
  catalog: Catalog;
  recorders: Recorders | undefined;
  sessions: () => { open: number; maxQueuedBytes: number };
  startedAt: number;
  /** The fleet's state, when this server is in one. */
  fleet?: (() => unknown) | undefined;
}

export function registerApi(app: FastifyInstance, ctx: ApiContext): void {
  const { catalog } = ctx;

  app.get('/api/health', async () => ({
    ok: true,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    sessions: ctx.sessions(),
    cameras: catalog.cameras.length,
    recorders: ctx.recorders?.stats() ?? [],
    blockCache: catalog.cacheStats,
    rssBytes: process.memoryUsage().rss,
    ...(ctx.fleet ? { fleet: ctx.fleet() } : {}),
  }));

  app.get('/api/cameras', async () => {
    const cameras = catalog.cameras.map((c) => catalog.info(c));
    const ranges = cameras.map((c) => c.timeRange).filter((r): r is [number, number] => r !== null);
    const timeRange = ranges.length ? [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))] : null;
    return { cameras, timeRange };
  });

  app.get('/api/filesystems', async () =>
    catalog.filesystems.map((fs, index) => ({
      index,
      dirname: fs.dirname,
      variant: fs.variant,
      blocksize: fs.blocksize,
      nBlocks: fs.nBlocks,
      currentBlock: fs.currentBlock,
      usedBlocks: fs.blockTable.usedCount,
      timeRange: fs.getTimeRange() ?? null,
      recording: catalog.recordingDirs.has(fs.dirname),
    })),
  );

  const blocksQuery = z.object({ from: ms.optional(), to: ms.optional() }).strict();
  app.get('/api/filesystems/:fs/blocks', async (req, reply) => {
    const index = Number((req.params as { fs: string }).fs);
    const fs = Number.isInteger(index) ? catalog.filesystems[index] : undefined;
    if (!fs) return fail(reply, 404, 'EFS', `no filesystem ${(req.params as { fs: string }).fs} (there are ${catalog.filesystems.length}: 0..${catalog.filesystems.length - 1})`);
    const q = parse(blocksQuery, req.query, reply);
    if (!q) return reply;
    const order = q.from !== undefined || q.to !== undefined ? fs.getInd([q.from ?? 0, q.to ?? 8.64e15]) : fs.blockTable.timeOrder();
    const rows = order.slice(0, MAX_ROWS).map((b) => ({ block: b, mstime1: fs.blockTable.mstime1(b), mstime2: fs.blockTable.mstime2(b) }));
    return { fs: index, currentBlock: fs.currentBlock, rows, truncated: order.length > MAX_ROWS };
  });

  const rangesQuery = z
    .object({
      from: ms,
      to: ms,
      resolution: z.coerce.number().finite().min(0).max(8.64e10).optional(),
      cameras: z
        .string()
        .regex(/^\d+(,\d+)*$/, 'a comma-separated list of camera numbers')
        .optional(),
    })
    .strict()
    .refine((q) => q.from <= q.to, { message: 'from must not be after to', path: ['from'] });
  app.get('/api/ranges', async (req, reply) => {
    const q = parse(rangesQuery, req.query, reply);
    if (!q) return reply;
    const ids = q.cameras ? q.cameras.split(',').map(Number) : catalog.cameras.map((c) => c.id);
    const missing = ids.find((id) => !catalog.camera(id));
    if (missing !== undefined) return fail(reply, 404, 'ECAMERA', `cameras: there is no camera ${missing}`);
    // Gaps shorter than a pixel of the caller's timeline are not holes there.
    const maxGapMs = Math.max(HOLE_MS, q.resolution ?? 0);
    const cameras = [];
    for (const id of ids) {
      const camera = catalog.camera(id)!;
      const ranges = clip(await catalog.rangesOf(camera, q.from, q.to, maxGapMs), q.from, q.to);
      cameras.push({ id, ranges: ranges.slice(0, MAX_RANGES), truncated: ranges.length > MAX_RANGES });
    }
    return { from: q.from, to: q.to, maxGapMs, cameras, all: union(cameras.map((c) => c.ranges), maxGapMs).slice(0, MAX_RANGES) };
  });

  const stillQuery = z.object({ camera: z.coerce.number().int().min(0), time: ms }).strict();
  app.get('/api/still', async (req, reply) => {
    const q = parse(stillQuery, req.query, reply);
    if (!q) return reply;
    const camera = catalog.camera(q.camera);
    if (!camera) return fail(reply, 404, 'ECAMERA', `camera: there is no camera ${q.camera}`);
    const { frames } = await gopAt(catalog, camera, q.time);
    const key = frames[0];
    if (!key) return fail(reply, 404, 'ENODATA', `camera ${q.camera} has no key frame at or before ${new Date(q.time).toISOString()}`);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', 'private, max-age=3600')
      .send(Buffer.from(encodeFrame(toWire(camera.id, 0, key, 0))));
  });
}

/** The value checked by `schema`, or undefined after a 400 naming the parameter (`what`: the query or the body). */
export function parse<T extends z.ZodType>(schema: T, value: unknown, reply: FastifyReply, what = 'query'): z.infer<T> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : what;
  const message = issue?.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}` : `${where}: ${issue?.message}`;
  void fail(reply, 400, 'EQUERY', message);
  return undefined;
}

export function fail(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

function clip(ranges: Array<[number, number]>, from: number, to: number): Array<[number, number]> {
  return ranges.filter(([a, b]) => b >= from && a <= to).map(([a, b]) => [Math.max(a, from), Math.min(b, to)]);
}

/** Ranges where any camera has data, gaps up to maxGap joined. */
function union(lists: Array<Array<[number, number]>>, maxGap: number): Array<[number, number]> {
  return joinRanges(lists.flat(), maxGap);
}
