/**
 * `valkka export DIR... --from TIME --to TIME [--id N...] -o OUT`: recorded ranges as MP4 files
 * (@valkka/export). One stream gives one file; several (filesystems or ids) give a directory with
 * one MP4 per stream, all cut to the same range, and manifest.json (range, frames, holes, sha256).
 * All or nothing: every stream's range is checked before anything is written, and a failure
 * removes what this run wrote.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

import { ExportError, type ExportResult, exportRange, parseTime, planRange } from '@valkka/export';
import { type ValkkaFS, ValkkaMultiFS, loadValkkaFS } from '@valkka/fs';
import type { Command } from 'commander';

import { CliError, emit } from '../output.js';
import { progressBar } from '../progress.js';
import { formatBytes, formatTime, parseInteger } from '../units.js';

interface ExportOptions {
  from: string;
  to: string;
  id?: string[];
  output: string;
  maxGap: string;
  clock: boolean;
  json?: boolean;
}

interface Job {
  fs: ValkkaFS;
  dir: string;
  streamId: number;
  file: string;
  blocks: number;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a recorded range as MP4: frame-accurate (edit list), no re-encoding, H.264/H.265')
    .argument('<dir...>', 'filesystem directories')
    .requiredOption('--from <time>', 'first instant, inclusive: ms since the epoch or ISO 8601 (2026-11-30T20:08:33Z)')
    .requiredOption('--to <time>', 'last instant, inclusive')
    .option('--id <n...>', 'stream id(s) to export from each DIR (default: every stream in it)')
    .requiredOption('-o, --output <path>', 'the MP4 file; with several streams a directory (one MP4 per stream and manifest.json)')
    .option('--max-gap <ms>', 'a gap between frames longer than this is a hole (listed)', '1000')
    .option('--no-clock', 'leave out the subtitle track (tx3g) with the wall-clock time of each second')
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      '\nExamples:\n  valkka export ./data/cam1 --from 2026-11-30T20:00:00Z --to 2026-11-30T20:05:00Z -o clip.mp4\n  valkka export ./data/cam1 ./data/cam2 --from 1796068800000 --to 1796069100000 -o incident/',
    )
    .action(async (dirs: string[], o: ExportOptions) => {
      const from = userInput(() => parseTime(o.from, '--from'));
      const to = userInput(() => parseTime(o.to, '--to'));
      if (from > to) throw new CliError(`the range is empty: --from ${formatTime(from)} is after --to ${formatTime(to)}`);
      const ids = o.id?.map((id) => parseInteger(id, '--id', 1, 2 ** 32 - 1));
      const maxGapMs = parseInteger(o.maxGap, '--max-gap', 1);
      const opened: ValkkaFS[] = [];
      const written: string[] = [];
      const progress = progressBar('exporting', !o.json);
      try {
        for (const dir of dirs) opened.push(await loadValkkaFS(dir, { readOnly: true }));
        const streams = await streamsOf(opened, ids);
        const toDirectory = streams.length > 1 || o.output.endsWith('/') || (existsSync(o.output) && statSync(o.output).isDirectory());
        // Check every range first: bad input writes nothing.
        const jobs: Job[] = [];
        const names = fileNames(streams);
        for (const [i, { fs, streamId }] of streams.entries()) {
          const plan = await planRange(fs, { from, to, streamId });
          const file = toDirectory ? join(o.output, names[i]!) : o.output;
          jobs.push({ fs, dir: fs.dirname, streamId, file, blocks: plan.blocks.length });
        }
        if (toDirectory) await mkdir(o.output, { recursive: true });
        const total = jobs.reduce((n, j) => n + j.blocks, 0);
        const results: ExportResult[] = [];
        let before = 0;
        for (const job of jobs) {
          const result = await exportRange(job.fs, {
            from,
            to,
            streamId: job.streamId,
            output: job.file,
            maxGapMs,
            subtitles: o.clock,
            sha256: toDirectory,
            onProgress: (done) => progress.update(before + Math.min(done, job.blocks), total),
          });
          written.push(job.file);
          results.push(result);
          before += job.blocks;
        }
        progress.stop();
        const manifest = toDirectory ? await writeManifest(o.output, from, to, jobs, results) : undefined;
        if (manifest) written.push(manifest.path);
        emit(o.json ?? false, manifest?.value ?? results[0], () => results.map((r) => describeResult(r)).join('\n') + (manifest ? `\nmanifest: ${manifest.path}` : ''));
      } catch (err) {
        progress.stop();
        await Promise.all(written.map((f) => rm(f, { force: true })));
        throw asCliError(err);
      } finally {
        await Promise.all(opened.map((fs) => fs.close()));
      }
    });
}

/** An ExportError as the CLI reports it: bad input exits 2, a failed export 1. */
function asCliError(err: unknown): unknown {
  if (!(err instanceof ExportError)) return err;
  return new CliError(err.message, err.code === 'EEXPIRED' || err.code === 'EMEDIA' ? 1 : 2);
}

function userInput<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw asCliError(err);
  }
}

/** (filesystem, stream id) pairs: the ids asked for, or every stream of each filesystem. */
async function streamsOf(opened: ValkkaFS[], ids: number[] | undefined): Promise<Array<{ fs: ValkkaFS; streamId: number }>> {
  const out: Array<{ fs: ValkkaFS; streamId: number }> = [];
  for (const fs of opened) {
    let streamIds = ids;
    if (!streamIds) {
      streamIds = fs instanceof ValkkaMultiFS ? [...(await fs.recordedRanges()).keys()] : fs.streamId !== undefined ? [fs.streamId] : [];
      if (streamIds.length === 0) throw new CliError(`${fs.dirname} holds no recording`);
    }
    for (const streamId of streamIds) out.push({ fs, streamId });
  }
  return out;
}

/** "cam1-7.mp4" (directory name and stream id), numbered when two directories share a name. */
function fileNames(streams: Array<{ fs: ValkkaFS; streamId: number }>): string[] {
  const names = streams.map((s) => `${basename(resolve(s.fs.dirname))}-${s.streamId}.mp4`);
  return names.map((n, i) => (names.indexOf(n) !== names.lastIndexOf(n) ? `${i + 1}-${n}` : n));
}

async function writeManifest(dir: string, from: number, to: number, jobs: Job[], results: ExportResult[]) {
  const value = {
    range: { from, to, fromIso: new Date(from).toISOString(), toIso: new Date(to).toISOString() },
    streams: results.map((r, i) => ({
      dir: jobs[i]!.dir,
      stream: r.streamId,
      file: basename(r.file),
      codec: r.codec,
      width: r.width,
      height: r.height,
      range: r.range,
      origin: r.origin,
      firstFrame: r.firstFrame,
      lastFrame: r.lastFrame,
      frames: r.frames,
      framesInFile: r.framesInFile,
      holes: r.holes,
      bytes: r.bytes,
      sha256: r.sha256,
    })),
  };
  const path = join(dir, 'manifest.json');
  await writeFile(`${path}.partial`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.partial`, path);
  return { path, value };
}

function describeResult(r: ExportResult): string {
  const holes = r.holes.length === 0 ? 'no holes' : `holes: ${r.holes.map(([a, b]) => `${formatTime(a)} .. ${formatTime(b)}`).join(', ')}`;
  return (
    `${r.file}: stream ${r.streamId}, ${r.codec.toUpperCase()} ${r.width}x${r.height}, ${r.frames} frames ` +
    `${formatTime(r.firstFrame)} .. ${formatTime(r.lastFrame)}, ${formatBytes(r.bytes)}; ${holes}`
  );
}
