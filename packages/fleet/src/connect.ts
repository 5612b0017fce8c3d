/**
 * One NATS connection per node: it reconnects forever (recording never depends on NATS) and its
 * credentials (user/password, an nkeys creds file) are used, never logged nor put in errors.
 */
import { readFile } from 'node:fs/promises';

import { type Authenticator, type NatsConnection, connect, credsAuthenticator, nkeyAuthenticator } from '@nats-io/transport-node';
import type { Logger } from 'pino';

import { type ArchiveOptions, Archive } from './archive.js';
import { Catalog } from './catalog.js';
import { FleetError } from './errors.js';

export interface FleetOptions {
  /** nats://host:port of one or more servers of the cluster (credentials in a URL are refused: use user/pass). */
  servers: string[];
  /** This node's name (the catalog key is node.<name>). */
  name: string;
  user?: string;
  pass?: string;
  /** An nkeys .creds file (JWT + seed). */
  credsFile?: string;
  log: Logger;
  /** KV and object store replicas; default min(3, servers in the cluster). */
  replicas?: number;
  /** Heartbeat interval of catalog.announce (default 2000 ms; tests use less). */
  heartbeatMs?: number;
  /**
   * Gives up waiting for the first connection: connectFleet rejects (FleetError EABORTED) at once and the
   * attempt stops before its next dial (a server shut down while NATS is unreachable can exit). Not looked at
   * once connected: close() ends a connection.
   */
  signal?: AbortSignal;
}

export type FleetStatus = 'connected' | 'disconnected' | 'closed';

export interface Fleet {
  readonly name: string;
  /** The connection (for tests and tools; the server needs only what this package offers). */
  readonly nc: NatsConnection;
  status(): FleetStatus;
  readonly catalog: Catalog;
  /** The archive bucket, created on first use with these limits. */
  archive(options?: ArchiveOptions): Archive;
  /** Replicas used for new buckets: min(3, cluster size) unless given. */
  replicas(): number;
  close(): Promise<void>;
}

/** nats://host:port with no credentials; anything else is refused with the server's position (never its text, which may hold a password). */
function checkServers(servers: string[]): string[] {
  if (!Array.isArray(servers) || servers.length === 0) throw new FleetError('EARGUMENT', '--fleet: give at least one nats://host:port');
  return servers.map((s, i) => {
    let u: URL;
    try {
      u = new URL(s.includes('://') ? s : `nats://${s}`);
    } catch {
      throw new FleetError('EARGUMENT', `--fleet: server ${i + 1} is not a nats://host:port URL`);
    }
    if (u.username || u.password) throw new FleetError('EARGUMENT', `--fleet: server ${i + 1} carries credentials in its URL; use --nats-user/--nats-pass or --nats-creds`);
    if (!['nats:', 'tls:'].includes(u.protocol) || !u.hostname) throw new FleetError('EARGUMENT', `--fleet: server ${i + 1} (${u.protocol}//${u.host}) is not a nats://host:port URL`);
    return `${u.protocol}//${u.host}`;
  });
}

/** Connects (waiting for the first server that answers) and keeps reconnecting forever. */
export async function connectFleet(options: FleetOptions): Promise<Fleet> {
  const { log, name } = options;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name ?? '')) throw new FleetError('EARGUMENT', `--node: ${JSON.stringify(name)} is not 1-64 letters, digits, _ or -`);
  const servers = checkServers(options.servers);
  let authenticator: Authenticator | undefined;
  if (options.credsFile) {
    let creds: Buffer;
    try {
      creds = await readFile(options.credsFile);
    } catch (err) {
      throw new FleetError('EARGUMENT', `--nats-creds ${options.credsFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    authenticator = authenticatorOf(creds, options.credsFile);
  }
  if ((options.user === undefined) !== (options.pass === undefined)) throw new FleetError('EARGUMENT', '--nats-user and --nats-pass go together');
  const { signal } = options;
  const aborted = (): FleetError => new FleetError('EABORTED', `--fleet ${servers.join(',')}: stopped waiting for NATS`);
  if (signal?.aborted) throw aborted();
  log.info({ servers, node: name, auth: options.credsFile ? 'creds' : options.user ? 'user' : 'none' }, 'fleet: connecting');
  let nc: NatsConnection;
  let connected = false;
  let onAbort = (): void => undefined;
  const attempt = connect({
    servers,
    name: `valkka ${name}`,
    ...(options.user !== undefined ? { user: options.user, pass: options.pass } : {}),
    ...(authenticator ? { authenticator } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: true,
    pingInterval: 5000,
    timeout: 5000,
    // Asked before every dial: throwing is the client's documented way to end a first connect attempt.
    ...(signal
      ? {
          reconnectToServer: () => {
            if (!connected && signal.aborted) throw new Error('aborted');
            return null;
          },
        }
      : {}),
  });
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    nc = await Promise.race([attempt, abort]);
    connected = true;
  } catch (err) {
    if (signal?.aborted) {
      // A connection made after all is closed (the attempt ends itself before its next dial otherwise).
      void attempt.then((late) => late.close(), () => undefined);
      throw aborted();
    }
    // The client's message names the server and the reason (an authorization violation...), not the secret.
    throw new FleetError('ENATS', `--fleet ${servers.join(',')}: cannot connect (${redact((err as Error).message, options)})`, { cause: err });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  let state: FleetStatus = 'connected';
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        state = 'disconnected';
        log.warn({ server: s.server }, 'fleet: NATS disconnected; recording goes on, the archive waits');
      } else if (s.type === 'reconnect') {
        state = 'connected';
        log.info({ server: s.server }, 'fleet: NATS reconnected');
      } else if (s.type === 'error') {
        log.warn({ err: redact(String(s.error?.message ?? s.error), options) }, 'fleet: NATS error');
      }
    }
  })();
  void nc.closed().then(() => {
    state = 'closed';
  });
  const clusterSize = (): number => Math.max(1, nc.info?.connect_urls?.length ?? 1);
  const replicas = (): number => options.replicas ?? Math.min(3, clusterSize());
  const archives = new Map<string, Archive>();
  const fleet: Fleet = {
    name,
    nc,
    status: () => state,
    catalog: new Catalog(nc, { name, log, replicas, ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}) }),
    archive(archiveOptions = {}) {
      const key = JSON.stringify(archiveOptions);
      let a = archives.get(key);
      if (!a) archives.set(key, (a = new Archive(nc, { log, ...archiveOptions, replicas: archiveOptions.replicas ?? replicas })));
      return a;
    },
    replicas,
    async close() {
      fleet.catalog.stop();
      await nc.drain().catch(() => nc.close());
    },
  };
  return fleet;
}

/**
 * A creds file (user JWT and nkey seed, for an operator-mode server) or a bare user nkey seed (SU...,
 * for a server that lists users by nkey). The file's text never goes into an error.
 */
function authenticatorOf(bytes: Buffer, file: string): Authenticator {
  const text = bytes.toString('utf8');
  if (text.includes('-----BEGIN NATS USER JWT-----')) return credsAuthenticator(new Uint8Array(bytes));
  const seed = /\bSU[A-Z2-7]{56}\b/.exec(text);
  if (seed) return nkeyAuthenticator(new TextEncoder().encode(seed[0]));
  throw new FleetError('EARGUMENT', `--nats-creds ${file}: neither a creds file (user JWT and seed) nor a user nkey seed (SU...)`);
}

/** A message with the configured secrets blanked out (a server or library might echo them). */
export function redact(message: string, secrets: { user?: string | undefined; pass?: string | undefined }): string {
  let out = message;
  for (const s of [secrets.pass, secrets.user]) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}
