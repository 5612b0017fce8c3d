/** The commands over one filesystem directory: init, info, blocks, dump-block, check. */
import { check, type CheckReport, type ExistingRecordings, loadValkkaFS, MAX_BLOCKS, MAX_BLOCKSIZE, recordingsAt, roundBlocksize, type ValkkaFS, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import type { Command } from 'commander';
import { CliError, emit, setExitCode } from '../output.js';
import { progressBar } from '../progress.js';
import { formatBytes, formatTime, parseBytes, parseInteger } from '../units.js';
import { parseDuration, retentionLines } from './retention.js';

interface JsonOption {
  json?: boolean;
}

export function registerFsCommands(program: Command): void {
  program
    .command('init')
    .description('Create a ValkkaFS in DIR: a pre-reserved dumpfile (or a GPT partition of type Linux swap), the blockfile and valkkafs.json')
    .argument('<dir>', 'directory of the filesystem (created when missing)')
    .requiredOption('--blocksize <size>', `bytes per block, rounded down to a multiple of 4096, at most ${formatBytes(MAX_BLOCKSIZE)} (e.g. 1MiB; aim for 1-2 key frames per block)`)
    .option('--blocks <n>', `number of blocks in the ring (2..${MAX_BLOCKS})`)
    .option('--size <bytes>', 'total size instead of --blocks (e.g. 10GiB); with a partition, its size by default')
    .option('--partition-uuid <uuid>', 'use the whole GPT partition with this PARTUUID (type Linux swap) instead of a dumpfile')
    .option('--multi', 'ValkkaMultiFS: several streams in one filesystem (default: ValkkaSingleFS, one stream)')
    .option('--force', 'replace a filesystem that holds recordings (they are erased)')
    .option('--max-age <duration>', 'wipe video older than this (e.g. 72h, 30d); default: the ring alone decides')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', '\nExamples:\n  valkka init ./data/cam1 --blocksize 1MiB --blocks 1024\n  valkka init ./data/all --multi --blocksize 4MiB --partition-uuid 37c591e3-b33b-4548-a1eb-81add9da8a58')
    .action(async (dir: string, o: JsonOption & { blocksize: string; blocks?: string; size?: string; partitionUuid?: string; multi?: boolean; force?: boolean; maxAge?: string }) => {
      if (o.blocks !== undefined && o.size !== undefined) throw new CliError('give --blocks or --size, not both');
      if (o.blocks === undefined && o.size === undefined && o.partitionUuid === undefined) {
        throw new CliError('give --blocks N or --size BYTES (how large the ring is)');
      }
      const blocksize = parseBlocksize(o.blocksize);
      const maxAge = o.maxAge === undefined ? undefined : parseDuration(o.maxAge, '--max-age');
      const options = {
        dirname: dir,
        blocksize,
        ...(o.blocks !== undefined ? { nBlocks: parseInteger(o.blocks, '--blocks', 2, MAX_BLOCKS) } : {}),
        ...(o.size !== undefined ? { nBlocks: blocksOfSize(o.size, blocksize) } : {}),
        ...(o.partitionUuid !== undefined ? { partitionUuid: o.partitionUuid } : {}),
      };
      if (!o.force) {
        const there = await recordingsAt(dir, o.partitionUuid);
        if (there) throw new CliError(describeRecordings(there), 1);
      }
      const fs = o.multi ? await ValkkaMultiFS.newFromDirectory(options) : await ValkkaSingleFS.newFromDirectory(options);
      try {
        if (maxAge !== undefined) await fs.setMaxAge(maxAge);
        const d = await fs.describe();
        emit(o.json ?? false, d, () =>
          `created ${d.variant} ValkkaFS in ${dir}: ${d.nBlocks} blocks of ${formatBytes(d.blocksize)} = ${formatBytes(d.capacityBytes)} on ${d.dumpfile}`,
        );
      } finally {
        await fs.close();
      }
    });

  program
    .command('info')
    .description('Show the format, geometry, recorded time range and streams of the filesystem in DIR')
    .argument('<dir>', 'directory of the filesystem')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, o: JsonOption) => {
      await withReader(dir, async (fs) => {
        const d = await fs.describe();
        const r = await fs.retentionSummary();
        emit(o.json ?? false, { ...d, retention: r }, () => {
          const lines = [
            `${d.dirname}: ${d.variant} ValkkaFS, format ${d.format} v${d.formatVersion}, id ${d.fsId}`,
            `dumpfile       ${d.dumpfile}${d.partitionUuid ? ` (PARTUUID ${d.partitionUuid})` : ''}`,
            `geometry       ${d.nBlocks} blocks × ${formatBytes(d.blocksize)} = ${formatBytes(d.capacityBytes)}; largest frame ${formatBytes(d.maxFramePayload)}`,
            `blocks         ${d.usedBlocks} used, writing block ${d.currentBlock}`,
            `time range     ${d.timeRange ? `${formatTime(d.timeRange[0])} .. ${formatTime(d.timeRange[1])}` : 'empty'}`,
          ];
          for (const s of d.streams) {
            lines.push(`stream ${s.streamId}: ${s.frames} frames, ${s.keyFrames} key frames, ${s.ranges.length} recorded range(s)`);
            for (const [a, b] of s.ranges) lines.push(`    ${formatTime(a)} .. ${formatTime(b)}`);
          }
          if (!fs.isLegacy) lines.push(...retentionLines(r, d.nBlocks));
          return lines.join('\n');
        });
      });
    });

  program
    .command('blocks')
    .description('List the used blocks in time order with their blockfile rows (mstime1 = first key frame, or last for --multi; mstime2 = last frame)')
    .argument('<dir>', 'directory of the filesystem')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, o: JsonOption) => {
      await withReader(dir, async (fs) => {
        // Streamed a row at a time: a ring of millions of blocks never becomes one big array or string.
        const table = fs.blockTable;
        const used = table.usedCount;
        const json = o.json ?? false;
        if (!json && used === 0) return writeOut('no blocks written\n');
        const out = lineWriter();
        if (json) await out.line('[');
        for (let k = 0; k < used; k++) {
          const index = table.rowAt(k);
          const [mstime1, mstime2] = table.get(index);
          const current = index === fs.currentBlock;
          await out.line(
            json
              ? `  ${JSON.stringify({ index, mstime1, mstime2, current })}${k + 1 < used ? ',' : ''}`
              : `${String(index).padStart(8)}  ${formatTime(mstime1)}  ${formatTime(mstime2)}${current ? '  (being written)' : ''}`,
          );
        }
        if (json) await out.line(']');
        await out.end();
      });
    });

  program
    .command('dump-block')
    .description('List the frame records of block N (offset, stream, time, flags, size)')
    .argument('<dir>', 'directory of the filesystem')
    .argument('<n>', 'block index')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, n: string, o: JsonOption) => {
      await withReader(dir, async (fs) => {
        const block = await fs.dumpBlock(parseInteger(n, 'block', 0, fs.nBlocks - 1));
        emit(o.json ?? false, block, () =>
          [
            `block ${block.index}: seq ${block.seq}, ${block.sealed ? 'sealed' : 'open'}, ${block.records.length} records, ${formatBytes(block.end)} used`,
            ...block.records.map(
              (r) =>
                `${String(r.offset).padStart(10)}  stream ${r.streamId}/${r.subsession}  ${formatTime(r.timestamp)}  ${r.key ? 'K' : '-'}${r.config ? 'C' : '-'}  ${r.length} B`,
            ),
          ].join('\n'),
        );
      });
    });

  program
    .command('check')
    .description('Verify every block and record of the filesystem in DIR; --repair mends it (fsck -y) and checks again')
    .argument('<dir>', 'directory of the filesystem')
    .option('--repair', 'zero damaged records, reseal blocks, retire stale ones, rebuild blockfile and valkkafs.json, then check again (takes the writer lock: stop recording first)')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string, o: JsonOption & { repair?: boolean }) => {
      const progress = progressBar('checking blocks', !o.json);
      let report: CheckReport;
      try {
        report = await check(dir, { repair: o.repair ?? false, onProgress: (done, total) => progress.update(done, total) });
      } finally {
        progress.stop();
      }
      emit(o.json ?? false, report, () => formatCheck(report));
      if (!report.ok) setExitCode(1); // with --repair: ok only when the check after repairing is clean
    });
}

