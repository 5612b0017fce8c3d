/**
 * The routes between fleet nodes (fleet.ts answers them), each asking for a token of its own instead of the UI's:
 *   GET /api/fleet/blockfile?fsId=                 block table rows of one of this node's filesystems (16 bytes a row;
 *                                                  its current block in the x-valkka-current-block header)
 *   GET /api/fleet/block?fsId=&block=[&kind=...]   one block's bytes, verbatim
 *   GET /api/fleet/nodes                           the fleet catalog as this node sees it (the UI's token, or the fleet token)
 * Another node asks with the fleet token and gets only this node's own filesystems (kind local). This server's
 * mirror devices ask with its private local token and kind node (from the node that records it) or archive.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TokenCheck } from './auth.js';
import { fail, parse } from './http-api.js';

export interface FleetBlocks {
  /** The catalog as the UI shows it. */
  nodes(): Promise<unknown>;
  /** The block table rows of this node's filesystem `fsId` and its current block; undefined when it has none by that id. */
  blockfile(fsId: string): { body: Buffer; currentBlock: number } | undefined;
  /** The block route's answer (query as given; `local`: the caller may ask for blocks of other nodes and of the archive). */
  block(query: URLSearchParams, local: boolean): Promise<Buffer>;
}

const BlockfileQuery = z.object({ fsId: z.string().regex(/^[0-9a-f]{32}$/, 'a filesystem id (32 lower-case hex digits)') }).strict();
const BLOCK_PARAMS = new Set(['fsId', 'block', 'kind', 'seq', 'nBlocks']);

export function registerFleetRoutes(app: FastifyInstance, blocks: FleetBlocks, tokens: { fleet: TokenCheck; local: TokenCheck; ui: TokenCheck | undefined }): void {
  /** 'local' (this server's mirror devices), 'fleet' (another node), or undefined after a 401. */
  const caller = (req: FastifyRequest, reply: FastifyReply): 'local' | 'fleet' | undefined => {
    if (tokens.local.accepts(req.raw, true)) return 'local';
    if (tokens.fleet.accepts(req.raw, true)) return 'fleet';
    void fail(reply.header('www-authenticate', 'Bearer'), 401, 'ETOKEN', 'the fleet token is required (Authorization: Bearer <fleet token>)');
    return undefined;
  };
  const bytes = (reply: FastifyReply, body: Buffer): FastifyReply => reply.header('content-type', 'application/octet-stream').header('cache-control', 'no-store').send(body);

  app.get('/api/fleet/blockfile', async (req, reply) => {
    if (!caller(req, reply)) return reply;
    const q = parse(BlockfileQuery, req.query, reply);
    if (!q) return reply;
    const rows = blocks.blockfile(q.fsId);
    if (!rows) return fail(reply, 404, 'EFS', `fsId: no filesystem ${q.fsId} on this node`);
    return bytes(reply.header('x-valkka-current-block', String(rows.currentBlock)), rows.body);
  });

  app.get('/api/fleet/block', async (req, reply) => {
    const who = caller(req, reply);
    if (!who) return reply;
    const query = new URL(req.url, 'http://x').searchParams;
    const unknown = [...query.keys()].find((k) => !BLOCK_PARAMS.has(k));
    if (unknown !== undefined) return fail(reply, 400, 'EQUERY', `unknown parameter ${unknown}`);
    // Another node gets this node's own blocks only: a request is never passed on to a third node or the archive.
    const kind = query.get('kind') ?? 'local';
    if (who === 'fleet' && kind !== 'local') return fail(reply, 403, 'EFORBIDDEN', `kind: ${kind} is for this server's own mirrors; other nodes ask for kind local`);
    try {
      return bytes(reply, await blocks.block(query, who === 'local'));
    } catch (err) {
      const status = (err as { httpStatus?: number }).httpStatus;
      if (status === undefined) throw err;
      return fail(reply, status, (err as { code: string }).code, (err as Error).message);
    }
  });

  app.get('/api/fleet/nodes', async (req, reply) => {
    if (tokens.ui && !tokens.ui.accepts(req.raw) && !tokens.fleet.accepts(req.raw, true)) return fail(reply.header('www-authenticate', 'Bearer'), 401, 'ETOKEN', 'a valid token is required');
    return blocks.nodes();
  });
}

const FLEET_PATHS = new Set(['/api/fleet/blockfile', '/api/fleet/block', '/api/fleet/nodes']);

/** The routes that check their own tokens (the UI's token check leaves exactly these alone). */
export const isFleetPath = (url: string): boolean => FLEET_PATHS.has(url.split('?')[0]!);
