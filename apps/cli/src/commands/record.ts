import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AccessUnitSplitter, Codec, frameFlagsOf, MediaType } from '@valkka/fs';
import { ThreadDiedError, ValkkaFSWriterThread, type SlotFrame } from '@valkka/threads';
import type { Command } from 'commander';
import { CliError, emit } from '../output.js';
import { formatBytes, parseInteger } from '../units.js';

interface RecordOptions {
  source: string;
  id: string;
  duration?: string;
  fps: string;
  codec?: string;
  fast?: boolean;
  json?: boolean;
}

export interface RecordSummary {
  dirname: string;
  source: string;
  id: number;
  frames: number;
  bytes: number;
  blocks: number;
  drops: number;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
  seconds: number;
}

/** The slot the source's frames carry on their way to the writer thread. */
const SOURCE_SLOT = 1;

/**
 * `valkka record DIR --source FILE`: plays a raw H.264/H.265 (Annex-B) file as a camera into a ValkkaFSWriterThread.
 * The file is cut into access units with @valkka/fs's AccessUnitSplitter here (FileSourceThread of
 * @valkka/threads is not used yet); frames get timestamps spaced 1/fps apart from now.
 */
export function registerRecord(program: Command): void {
  program
    .command('record')
    .description('Record a raw H.264/H.265 file (Annex-B) into a ValkkaFS as if it came from a camera')
    .argument('<dir>', 'the filesystem directory (made with newFromDirectory / valkka format)')
    .requiredOption('--source <file>', 'raw Annex-B file (.h264, .h265 / .hevc)')
    .option('--id <n>', 'stream id to record under (1..2^32-1)', '1')
    .option('--duration <seconds>', 'record this long, looping the file (default: the file once)')
    .option('--fps <n>', 'frame rate of the file', '25')
    .option('--codec <name>', 'h264 or h265 (default: from the file extension)')
    .option('--fast', 'write as fast as possible instead of in real time (timestamps are still 1/fps apart)')
    .option('--json', 'print a JSON summary at the end instead of text')
    .action(async (dir: string, options: RecordOptions) => {
      const summary = await record(dir, options);
      emit(options.json ?? false, summary, () => summaryLine(summary));
    });
}

async function record(dirname: string, options: RecordOptions): Promise<RecordSummary> {
  const id = parseInteger(options.id, '--id', 1, 0xffffffff);
  const fps = parseInteger(options.fps, '--fps', 1, 1000);
  const codec = codecOf(options.source, options.codec);
  const durationMs = options.duration === undefined ? undefined : parseSeconds(options.duration, '--duration') * 1000;
  const info = await stat(options.source).catch(() => undefined);
  if (!info?.isFile()) throw new CliError(`--source: ${options.source} is not a readable file`);
  if (info.size === 0) throw new CliError(`--source: ${options.source} is empty`);

  // Real time behaves as a camera: a writer that cannot keep up drops (and counts). --fast waits instead.
  const writer = new ValkkaFSWriterThread({ dirname, mode: options.fast ? 'block' : 'drop' });
  try {
    await writer.start();
  } catch (err) {
    throw new CliError(`cannot record into ${dirname}: ${causeOf(err)}`, 1);
  }
  const started = performance.now();
  const live = options.json || !process.stderr.isTTY ? undefined : setInterval(() => process.stderr.write(`\r${progressLine(writer)}`), 250);
  let first: number | undefined;
  let last: number | undefined;
  try {
    await writer.setSlotId(SOURCE_SLOT, id);
    const frameMs = 1000 / fps;
    const t0 = Date.now();
    let k = 0;
    for (;;) {
      let any = false;
      for await (const frame of accessUnits(options.source, codec)) {
        any = true;
        const offset = Math.round(k * frameMs);
        if (durationMs !== undefined && offset >= durationMs) break;
        if (!options.fast) {
          const due = started + k * frameMs - performance.now();
          if (due > 0) await sleep(due);
        }
        const timestamp = t0 + offset;
        first ??= timestamp;
        last = timestamp;
        await writer.input.pushFrameAsync({ ...frame, timestamp });
        k++;
      }
      if (!any) throw new CliError(`--source: no access units found in ${options.source} (is it raw Annex-B ${codecName(codec)}?)`);
      if (durationMs === undefined || Math.round(k * frameMs) >= durationMs) break;
    }
    await writer.close();
  } catch (err) {
    await writer.terminate();
    if (err instanceof CliError) throw err;
    if (err instanceof ThreadDiedError) throw new CliError(`recording into ${dirname} failed: ${causeOf(err)}`, 1);
    throw err;
  } finally {
    if (live) {
      clearInterval(live);
      process.stderr.write(`\r${progressLine(writer)}\n`);
    }
  }
  const stats = writer.stats();
  return {
    dirname,
    source: options.source,
    id,
    frames: stats.written,
    bytes: stats.writtenBytes,
    blocks: stats.blocks,
    drops: stats.queue.drops + stats.tooLarge,
    firstTimestamp: first ?? null,
    lastTimestamp: last ?? null,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The file's access units as frames (timestamp set by the caller), read in chunks: memory stays bounded. */
async function* accessUnits(path: string, codec: number): AsyncGenerator<Omit<SlotFrame, 'timestamp'>> {
  const splitter = new AccessUnitSplitter(codec);
  const toFrame = (au: { payload: Uint8Array; key: boolean; hasConfig: boolean }) => ({
    slot: SOURCE_SLOT,
    subsession: 0,
    mediaType: MediaType.video,
    codec: codec as SlotFrame['codec'],
    flags: frameFlagsOf(au),
    payload: au.payload,
  });
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    for (const au of splitter.push(chunk as Buffer)) yield toFrame(au);
  }
  for (const au of splitter.flush()) yield toFrame(au);
}

function codecOf(path: string, name: string | undefined): number {
  const wanted = (name ?? (/\.(h265|hevc|265)$/i.test(path) ? 'h265' : 'h264')).toLowerCase();
  if (wanted === 'h264') return Codec.h264;
  if (wanted === 'h265' || wanted === 'hevc') return Codec.h265;
  throw new CliError(`--codec: '${name}' is not h264 or h265`);
}

const codecName = (codec: number): string => (codec === Codec.h265 ? 'H.265' : 'H.264');

function parseSeconds(text: string, what: string): number {
  const s = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !(s > 0) || s > 366 * 86400) throw new CliError(`${what}: '${text}' is not a number of seconds > 0`);
  return s;
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause && typeof cause === 'object' && 'message' in cause) return String((cause as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}

function progressLine(writer: ValkkaFSWriterThread): string {
  const s = writer.stats();
  return `frames ${s.written}  bytes ${formatBytes(s.writtenBytes)}  blocks ${s.blocks}  drops ${s.queue.drops + s.tooLarge}`;
}

function summaryLine(s: RecordSummary): string {
  return `recorded ${s.frames} frames (${formatBytes(s.bytes)}) of ${s.source} as id ${s.id} into ${s.dirname}: ${s.blocks} blocks finished, ${s.drops} dropped, ${s.seconds.toFixed(1)} s`;
}
