import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { CliError, takeExitCode } from './output.js';

/** Runs the valkka command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('valkka')
    .description('Record cameras into a ValkkaFS block ring, inspect and check it, and play it back.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync(argv);
    return takeExitCode();
  } catch (err) {
    // Commander has printed its message; a usage error exits 2 like every other bad argument.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`valkka: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error & { code?: string };
    const message = e.message ?? String(err);
    process.stderr.write(`valkka: ${message}${e.code && !message.includes(e.code) ? ` (${e.code})` : ''}\n`);
    return 1;
  }
}

declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0';
