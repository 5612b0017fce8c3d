import type { Command } from 'commander';

/** Every subcommand, each from its own module. */
export function registerCommands(program: Command): void {
  void program;
}
