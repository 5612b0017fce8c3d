import { setTimeout as sleep } from 'node:timers/promises';
import {
  FileSourceThread,
  loadClip,
  type MediaClip,
  PlaybackClock,
  SourceError,
  ThreadDiedError,
  ValkkaFSWriterThread,
  type WriterStats,
} from '@valkka/threads';
import type { Command } from 'commander';
import { CliError, emit } from '../output.js';
import { isLiveRecord, type LiveRecordOptions, runLiveRecord } from './record-live.js';
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
  /** Stream time of the first and last frame played (ms since the epoch). */
  firstTimestamp: number;
  lastTimestamp: number;
  seconds: number;
  /** Stopped early by Ctrl-C (SIGINT): what was played up to then is written and durable. */
  interrupted: boolean;
}

/** The slot the source's frames carry on their way to the writer thread. */
const SOURCE_SLOT = 1;

/**
 * `valkka record DIR --source FILE`: plays an H.264/H.265 file (Annex-B or MP4) as a camera
 * (a FileSourceThread) into a ValkkaFSWriterThread; frames get timestamps 1/fps apart from now.
 */
export function registerRecord(program: Command): void {
  program
    .command('record')
    .description('Record an H.264/H.265 file (Annex-B or MP4) into a ValkkaFS as if it came from a camera')
    .argument('[dir]', 'the filesystem directory (made with `valkka init`); none with --config')
    .option('--source <file|url>', 'Annex-B file (.h264, .h265 / .hevc), MP4, or a camera: rtsp://user:pass@host:port/path')
    .option('--transport <tcp|udp>', 'RTP over the RTSP connection (tcp, the default) or over UDP (cameras only)')
    .option('--config <file>', 'cameras.json: many cameras, each into its directory (see README)')
    .option('--id <n>', 'stream id to record under (1..2^32-1)', '1')
    .option('--duration <seconds>', 'record this long, looping the file (default: the file once); Ctrl-C stops earlier, cleanly')
    .option('--fps <n>', 'frame rate of an Annex-B file (MP4 files carry their own)', '25')
    .option('--codec <name>', 'h264 or h265 (default: from the file name or its contents)')
    .option('--fast', 'write as fast as possible instead of in real time (timestamps are still 1/fps apart)')
    .option('--json', 'print a JSON summary at the end instead of text')
    .action(async (dir: string | undefined, options: RecordOptions & LiveRecordOptions) => {
      if (isLiveRecord(options)) return runLiveRecord(dir, options);
      if (dir === undefined || options.source === undefined) throw new CliError('record: DIR and --source are needed (or --config FILE for cameras)');
      const summary = await record(dir, options);
      emit(options.json ?? false, summary, () => summaryLine(summary));
    });
}

async function record(dirname: string, options: RecordOptions): Promise<RecordSummary> {
  const id = parseInteger(options.id, '--id', 1, 0xffffffff);
  const fps = parseInteger(options.fps, '--fps', 1, 1000);
  const codec = codecOf(options.codec);
  const durationMs = options.duration === undefined ? undefined : parseSeconds(options.duration, '--duration') * 1000;
  // Loaded here too (the source thread loads its own copy): a bad file is reported before anything starts,
  // and the clip's length and frame duration say how many frames to play.
  let clip: MediaClip;
  try {
    clip = await loadClip(options.source, { fps, ...(codec ? { codec } : {}) });
  } catch (err) {
    if (err instanceof SourceError) throw new CliError(`--source: ${err.message}`);
    throw err;
  }
  const total = durationMs === undefined ? clip.units.length : Math.ceil(durationMs / clip.frameMs);

  // Real time behaves as a camera: a writer that cannot keep up drops (and counts). --fast waits instead.
  const writer = new ValkkaFSWriterThread({ dirname, mode: options.fast ? 'block' : 'drop' });
  try {
    await writer.start();
  } catch (err) {
    throw new CliError(`cannot record into ${dirname}: ${causeOf(err)}`, 1);
  }
  // The source follows a clock moved from here: at once to the last frame (--fast), or with the wall clock,
  // never past the last frame, so exactly `total` frames are played.
  const clock = PlaybackClock.manual(0);
  const lastFrameAt = (total - 1) * clip.frameMs;
  const startTime = Date.now();
  const source = new FileSourceThread({
    path: options.source,
    slot: SOURCE_SLOT,
    output: writer.input,
    clock,
    fps,
    ...(codec ? { codec } : {}),
    loop: false,
    loops: Math.ceil(total / clip.units.length),
    startTime,
  });
  // Ctrl-C ends the recording cleanly: the threads are closed, so what was played is written and durable.
  let interrupted = false;
  const interrupt = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', interrupt);
  const started = performance.now();
  const live = options.json || !process.stderr.isTTY ? undefined : setInterval(() => process.stderr.write(`\r${progressLine(writer)}`), 250);
  try {
    await writer.setSlotId(SOURCE_SLOT, id);
    await source.start();
    // Until every frame is played, or a thread ends early (its close() below then says why).
    while (!interrupted && source.counters().position! < total && source.isRunning && writer.isRunning) {
      clock.setNow(options.fast ? lastFrameAt : Math.min(lastFrameAt, performance.now() - started));
      await sleep(options.fast ? 5 : Math.min(20, clip.frameMs / 2));
    }
    await source.close();
    await writer.close();
  } catch (err) {
    await Promise.all([source.terminate(), writer.terminate()]);
    if (err instanceof ThreadDiedError) throw new CliError(`recording ${options.source} into ${dirname} failed: ${causeOf(err)}`, 1);
    throw err;
  } finally {
    process.off('SIGINT', interrupt);
    if (live) {
      clearInterval(live);
      process.stderr.write(`\r${progressLine(writer)}\n`);
    }
  }
  const stats = writer.stats();
  const played = Math.min(total, source.counters().position!);
  return {
    dirname,
    source: options.source,
    id,
    frames: stats.written,
    bytes: stats.writtenBytes,
    blocks: stats.blocks,
    drops: droppedFrames(stats),
    firstTimestamp: startTime,
    lastTimestamp: startTime + (played - 1) * clip.frameMs,
    seconds: (performance.now() - started) / 1000,
    interrupted,
  };
}

function codecOf(name: string | undefined): 'h264' | 'h265' | undefined {
  if (name === undefined) return undefined;
  const wanted = name.toLowerCase();
  if (wanted === 'h264') return 'h264';
  if (wanted === 'h265' || wanted === 'hevc') return 'h265';
  throw new CliError(`--codec: '${name}' is not h264 or h265`);
}

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
  return `frames ${s.written}  bytes ${formatBytes(s.writtenBytes)}  blocks ${s.blocks}  drops ${droppedFrames(s)}`;
}

/** Frames that never reached the disk: dropped by the full queue, too large for a block, or of another stream. */
function droppedFrames(s: WriterStats): number {
  return s.queue.drops + s.tooLarge + s.wrongStream;
}

function summaryLine(s: RecordSummary): string {
  return `recorded ${s.frames} frames (${formatBytes(s.bytes)}) of ${s.source} as id ${s.id} into ${s.dirname}: ${s.blocks} blocks finished, ${s.drops} dropped, ${s.seconds.toFixed(1)} s${s.interrupted ? ' (interrupted)' : ''}`;
}