/** --blocksize in bytes, refused above the maximum before anything is touched. */
function parseBlocksize(text: string): number {
  const bytes = parseBytes(text, '--blocksize');
  if (bytes > MAX_BLOCKSIZE) throw new CliError(`--blocksize: ${text} (${formatBytes(bytes)}) is larger than the maximum ${formatBytes(MAX_BLOCKSIZE)}`);
  return roundBlocksize(bytes);
}

/** --size as a number of blocks, in the words of the option. */
function blocksOfSize(text: string, blocksize: number): number {
  const n = Math.floor(parseBytes(text, '--size') / blocksize);
  if (n < 2) throw new CliError(`--size: ${text} holds ${n} block(s) of ${formatBytes(blocksize)}; the ring needs at least 2`);
  if (n > MAX_BLOCKS) throw new CliError(`--size: ${text} is ${n} blocks of ${formatBytes(blocksize)}, more than the maximum ${MAX_BLOCKS}: use a larger --blocksize`);
  return n;
}

function describeRecordings(r: ExistingRecordings): string {
  if (r.unreadable) return `${r.where} holds a valkkafs.json that cannot be opened (${r.unreadable}); it may hold recordings. Pass --force to replace it.`;
  const streams = r.streams.length === 0 ? 'no stream summaries yet' : `stream${r.streams.length > 1 ? 's' : ''} ${r.streams.join(', ')}`;
  const range = r.timeRange ? ` from ${formatTime(r.timeRange[0])} to ${formatTime(r.timeRange[1])}` : '';
  const blocks = r.sampled ? `seen in ${r.blocks} sampled blocks` : `${r.blocks} block${r.blocks === 1 ? '' : 's'}`;
  return `${r.where} holds recordings of ValkkaFS${r.fsId ? ` ${r.fsId}` : ''}: ${streams}${range} (${blocks}); init would erase them. Pass --force to replace it.`;
}

