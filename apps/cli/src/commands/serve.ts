import { accessSync, constants, statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { FleetOptions } from '@valkka/demo-web';
import type { Command } from 'commander';
import { CliError } from '../output.js';
import { parseBytes, parseInteger } from '../units.js';
import { parseDuration } from './retention.js';

interface ServeOptions {
  host: string;
  port: string;
  record?: string;
  token?: string;
  logLevel: string;
  fleet?: string;
  node?: string;
  fleetUrl?: string;
  fleetToken?: string;
  archive?: boolean;
  archiveMaxBytes?: string;
  archiveMaxAge?: string;
  natsUser?: string;
  natsPass?: string;
  natsCreds?: string;
}

/** The fleet token is shared by every node: at least this long (it is the only thing between nodes and the blocks). */
const MIN_FLEET_TOKEN = 16;
const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `valkka serve DIR...`: the web UI and HTTP/WebSocket API of @valkka/demo-web over existing filesystems,
 * optionally recording sample cameras into them (--record CONFIG). Runs until Ctrl-C / SIGTERM, then stops
 * cleanly: sessions closed, recorders stopped with their open blocks flushed durably. With --fleet it joins a
 * fleet of recorders on NATS JetStream (catalog, archive); without it nothing of NATS is loaded.
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Play filesystems in the browser, in sync (and record sample cameras into them with --record)')
    .argument('[dirs...]', 'filesystem directories to play')
    .option('--host <host>', 'address to bind; anything but loopback requires a token', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--record <config>', 'JSON file of cameras to record while serving (see apps/demo-web/README.md)')
    .option('--token <token>', 'the access token (default off loopback: a random one, printed in the URL)')
    .option('--log-level <level>', 'pino log level on stderr: fatal, error, warn, info, debug', 'warn')
    .option('--fleet <urls>', 'join a fleet: NATS servers with JetStream, nats://host:port[,nats://host:port...]')
    .option('--node <name>', "this node's name in the fleet (letters, digits, - and _; default: the host name)")
    .option('--fleet-url <url>', 'the URL other nodes reach this server at (default: http://<host or host name>:<port>)')
    .option('--fleet-token <token>', `token every node of the fleet shares, ${MIN_FLEET_TOKEN}+ characters (or env VALKKA_FLEET_TOKEN); required with --fleet`)
    .option('--archive', 'copy every sealed block into the fleet archive (JetStream object store)')
    .option('--archive-max-bytes <size>', 'size limit of the archive bucket when this node creates it (e.g. 20GiB)')
    .option('--archive-max-age <duration>', 'age limit of archived blocks when this node creates the bucket (e.g. 30d)')
    .option('--nats-user <user>', 'NATS user name')
    .option('--nats-pass <password>', 'NATS password (or env VALKKA_NATS_PASS)')
    .option('--nats-creds <file>', 'NATS credentials file (nkey + JWT), instead of user and password')
    .action(async (dirs: string[], options: ServeOptions) => {
      const port = parseInteger(options.port, '--port', 0, 65535);
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(options.logLevel)) {
        throw new CliError(`--log-level: '${options.logLevel}' is not one of fatal, error, warn, info, debug, trace, silent`);
      }
      const fleet = fleetFlags(options, process.env);
      const web = await import('@valkka/demo-web');
      const { pino } = await import('pino');
      const record = options.record ? await web.loadRecordConfig(options.record).catch((err: Error) => Promise.reject(new CliError(err.message))) : undefined;
      if (dirs.length === 0 && !record) throw new CliError('give at least one filesystem directory, or --record CONFIG');
      const logger = pino({ level: options.logLevel }, pino.destination(2));
      let server: Awaited<ReturnType<typeof web.startServer>>;
      try {
        server = await web.startServer({ dirs, host: options.host, port, record, logger, ...(options.token ? { token: options.token } : {}), ...(fleet ? { fleet } : {}) });
      } catch (err) {
        throw new CliError(`cannot serve: ${(err as Error).message}`, 1);
      }
      process.stdout.write(`valkka serve: ${server.catalog.cameras.length} camera(s) from ${server.catalog.filesystems.length} filesystem(s)${record ? `, recording ${record.cameras.length}` : ''}\n`);
      if (fleet) process.stdout.write(`fleet: node ${fleet.node} on ${fleet.servers.length} NATS server(s)${fleet.archive ? ', archiving' : ''}\n`);
      process.stdout.write(`open ${server.openUrl}\n(Ctrl-C stops)\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stdout.write(`\n${signal}: stopping (recordings flushed)...\n`);
      // A second Ctrl-C while stopping ends at once.
      process.once('SIGINT', () => process.exit(130));
      await server.close();
      process.stdout.write('stopped\n');
      // Nothing is left holding the loop: a fleet join still waiting for NATS was aborted by server.close().
    });
}

/**
 * The fleet options from the flags (and VALKKA_FLEET_TOKEN / VALKKA_NATS_PASS), checked, or undefined without
 * --fleet. Errors name the flag; secrets are never part of a message.
 */
export function fleetFlags(o: ServeOptions, env: NodeJS.ProcessEnv): FleetOptions | undefined {
  if (o.fleet === undefined) {
    const stray = (
      [
        ['--node', o.node],
        ['--fleet-url', o.fleetUrl],
        ['--fleet-token', o.fleetToken],
        ['--archive', o.archive],
        ['--archive-max-bytes', o.archiveMaxBytes],
        ['--archive-max-age', o.archiveMaxAge],
        ['--nats-user', o.natsUser],
        ['--nats-pass', o.natsPass],
        ['--nats-creds', o.natsCreds],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (stray) throw new CliError(`${stray[0]} needs --fleet (the NATS servers of the fleet)`);
    return undefined;
  }
  const servers = o.fleet.split(',').map((s) => s.trim());
  for (const s of servers) checkNatsUrl(s);
  const node = o.node ?? hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  if (!NODE_NAME.test(node)) throw new CliError(`--node: '${o.node}' is not a node name (1 to 64 letters, digits, - or _)`);
  const token = o.fleetToken ?? env.VALKKA_FLEET_TOKEN;
  if (token === undefined || token === '') throw new CliError('--fleet needs the fleet token: --fleet-token T or VALKKA_FLEET_TOKEN (the same on every node)');
  if (token.length < MIN_FLEET_TOKEN) throw new CliError(`--fleet-token: the fleet token has ${token.length} characters; it needs at least ${MIN_FLEET_TOKEN}`);
  if (/\s/.test(token)) throw new CliError('--fleet-token: the fleet token must not contain spaces');
  let url: string | undefined;
  if (o.fleetUrl !== undefined) {
    const u = parseUrl(o.fleetUrl, '--fleet-url');
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`--fleet-url: '${o.fleetUrl}' is not an http:// or https:// URL`);
    if (u.username || u.password) throw new CliError('--fleet-url: the URL must not carry credentials');
    url = u.origin + '/';
  }
  if (!o.archive && (o.archiveMaxBytes !== undefined || o.archiveMaxAge !== undefined)) {
    throw new CliError(`${o.archiveMaxBytes !== undefined ? '--archive-max-bytes' : '--archive-max-age'} needs --archive`);
  }
  const archive = o.archive
    ? {
        ...(o.archiveMaxBytes !== undefined ? { maxBytes: parseBytes(o.archiveMaxBytes, '--archive-max-bytes') } : {}),
        ...(o.archiveMaxAge !== undefined ? { maxAgeMs: parseDuration(o.archiveMaxAge, '--archive-max-age') } : {}),
      }
    : undefined;
  const pass = o.natsPass ?? env.VALKKA_NATS_PASS;
  if (o.natsCreds !== undefined) {
    if (o.natsUser !== undefined || pass !== undefined) throw new CliError('--nats-creds: give either a credentials file or --nats-user/--nats-pass, not both');
    try {
      if (!statSync(o.natsCreds).isFile()) throw new Error('not a regular file');
      accessSync(o.natsCreds, constants.R_OK);
    } catch (err) {
      throw new CliError(`--nats-creds: cannot read ${o.natsCreds}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if ((o.natsUser === undefined) !== (pass === undefined)) throw new CliError(o.natsUser === undefined ? '--nats-pass (or VALKKA_NATS_PASS) needs --nats-user' : '--nats-user needs --nats-pass (or VALKKA_NATS_PASS)');
  return {
    servers,
    node,
    token,
    ...(url ? { url } : {}),
    ...(archive ? { archive } : {}),
    ...(o.natsUser !== undefined ? { user: o.natsUser, pass: pass! } : {}),
    ...(o.natsCreds !== undefined ? { credsFile: o.natsCreds } : {}),
  };
}

function checkNatsUrl(text: string): void {
  if (text === '') throw new CliError('--fleet: an empty server in the list (nats://host:port[,nats://host:port...])');
  const u = parseUrl(text, '--fleet');
  if (u.username || u.password) throw new CliError('--fleet: put NATS credentials in --nats-user / --nats-pass (or --nats-creds), not in the URL');
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new CliError(`--fleet: '${text}' is not a nats:// or tls:// URL`);
  if (!u.hostname) throw new CliError(`--fleet: '${text}' has no host`);
  if ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) throw new CliError(`--fleet: '${text}' has more than a host and a port`);
}

function parseUrl(text: string, what: string): URL {
  try {
    return new URL(text);
  } catch {
    // The text may hold a password (user:pass@host): say what is wrong without repeating it.
    throw new CliError(`${what}: ${text.includes('@') ? 'a server' : `'${text}'`} is not a URL`);
  }
}
