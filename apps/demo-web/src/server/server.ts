/**
 * `valkka serve`: the HTTP API, the WebSocket sessions and the built UI on one port, optionally recording
 * sample cameras into the filesystems it serves. Binds 127.0.0.1 unless told otherwise; anywhere else it
 * asks for a token on every request. With `fleet` it also joins a fleet of recorders (fleet.ts; NATS is
 * loaded only then).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { isLoopback, newToken, TOKEN_COOKIE, TokenCheck } from './auth.js';
import { Catalog } from './catalog.js';
import { registerExport } from './export-route.js';
import type { FleetMember, FleetOptions } from './fleet.js';
import { isFleetPath, registerFleetRoutes } from './fleet-routes.js';
import { fail, registerApi } from './http-api.js';
import { registerProtections } from './protections.js';
import { formatMissing, type RecordConfig, Recorders } from './recorder.js';
import { DEFAULT_LIMITS, SocketHub, type SocketLimits } from './socket.js';

export interface ServeOptions {
  /** Filesystem directories to play (the record config's directories are added). */
  dirs: string[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required off loopback: given, or made up and printed. */
  token?: string;
  record?: RecordConfig;
  limits?: Partial<SocketLimits>;
  logger?: Logger;
  /** How often the read-only handles follow the writers (ms). */
  refreshMs?: number;
  /** Join a fleet of recorders on NATS JetStream (catalog, archive, remote cameras). */
  fleet?: FleetOptions;
}

export interface RunningServer {
  url: string;
  /** The URL to open, with the token when one is needed. */
  openUrl: string;
  token: string | undefined;
  catalog: Catalog;
  /** The fleet part, when `fleet` was given. */
  fleet: FleetMember | undefined;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const log = options.logger ?? pino({ level: 'info' });
  const token = options.token ?? (isLoopback(host) ? undefined : newToken());
  const check = token ? new TokenCheck(token) : undefined;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };

  const dirs = [...new Set([...options.dirs, ...(options.record?.cameras.map((c) => c.dir) ?? [])])];
  if (dirs.length === 0) throw new Error('no filesystem to serve: give at least one directory (or --record)');
  let recorders: Recorders | undefined;
  if (options.record) {
    for (const dir of await formatMissing(options.record)) log.info({ dir }, 'formatted a new filesystem');
    recorders = await Recorders.start(options.record, log);
  }
  let catalog: Catalog;
  try {
    catalog = await Catalog.open(dirs, { node: options.fleet?.node });
  } catch (err) {
    await recorders?.close();
    throw err;
  }
  for (const dir of recorders?.dirs ?? []) catalog.recordingDirs.add(dir);
  catalog.follow(options.refreshMs ?? 250);

  // Requests are not logged one by one (the child logs at warn): a timeline asks for ranges several times a second.
  const httpLog = log.child({ part: 'http' }, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({ loggerInstance: httpLog, bodyLimit: 4096, routerOptions: { maxParamLength: 64 } });
  const hub = new SocketHub(catalog, limits, log.child({ part: 'ws' }));

  let fleet: FleetMember | undefined;
  if (options.fleet) {
    // Loaded only here: a server outside a fleet never loads the NATS client.
    const { FleetMember } = await import('./fleet.js');
    const localToken = newToken();
    fleet = new FleetMember(catalog, options.fleet, log.child({ part: 'fleet' }), localToken);
    registerFleetRoutes(app, fleet, { fleet: new TokenCheck(options.fleet.token), local: new TokenCheck(localToken), ui: check });
  }

  if (check) {
    app.addHook('onRequest', async (req, reply) => {
      // The fleet's routes check their own tokens (another node has the fleet token, not the UI's).
      if (fleet && isFleetPath(req.url)) return undefined;
      if (!check.accepts(req.raw)) return fail(reply.header('www-authenticate', 'Bearer'), 401, 'ETOKEN', 'a valid token is required (open the URL the server printed)');
      // The page asked with ?token=: its scripts, styles and API calls carry it as a cookie from now on.
      if (new URL(req.url, 'http://x').searchParams.has('token')) {
        reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token!)}; HttpOnly; SameSite=Strict; Path=/`);
      }
      return undefined;
    });
  }
  registerApi(app, { catalog, recorders, sessions: () => hub.stats(), startedAt: Date.now(), fleet: fleet && (() => fleet!.stats()) });
  const exporter = registerExport(app, catalog);
  registerProtections(app, catalog);
  registerStatic(app);
  app.setNotFoundHandler((req, reply) => fail(reply, 404, 'ENOTFOUND', `no such path: ${req.method} ${req.url.split('?')[0]}`));
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err }, 'request failed');
    return fail(reply, status, status === 500 ? 'EINTERNAL' : 'EREQUEST', err.message);
  });

  app.server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (check && !check.accepts(req)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\na valid token is required\n');
      return;
    }
    hub.upgrade(req, socket, head);
  });

  try {
    await app.listen({ host, port: options.port ?? 8080 });
  } catch (err) {
    await exporter.close();
    await fleet?.close();
    await catalog.close();
    await recorders?.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  // Joins in the background: the server serves its own cameras whether NATS is up or not.
  fleet?.start(url, host);
  let closing: Promise<void> | undefined;
  return {
    url,
    openUrl: token ? `${url}?token=${token}` : url,
    token,
    catalog,
    fleet,
    close: () =>
      (closing ??= (async () => {
        await hub.close();
        await app.close();
        await fleet?.close();
        // After the last response: exports in flight finish, then the cached files go.
        await exporter.close();
        await recorders?.close();
        await catalog.close();
      })()),
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** The built UI (dist/ui), held in memory: a handful of small files. */
function registerStatic(app: FastifyInstance): void {
  const dir = uiDir();
  const files = new Map<string, Buffer>();
  if (dir) for (const name of readdirSync(dir)) files.set(`/${name}`, readFileSync(join(dir, name)));
  app.get('/*', async (req, reply) => {
    const path = new URL(req.url, 'http://x').pathname;
    const name = path === '/' ? '/index.html' : path;
    const body = files.get(name);
    if (!body) {
      if (path === '/' && !dir) return reply.code(503).type('text/plain').send('the UI is not built: run `pnpm --filter @valkka/demo-web build`\n');
      return fail(reply, 404, 'ENOTFOUND', `no such path: ${path}`);
    }
    return reply.type(TYPES[extname(name)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(body);
  });
}

/** dist/ui of this package, from src/ (tests) or dist/ (built). */
function uiDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const ui = join(dir, 'dist', 'ui');
      return existsSync(join(ui, 'index.html')) ? ui : undefined;
    }
  }
  return undefined;
}
