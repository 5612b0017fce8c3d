/**
 * Protected ranges (evidence lock) over HTTP, through @valkka/fs's retention API on the catalog's handles:
 *   GET    /api/protections                   every filesystem's protections, with the cameras each one covers
 *   POST   /api/protections                   {camera, from, to, note?, id?}: protects [from, to] of the camera's filesystem
 *   DELETE /api/protections/:fs/:id           releases protection `id` of filesystem `fs` (its index in /api/filesystems)
 * A protection belongs to a filesystem: in a MultiFS it holds every stream's video of that range.
 * The recorders of `valkka serve` write from worker threads, so this process has no writer handle to call:
 * the change goes to protections.json, and the writer picks it up within its one-second poll.
 */
import { retention, ValkkaFSError } from '@valkka/fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AnyFS, Catalog } from './catalog.js';
import { fail, parse } from './http-api.js';

const time = z.number().int().min(0).max(8.64e15);
const ProtectBody = z
  .object({
    camera: z.number().int().min(0),
    from: time,
    to: time,
    note: z.string().max(500).optional(),
    id: z.number().int().min(1).max(2 ** 31 - 1).optional(),
  })
  .strict()
  .refine((b) => b.from <= b.to, { message: 'from must not be after to', path: ['from'] });

const STATUS: Record<string, number> = { EARGUMENT: 400, ENOTFOUND: 404, EPROTECTCAP: 409, EREADONLY: 409, ELOCKED: 409 };

export function registerProtections(app: FastifyInstance, catalog: Catalog): void {
  // One change at a time per filesystem: protections.json is read, changed and replaced.
  const chains = new Map<AnyFS, Promise<unknown>>();
  const serial = <T>(fs: AnyFS, job: () => Promise<T>): Promise<T> => {
    const next = (chains.get(fs) ?? Promise.resolve()).then(job, job);
    chains.set(
      fs,
      next.catch(() => undefined),
    );
    return next;
  };
  const camerasOf = (fs: AnyFS): number[] => catalog.cameras.filter((c) => c.fs === fs).map((c) => c.id);
  const answer = async <T>(reply: FastifyReply, job: () => Promise<T>): Promise<T | FastifyReply> => {
    try {
      return await job();
    } catch (err) {
      const status = err instanceof ValkkaFSError ? STATUS[err.code] : undefined;
      if (status === undefined) throw err;
      return fail(reply, status, (err as ValkkaFSError).code, (err as ValkkaFSError).message);
    }
  };

  app.get('/api/protections', async (_req, reply) =>
    answer(reply, async () => {
      const filesystems = [];
      for (const [index, fs] of catalog.filesystems.entries()) {
        const s = await fs.retentionSummary();
        filesystems.push({
          fs: index,
          dirname: fs.dirname,
          cameras: camerasOf(fs),
          maxProtected: s.maxProtected,
          protectedBlocks: s.protectedBlocks,
          protectedShare: s.protectedShare,
          protections: s.protections,
        });
      }
      return { filesystems };
    }),
  );

  app.post('/api/protections', async (req, reply) => {
    const body = parse(ProtectBody, req.body, reply, 'body');
    if (!body) return reply;
    const camera = catalog.camera(body.camera);
    if (!camera) return fail(reply, 404, 'ECAMERA', `camera: there is no camera ${body.camera}`);
    if (camera.source !== 'local') return fail(reply, 409, 'EREMOTE', `camera ${body.camera} (${camera.name}) is ${camera.source === 'archive' ? 'in the fleet archive' : `recorded by node ${camera.node}`}: protect it on its own node`);
    return answer(reply, async () => {
      const request: retention.ProtectRequest = { from: body.from, to: body.to, note: body.note, id: body.id };
      const p = await serial(camera.fs, () => camera.fs.protect(request));
      return reply.code(201).send({ fs: camera.fsIndex, cameras: camerasOf(camera.fs), protection: p });
    });
  });

  const params = z.object({ fs: z.coerce.number().int().min(0), id: z.coerce.number().int().min(1) }).strict();
  app.delete('/api/protections/:fs/:id', async (req, reply) => {
    const p = parse(params, req.params, reply, 'path');
    if (!p) return reply;
    const fs = catalog.filesystems[p.fs];
    if (!fs) return fail(reply, 404, 'EFS', `no filesystem ${p.fs} (there are ${catalog.filesystems.length})`);
    return answer(reply, async () => ({ fs: p.fs, removed: await serial(fs, () => fs.unprotect(p.id)) }));
  });
}
