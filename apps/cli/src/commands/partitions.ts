import { DeviceError, listPartitions, type PartitionInfo } from '@valkka/blockdev';
import type { Command } from 'commander';
import { CliError, emit } from '../output.js';
import { formatBytes } from '../units.js';

/** `valkka partitions`: the GPT partitions ValkkaFS could use (Linux swap type, not in use), from the system or an image. */
export function registerPartitions(program: Command): void {
  program
    .command('partitions')
    .description('List GPT partitions and whether ValkkaFS may use them (type Linux swap, not mounted, not an active swap, not busy)')
    .option('--json', 'print JSON for scripts')
    .option('--image <file>', 'read the partition table of a disk image instead of the system disks')
    .action(async (options: { json?: boolean; image?: string }) => {
      const warn = (message: string) => process.stderr.write(`valkka: warning: ${message}\n`);
      let partitions: PartitionInfo[];
      try {
        partitions = await listPartitions(
          options.image === undefined ? { onSkippedDisk: (err) => warn(`${err.message}; disk skipped`) } : { image: options.image },
        );
      } catch (err) {
        if (err instanceof DeviceError) throw new CliError(err.message, 1);
        throw err;
      }
      for (const warning of new Set(partitions.flatMap((p) => p.warnings))) warn(warning);
      emit(options.json ?? false, partitions, () => formatTable(partitions));
    });
}

function formatTable(partitions: PartitionInfo[]): string {
  if (partitions.length === 0) return 'no GPT partitions found';
  const rows = [
    ['DEVICE', 'PARTUUID', 'TYPE-GUID', 'TYPE', 'NAME', 'SIZE', 'USABLE'],
    ...partitions.map((p) => [
      p.device ?? `${p.disk}#${p.index}`,
      p.partuuid.toLowerCase(),
      p.typeGuid.toLowerCase(),
      p.typeName,
      p.name,
      formatBytes(p.size),
      p.usable ? 'yes' : `no: ${p.reason ?? ''}`,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}
