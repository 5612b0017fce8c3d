// One recorder for the fleet tests and the fleet bench: what `valkka serve --record CONFIG --port 0 --fleet ...
// --node NAME --archive` runs (apps/cli's serve calls the same startServer), from this package's build, in its own
// process so that a test can kill it. Arguments: the record config; env FLEET: the fleet options as JSON (token
// included: never on the command line), absent = a standalone server. Prints "open <url>", and on SIGTERM the CPU
// time it used since then ("cpu <µs>"), then stops cleanly.
import { pino } from 'pino';
import { loadRecordConfig, startServer } from '../dist/index.js';

const record = await loadRecordConfig(process.argv[2]);
const fleet = process.env.FLEET ? JSON.parse(process.env.FLEET) : undefined;
const server = await startServer({ dirs: [], port: 0, record, ...(fleet ? { fleet } : {}), logger: pino({ level: 'warn' }, pino.destination(2)) });
const started = process.cpuUsage();
process.stdout.write(`open ${server.url}\n`);
process.once('SIGTERM', () => {
  const used = process.cpuUsage(started);
  process.stdout.write(`cpu ${used.user + used.system}\n`);
  void server.close().then(() => process.stdout.write('stopped\n'));
});
