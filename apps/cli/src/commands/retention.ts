/**
 * Retention commands: `valkka protect`, `unprotect`, `protections` (evidence lock: ranges the ring
 * never overwrites or expires until released) and `valkka set --max-age` (video older than this is
 * wiped). The lines `valkka info` prints about retention live here too.
 */
import { ExportError, parseTime } from '@valkka/export';
import { retention } from '@valkka/fs';
import type { Command } from 'commander';

import { CliError, emit } from '../output.js';
import { formatBytes, formatTime, parseInteger } from '../units.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "72h", "30d", "90m", "2w", "3600s" → ms (at least a minute); `what` names the option. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new CliError(`${what}: '${text}' is not a duration (examples: 90m, 72h, 30d, 2w)`);
  const ms = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(ms) || ms < 60_000) throw new CliError(`${what}: '${text}' is out of range (at least 1m)`);
  return ms;
}

/** 259200000 → "72h" (the largest unit that divides it). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['w', UNITS.w!], ['d', UNITS.d!], ['h', UNITS.h!], ['m', UNITS.m!]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

function time(text: string, what: string): number {
  try {
    return parseTime(text, what);
  } catch (err) {
    throw err instanceof ExportError ? new CliError(err.message) : err;
  }
}

/** The retention part of `valkka info`. */
export function retentionLines(r: retention.RetentionSummary, nBlocks: number): string[] {
  const lines = [
    `oldest kept    ${r.oldestKept === null ? '-' : formatTime(r.oldestKept)}`,
    `max age        ${r.maxAgeMs === null ? 'off (the ring alone decides)' : formatDuration(r.maxAgeMs)}`,
    `protected      ${r.protections.length} range(s), ${r.protectedBlocks} of ${nBlocks} blocks (${percent(r.protectedShare)} of the ring; cap ${percent(r.maxProtected)})`,
  ];
  for (const p of r.protections) lines.push(`    ${protectionLine(p)}`);
  return lines;
}

const percent = (share: number): string => `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 0)} %`;

function protectionLine(p: retention.ProtectionInfo): string {
  return `#${p.id}  ${formatTime(p.from)} .. ${formatTime(p.to)}  ${p.blocks} block(s), ${formatBytes(p.bytes)}  made ${formatTime(p.created)}${p.note ? `  "${p.note}"` : ''}`;
}

export function registerRetention(program: Command): void {
  program
    .command('protect')
    .description('Protect a recorded range (evidence lock): the ring skips its blocks and the max age spares them until unprotect')
    .argument('<dir>', 'directory of the filesystem')
    .requiredOption('--from <time>', 'first instant, inclusive: ms since the epoch or ISO 8601 (2026-11-30T20:08:33Z)')
    .requiredOption('--to <time>', 'last instant, inclusive (not in the future)')
    .option('--id <n>', 'protection id (default: the next free one)')
    .option('--note <text>', 'why it is kept (shown by valkka protections)')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', '\nExample:\n  valkka protect ./data/cam1 --from 2026-11-30T20:00:00Z --to 2026-11-30T20:05:00Z --note "incident 4711"')
    .action(async (dir: string, o: { from: string; to: string; id?: string; note?: string; json?: boolean }) => {
      const from = time(o.from, '--from');
      const to = time(o.to, '--to');
      if (from > to) throw new CliError(`the range is empty: --from ${formatTime(from)} is after --to ${formatTime(to)}`);
      const id = o.id === undefined ? undefined : parseInteger(o.id, '--id', 1, 2 ** 31 - 1);
      const p = await retention.protect(dir, { from, to, id, note: o.note });
      emit(o.json ?? false, p, () => `protected ${protectionLine(p)}`);
    });

  program
    .command('unprotect')
    .description('Release a protection: its blocks return to the ring (and expire when older than the max age)')
    .argument('<dir>', 'directory of the filesystem')
    .argument('<id>', 'protection id (valkka protections lists them)')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, id: string, o: { json?: boolean }) => {
      const p = await retention.unprotect(dir, parseInteger(id, 'PROTECTION_ID', 1, 2 ** 31 - 1));
      emit(o.json ?? false, p, () => `released #${p.id}  ${formatTime(p.from)} .. ${formatTime(p.to)}`);
    });

  program
    .command('protections')
    .description('List the protected ranges with their note, creation time and size')
    .argument('<dir>', 'directory of the filesystem')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, o: { json?: boolean }) => {
      const list = await retention.listProtections(dir);
      emit(o.json ?? false, list, () => (list.length === 0 ? 'no protections' : list.map(protectionLine).join('\n')));
    });

  program
    .command('set')
    .description('Change retention settings of the filesystem in DIR (takes the writer lock: not while it is recorded)')
    .argument('<dir>', 'directory of the filesystem')
    .option('--max-age <duration|off>', 'wipe video older than this (e.g. 72h, 30d), or off')
    .option('--max-protected <share>', 'the share of the ring protections may hold, 0..0.9 (default 0.5)')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, o: { maxAge?: string; maxProtected?: string; json?: boolean }) => {
      if (o.maxAge === undefined && o.maxProtected === undefined) throw new CliError('give --max-age DURATION|off or --max-protected SHARE');
      const maxAge = o.maxAge === undefined ? undefined : o.maxAge.trim().toLowerCase() === 'off' ? null : parseDuration(o.maxAge, '--max-age');
      const share = o.maxProtected === undefined ? undefined : Number(o.maxProtected);
      if (share !== undefined && !(/^\s*\d*\.?\d+\s*$/.test(o.maxProtected!) && share <= 0.9)) {
        throw new CliError(`--max-protected: '${o.maxProtected}' is not a share of the ring from 0 to 0.9`);
      }
      if (share !== undefined) await retention.setMaxProtected(dir, share);
      const wiped = maxAge === undefined ? [] : await retention.setMaxAge(dir, maxAge);
      const result = { maxAgeMs: maxAge, maxProtected: share, expiredBlocks: wiped };
      emit(o.json ?? false, result, () =>
        [
          ...(maxAge !== undefined ? [`max age ${maxAge === null ? 'off' : formatDuration(maxAge)}${wiped.length > 0 ? `: ${wiped.length} expired block(s) wiped` : ''}`] : []),
          ...(share !== undefined ? [`protections may hold ${percent(share)} of the ring`] : []),
        ].join('\n'),
      );
    });
}
