import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadValkkaFS } from '@valkka/fs';
import {
  ClipFeed,
  FileSourceThread,
  type FrameQueue,
  PlaybackClock,
  SourceError,
  ThreadDiedError,
  type ValkkaThread,
  ValkkaFSWriterThread,
  type WriterStats,
} from '@valkka/threads';
import type { Command } from 'commander';
import { CliError, emit } from '../output.js';
import { isLiveRecord, type LiveRecordOptions, runLiveRecord } from './record-live.js';
import { formatBytes, parseInteger, parseSeconds } from '../units.js';

interface RecordOptions {
  source: string;
  id: string;
  duration?: string;
  fps: string;
  codec?: string;
  fast?: boolean;
  json?: boolean;
}

/** Frames that never reached the disk, by why. */
export interface RecordDrops {
  /** The writer's queue was full (real time only: the disk or the machine could not keep up). */
  queueFull: number;
  /** Larger than a block can hold. */
  tooLarge: number;
  /** Refused by a ValkkaSingleFS that holds another stream id. */
  wrongStream: number;
}

export interface RecordSummary {
  dirname: string;
  source: string;
  id: number;
  frames: number;
  bytes: number;
  blocks: number;
  /** All dropped frames; `dropped` says why, `advice` what to change. */
  drops: number;
  dropped: RecordDrops;
  advice: string[];
  /** Stream time of the first and last frame played (ms since the epoch). */
  firstTimestamp: number;
  lastTimestamp: number;
  seconds: number;
  /** Stopped early by SIGINT (Ctrl-C), SIGTERM or SIGHUP: what was played up to then is written and durable. */
  interrupted: boolean;
  /** The signal that stopped it, if one did. */
  signal?: string;
}

/** The slot the source's frames carry on their way to the writer thread. */
const SOURCE_SLOT = 1;
/** Signals that stop a recording cleanly (a second one forces it). SIGTERM is how service managers stop it. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

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
    .option('--duration <seconds>', 'record this long, looping the file (default: the file once); Ctrl-C, SIGTERM or SIGHUP stop earlier, cleanly')
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

/** A camera to record: its thread (feeding `output`), its frame duration, and how many frames it will play. */
interface Camera {
  thread: ValkkaThread<unknown>;
  frameMs: number;
  /** Frames to play in all; undefined: until the source ends (a file played once). */
  total: number | undefined;
  /** Frames played so far. */
  played(): number;
}

interface CameraSettings {
  output: FrameQueue;
  /** The source follows this clock: moved from here, at once (--fast) or with the wall clock. */
  clock: PlaybackClock;
  startTime: number;
  fps: number;
  codec: 'h264' | 'h265' | undefined;
  durationMs: number | undefined;
}

/** The one place where the source is chosen from --source. */
async function openCamera(source: string, settings: CameraSettings): Promise<Camera> {
  return openFileCamera(source, settings);
}

/** A file played as a camera, streamed from disk (memory does not grow with its size or the loops). */
async function openFileCamera(path: string, s: CameraSettings): Promise<Camera> {
  const load = { fps: s.fps, ...(s.codec ? { codec: s.codec } : {}) };
  // Opened here once too (the source thread streams its own): a bad file is reported before anything starts.
  let frameMs: number;
  try {
    const probe = await ClipFeed.open(path, load, 1);
    frameMs = probe.info.frameMs;
    await probe.close();
  } catch (err) {
    if (err instanceof SourceError) throw new CliError(`--source: ${err.message}`);
    throw err;
  }
  const total = s.durationMs === undefined ? undefined : Math.ceil(s.durationMs / frameMs);
  const thread = new FileSourceThread({
    path,
    slot: SOURCE_SLOT,
    output: s.output,
    clock: s.clock,
    ...load,
    ...(total === undefined ? { loop: false, loops: 1 } : { frames: total }),
    startTime: s.startTime,
  });
  return { thread, frameMs, total, played: () => thread.counters().position! };
}

/** What record needs to know of the filesystem before it writes. */
interface FsFacts {
  blocksize: number;
  /** A ValkkaSingleFS that already holds a stream: its id. */
  streamId: number | undefined;
}

async function fsFacts(dirname: string): Promise<FsFacts> {
  const fs = await loadValkkaFS(dirname, { readOnly: true });
  try {
    return { blocksize: fs.blocksize, streamId: fs.streamId };
  } finally {
    await fs.close();
  }
}

