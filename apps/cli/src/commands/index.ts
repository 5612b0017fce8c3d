import type { Command } from 'commander';
import { registerPartitions } from './partitions.js';
import { registerRecord } from './record.js';

/** Every subcommand, each from its own module. */
export function registerCommands(program: Command): void {
  void program;
  registerPartitions(program);
  registerRecord(program);
}
