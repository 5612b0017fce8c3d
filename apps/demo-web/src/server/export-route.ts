/**
 * GET/HEAD /api/export?stream=&from=&to=: the MP4 of one camera's range, by @valkka/export's handler
 * (exported once into a private cache directory, then served with Content-Length and byte ranges).
 * `stream` is a camera's name (when no other camera has it) or its number.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createExportHandler, type ExportHandler } from '@valkka/export';
import type { FastifyInstance } from 'fastify';
import type { Camera, Catalog } from './catalog.js';

export function registerExport(app: FastifyInstance, catalog: Catalog): ExportHandler {
  const handler = createExportHandler({
    resolveStream: (stream) => {
      const camera = cameraNamed(catalog, stream);
      return camera && { fs: camera.fs, streamId: camera.streamId };
    },
    // One directory per server: close() removes it whole.
    cacheDir: join(tmpdir(), `valkka-serve-export-${process.pid}-${randomBytes(4).toString('hex')}`),
  });
  // The handler writes the response itself (HEAD too: fastify routes HEAD here with the raw method).
  app.get('/api/export', (req, reply) => {
    reply.hijack();
    return handler(req.raw, reply.raw);
  });
  return handler;
}

function cameraNamed(catalog: Catalog, stream: string): Camera | undefined {
  const named = catalog.cameras.filter((c) => c.name === stream);
  if (named.length === 1) return named[0];
  return /^\d+$/.test(stream) ? catalog.camera(Number(stream)) : undefined;
}
