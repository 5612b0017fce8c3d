// A minimal `valkka serve --fleet` for the mirror suite: the blockfile and block routes on node:http,
// answered by this package's helpers exactly as the real server mounts them.
import { type Server, createServer } from 'node:http';

import type { ValkkaFS } from '@valkka/fs';

import { type Archive, CURRENT_BLOCK_HEADER, FleetError, blockfileOf, checkBearer, serveBlock } from '../src/index.js';

export interface TestNode {
  url: string;
  blockUrl: string;
  /** Requests answered, by route. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

export async function startTestNode(args: { token: string; local: ValkkaFS[]; archive?: Archive; remote?: (fsId: string) => { url: string; blocksize: number } | undefined }): Promise<TestNode> {
  const requests = new Map<string, number>();
  let base = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
      if (!checkBearer(req.headers.authorization, args.token)) {
        res.writeHead(401).end('fleet token required');
        return;
      }
      try {
        if (url.pathname === '/api/fleet/blockfile') {
          const fs = args.local.find((f) => f.fsId === url.searchParams.get('fsId'));
          if (!fs) throw new FleetError('ENOTFOUND', 'no such filesystem');
          await fs.refresh();
          const { body, currentBlock } = blockfileOf(fs);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, [CURRENT_BLOCK_HEADER]: String(currentBlock) }).end(body);
          return;
        }
        if (url.pathname === '/api/fleet/block') {
          const body = await serveBlock(url.searchParams, {
            localFs: (id) => args.local.find((f) => f.fsId === id),
            remoteFs: args.remote ?? ((id) => (args.local.find((f) => f.fsId === id) ? { url: base, blocksize: args.local.find((f) => f.fsId === id)!.blocksize } : undefined)),
            archive: args.archive,
            fleetToken: args.token,
          });
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
          return;
        }
        res.writeHead(404).end();
      } catch (err) {
        const status = err instanceof FleetError ? err.httpStatus : 500;
        res.writeHead(status).end((err as Error).message);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    blockUrl: `${base}/api/fleet/block`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
