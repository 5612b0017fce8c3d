import type { Command } from 'commander';
import { CliError } from '../output.js';
import { parseInteger } from '../units.js';

interface ServeOptions {
  host: string;
  port: string;
  record?: string;
  token?: string;
  logLevel: string;
}

/**
 * `valkka serve DIR...`: the web UI and HTTP/WebSocket API of @valkka/demo-web over existing filesystems,
 * optionally recording sample cameras into them (--record CONFIG). Runs until Ctrl-C / SIGTERM, then stops
 * cleanly: sessions closed, recorders stopped with their open blocks flushed durably.
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
    .action(async (dirs: string[], options: ServeOptions) => {
      const port = parseInteger(options.port, '--port', 0, 65535);
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(options.logLevel)) {
        throw new CliError(`--log-level: '${options.logLevel}' is not one of fatal, error, warn, info, debug, trace, silent`);
      }
      const web = await import('@valkka/demo-web');
      const { pino } = await import('pino');
      const record = options.record ? await web.loadRecordConfig(options.record).catch((err: Error) => Promise.reject(new CliError(err.message))) : undefined;
      if (dirs.length === 0 && !record) throw new CliError('give at least one filesystem directory, or --record CONFIG');
      const logger = pino({ level: options.logLevel }, pino.destination(2));
      let server: Awaited<ReturnType<typeof web.startServer>>;
      try {
        server = await web.startServer({ dirs, host: options.host, port, record, logger, ...(options.token ? { token: options.token } : {}) });
      } catch (err) {
        throw new CliError(`cannot serve: ${(err as Error).message}`, 1);
      }
      process.stdout.write(`valkka serve: ${server.catalog.cameras.length} camera(s) from ${server.catalog.filesystems.length} filesystem(s)${record ? `, recording ${record.cameras.length}` : ''}\n`);
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
    });
}