/** Writes to stdout, waiting for 'drain' when the pipe is full. */
async function writeOut(text: string): Promise<void> {
  if (text === '' || process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** Writes lines to stdout in chunks, waiting when the pipe is full (bounded memory for huge outputs). */
function lineWriter(): { line(text: string): Promise<void>; end(): Promise<void> } {
  let buf = '';
  const flush = async () => {
    const chunk = buf;
    buf = '';
    await writeOut(chunk);
  };
  return {
    async line(text) {
      buf += `${text}\n`;
      if (buf.length >= 64 * 1024) await flush();
    },
    end: flush,
  };
}

async function withReader(dir: string, work: (fs: ValkkaFS) => Promise<void>): Promise<void> {
  const fs = await loadValkkaFS(dir, { readOnly: true });
  try {
    await work(fs);
  } finally {
    await fs.close();
  }
}

function formatCheck(r: CheckReport): string {
  const lines = [
    `${r.dirname}: ${r.blocksChecked}/${r.nBlocks} blocks checked, ${r.blocksWritten} written, ${r.frames} frames (${formatBytes(r.payloadBytes)})`,
    ...r.problems.map((p) => `  ${p.code}${p.block !== null ? ` block ${p.block}` : ''}${p.offset !== null ? ` offset ${p.offset}` : ''}: ${p.message}`),
  ];
  if (r.repaired) {
    for (const a of r.repairs) lines.push(`  repaired: ${a.message}`);
    for (const d of r.dropped) {
      const when = d.timeRanges.map(([a, b]) => `${a === null ? '?' : formatTime(a)} .. ${b === null ? '?' : formatTime(b)}`).join(', ');
      lines.push(`  dropped: block ${d.block}: ${d.frames === null ? 'unknown number of' : d.frames} frame(s), ${d.ranges.reduce((n, [a, b]) => n + b - a, 0)} bytes${when ? ` (${when})` : ''}: ${d.reason}`);
    }
    for (const p of r.remaining) lines.push(`  still wrong after repair: ${p.code}${p.block !== null ? ` block ${p.block}` : ''}: ${p.message}`);
  }
  lines.push(
    r.repaired
      ? r.ok
        ? r.problems.length === 0
          ? 'ok'
          : `${r.problems.length} problem(s) found and repaired; the check after repairing is clean`
        : `${r.remaining.length} problem(s) remain after repairing`
      : r.ok
        ? 'ok'
        : `${r.problems.length} problem(s) found (run with --repair to mend them)`,
  );
  return lines.join('\n');
}
