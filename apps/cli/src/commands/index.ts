import type { Command } from 'commander';
import { registerExport } from './export.js';
import { registerFsCommands } from './fs.js';
import { registerPartitions } from './partitions.js';
import { registerRecord } from './record.js';
import { registerRetention } from './retention.js';
import { registerServe } from './serve.js';

/** Every subcommand, each from its own module. */
export function registerCommands(program: Command): void {
  registerFsCommands(program);
  registerPartitions(program);
  registerRecord(program);
  registerExport(program);
  registerServe(program);
  registerRetention(program);
}