async function record(dirname: string, options: RecordOptions): Promise<RecordSummary> {
  const id = parseInteger(options.id, '--id', 1, 0xffffffff);
  const fps = parseInteger(options.fps, '--fps', 1, 1000);
  const codec = codecOf(options.codec);
  const durationMs = options.duration === undefined ? undefined : parseSeconds(options.duration, '--duration') * 1000;
  const clock = PlaybackClock.manual(0);
  const startTime = Date.now();
  // Real time behaves as a camera: a writer that cannot keep up drops (and counts). --fast waits instead.
  const writer = new ValkkaFSWriterThread({ dirname, mode: options.fast ? 'block' : 'drop' });
  const camera = await openCamera(options.source, { output: writer.input, clock, startTime, fps, codec, durationMs });
  try {
    await writer.start();
  } catch (err) {
    throw new CliError(`cannot record into ${dirname}: ${causeOf(err)}`, 1);
  }
  const facts = await fsFacts(dirname).catch(async (err: unknown) => {
    await writer.terminate();
    throw new CliError(`cannot record into ${dirname}: ${causeOf(err)}`, 1);
  });
  if (facts.streamId !== undefined && facts.streamId !== id) {
    await writer.close();
    throw new CliError(refusedStream(dirname, id, facts.streamId));
  }

  // A stop signal ends the recording cleanly: the threads are closed, so what was played is written and durable.
  // A second one forces it: the threads are terminated at once (at most the last flush interval is lost).
  let signal: string | undefined;
  let forcedBy: string | undefined;
  const handlers = STOP_SIGNALS.map((name) => {
    const handler = (): void => {
      if (signal === undefined) {
        signal = name;
        return;
      }
      forcedBy = name;
      void Promise.all([camera.thread.terminate(), writer.terminate()]);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  const source = camera.thread;
  const started = performance.now();
  const total = camera.total;
  const lastFrameAt = total === undefined ? Infinity : (total - 1) * camera.frameMs;
  const live = options.json || !process.stderr.isTTY ? undefined : setInterval(() => process.stderr.write(`\r${progressLine(writer)}`), 250);
  try {
    await writer.setSlotId(SOURCE_SLOT, id);
    await source.start();
    // Until every frame is played, or a thread ends early (its close() below then says why), or a signal.
    while (signal === undefined && (total === undefined || camera.played() < total) && source.isRunning && writer.isRunning) {
      if (writer.stats().wrongStream > 0) break; // another process wrote another stream first: fails below
      clock.setNow(options.fast ? (total === undefined ? Number.MAX_SAFE_INTEGER : lastFrameAt) : Math.min(lastFrameAt, performance.now() - started));
      await sleep(options.fast ? 5 : Math.min(20, camera.frameMs / 2));
    }
    await source.close();
    await writer.close();
  } catch (err) {
    await Promise.all([source.terminate(), writer.terminate()]);
    if (err instanceof ThreadDiedError) throw new CliError(`recording ${options.source} into ${dirname} failed: ${causeOf(err)}`, 1);
    throw err;
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
    if (live) {
      clearInterval(live);
      process.stderr.write(`\r${progressLine(writer)}\n`);
    }
  }
  if (forcedBy !== undefined) {
    throw new CliError(`stopped at once by a second ${forcedBy}: frames after the last flush may be lost; run \`valkka check ${dirname}\``, 128 + (constants.signals[forcedBy as NodeJS.Signals] ?? 0));
  }
  const stats = writer.stats();
  if (stats.wrongStream > 0) {
    const held = (await fsFacts(dirname).catch(() => undefined))?.streamId;
    throw new CliError(`${refusedStream(dirname, id, held)}; ${stats.wrongStream} frames were refused, ${stats.written} written`, 1);
  }
  const played = Math.min(total ?? Infinity, camera.played());
  const dropped = dropsOf(stats);
  return {
    dirname,
    source: options.source,
    id,
    frames: stats.written,
    bytes: stats.writtenBytes,
    blocks: stats.blocks,
    drops: dropped.queueFull + dropped.tooLarge + dropped.wrongStream,
    dropped,
    advice: adviceFor(dropped, facts.blocksize),
    firstTimestamp: startTime,
    lastTimestamp: startTime + (played - 1) * camera.frameMs,
    seconds: (performance.now() - started) / 1000,
    interrupted: signal !== undefined,
    ...(signal !== undefined ? { signal } : {}),
  };
}

function refusedStream(dirname: string, id: number, held: number | undefined): string {
  const holds = held === undefined ? 'another stream' : `stream id ${held}`;
  return `--id ${id}: ${dirname} is a ValkkaSingleFS that holds ${holds} (a single fs keeps one stream): record with --id ${held ?? 'of that stream'}, or into a ValkkaMultiFS or another directory`;
}

function codecOf(name: string | undefined): 'h264' | 'h265' | undefined {
  if (name === undefined) return undefined;
  const wanted = name.toLowerCase();
  if (wanted === 'h264') return 'h264';
  if (wanted === 'h265' || wanted === 'hevc') return 'h265';
  throw new CliError(`--codec: '${name}' is not h264 or h265`);
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause && typeof cause === 'object' && 'message' in cause) return String((cause as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}

function progressLine(writer: ValkkaFSWriterThread): string {
  const s = writer.stats();
  const d = dropsOf(s);
  return `frames ${s.written}  bytes ${formatBytes(s.writtenBytes)}  blocks ${s.blocks}  drops ${d.queueFull + d.tooLarge + d.wrongStream}`;
}

function dropsOf(s: WriterStats): RecordDrops {
  return { queueFull: s.queue.drops, tooLarge: s.tooLarge, wrongStream: s.wrongStream };
}

/** What to change, for each reason frames were dropped. */
function adviceFor(d: RecordDrops, blocksize: number): string[] {
  const advice: string[] = [];
  if (d.queueFull > 0) {
    advice.push(`${d.queueFull} dropped because the writer could not keep up in real time (disk or machine too slow): use a faster disk, fewer streams, or --fast to wait instead of dropping`);
  }
  if (d.tooLarge > 0) {
    advice.push(`${d.tooLarge} dropped because they are larger than a block (${formatBytes(blocksize)}) can hold: make the filesystem with a larger --blocksize`);
  }
  if (d.wrongStream > 0) advice.push(`${d.wrongStream} refused because the filesystem holds another stream id`);
  return advice;
}

function summaryLine(s: RecordSummary): string {
  const how = s.signal ? ` (stopped by ${s.signal})` : '';
  const line = `recorded ${s.frames} frames (${formatBytes(s.bytes)}) of ${s.source} as id ${s.id} into ${s.dirname}: ${s.blocks} blocks finished, ${s.drops} dropped, ${s.seconds.toFixed(1)} s${how}`;
  return [line, ...s.advice].join('\n  ');
}
