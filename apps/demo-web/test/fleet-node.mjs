// One fleet recorder for the fleet tests: what `valkka serve --record CONFIG --port 0 --fleet ... --node NAME
// --archive` runs (apps/cli's serve calls the same startServer), from this package's build, in its own process so
// that a test can kill it. Arguments: the record config; env FLEET: the fleet options as JSON (token included:
// never on the command line). Prints "open <url>"; SIGTERM stops it cleanly.
import { pino } from 'pino';
import { loadRecordConfig, startServer } from '../dist/index.js';

const record = await loadRecordConfig(process.argv[2]);
const fleet = JSON.parse(process.env.FLEET ?? '{}');
const server = await startServer({ dirs: [], port: 0, record, fleet, logger: pino({ level: 'warn' }, pino.destination(2)) });
process.stdout.write(`open ${server.url}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.stdout.write('stopped\n'));
});
