/**
 * `valkka record DIR --source rtsp://...` and `valkka record --config cameras.json`: cameras over RTSP into
 * their filesystem directories, a worker per core, not per camera: the directories are spread over groups,
 * and each group has one LiveThread (its cameras) and one SharedWriterThread (its filesystems). Credentials
 * never leave the URL they came in: everything printed names cameras with `redactUrl`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CameraEvent,
  type CameraStats,
  LiveThread,
  parseRtspUrl,
  recordingGroups,
  redactUrl,
  SharedWriterThread,
  ThreadDiedError,
  type Transport,
} from '@valkka/threads';
import { z } from 'zod';
import { CliError } from '../output.js';
import { formatBytes, parseInteger, parseSeconds } from '../units.js';

export interface LiveRecordOptions {
  source?: string;
  config?: string;
  transport?: string;
  id: string;
  duration?: string;
  json?: boolean;
}

/** One camera as the recorder runs it. */
interface CameraPlan {
  name: string;
  url: string;
  dir: string;
  id: number;
  slot: number;
  transport: Transport;
}

export interface LiveSummary {
  cameras: Array<Pick<CameraStats, 'name' | 'url' | 'frames' | 'bytes' | 'keyFrames' | 'lostPackets' | 'droppedFrames' | 'reconnects' | 'lastError'> & { dir: string; id: number }>;
  filesystems: Array<{ dir: string; written: number; writtenBytes: number; blocks: number; drops: number }>;
  seconds: number;
  interrupted: boolean;
}

/** How many 5xx answers in a row a camera may give at the start before the command gives up on it. */
const UNAVAILABLE_TRIES = 3;

const rtspUrl = z.string().refine(
  (text) => {
    try {
      parseRtspUrl(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not an rtsp://[user:password@]host[:port]/path URL' },
);

const configSchema = z.strictObject({
  cameras: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(64),
        url: rtspUrl,
        dir: z.string().min(1),
        id: z.number().int().min(1).max(0xffffffff).optional(),
        transport: z.enum(['tcp', 'udp']).optional(),
      }),
    )
    .min(1)
    .max(4096),
  /** Groups of directories, each a LiveThread and a SharedWriterThread; default one per core, at most one per directory. */
  workers: z.number().int().min(1).max(256).optional(),
});
type CameraConfig = z.infer<typeof configSchema>;

/** True when this `valkka record` is for cameras (an rtsp:// source or a --config file). */
export function isLiveRecord(options: { source?: string; config?: string }): boolean {
  return options.config !== undefined || /^rtsps?:\/\//i.test(options.source ?? '');
}

export async function recordLive(dir: string | undefined, options: LiveRecordOptions): Promise<LiveSummary> {
  const transport = transportOf(options.transport);
  const durationMs = options.duration === undefined ? undefined : parseSeconds(options.duration, '--duration') * 1000;
  let plans: CameraPlan[];
  let workers: number | undefined;
  if (options.config !== undefined) {
    if (dir !== undefined || options.source !== undefined) throw new CliError('--config names the cameras and their directories: give no DIR or --source with it');
    const config = await loadConfig(options.config);
    plans = config.cameras.map((c, i) => ({ name: c.name, url: c.url, dir: c.dir, id: c.id ?? 1, slot: i + 1, transport: c.transport ?? transport }));
    workers = config.workers;
  } else {
    if (dir === undefined) throw new CliError('record: DIR is missing (the filesystem to record into)');
    const source = options.source!;
    try {
      parseRtspUrl(source);
    } catch (err) {
      throw new CliError(`--source: ${(err as Error).message}`);
    }
    plans = [{ name: redactUrl(source), url: source, dir, id: parseInteger(options.id, '--id', 1, 0xffffffff), slot: 1, transport }];
  }
  return run(plans, workers, durationMs, options.json ?? false);
}

async function loadConfig(path: string): Promise<CameraConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`--config ${path}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? `not JSON (${e.message})` : e.message}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    throw new CliError(`--config ${path}: ${where || 'top level'}: ${issue.message}`);
  }
  const config = parsed.data;
  const names = new Set<string>();
  const streams = new Set<string>();
  for (const [i, c] of config.cameras.entries()) {
    if (names.has(c.name)) throw new CliError(`--config ${path}: cameras[${i}].name: '${c.name}' is used twice`);
    names.add(c.name);
    const stream = `${c.dir}\0${c.id ?? 1}`;
    if (streams.has(stream)) throw new CliError(`--config ${path}: cameras[${i}]: ${c.dir} already records stream id ${c.id ?? 1}: give each camera of a directory its own id`);
    streams.add(stream);
  }
  // Several cameras into one directory need a ValkkaMultiFS: a ValkkaSingleFS keeps one stream.
  for (const dir of new Set(config.cameras.map((c) => c.dir))) {
    const count = config.cameras.filter((c) => c.dir === dir).length;
    if (count > 1 && (await variantOf(dir)) === 'single') {
      throw new CliError(`--config ${path}: ${count} cameras record into ${dir}, a ValkkaSingleFS (one stream): use a ValkkaMultiFS there, or a directory per camera`);
    }
  }
  return config;
}

async function variantOf(dir: string): Promise<string | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8')) as { variant?: unknown };
    return typeof meta.variant === 'string' ? meta.variant : undefined;
  } catch {
    return undefined; // the writer says what is wrong with the directory
  }
}

function transportOf(text: string | undefined): Transport {
  if (text === undefined || text === 'tcp') return 'tcp';
  if (text === 'udp') return 'udp';
  throw new CliError(`--transport: '${text}' is not tcp or udp`);
}

async function run(plans: CameraPlan[], workers: number | undefined, durationMs: number | undefined, json: boolean): Promise<LiveSummary> {
  const dirs = [...new Set(plans.map((p) => p.dir))];
  // A filesystem's input queue has one producer: cameras of one directory share a LiveThread.
  const threadCount = Math.max(1, Math.min(workers ?? recordingGroups(plans.length), dirs.length));
  const groups: string[][] = Array.from({ length: threadCount }, () => []);
  for (const dir of [...dirs].sort((a, b) => plans.filter((p) => p.dir === b).length - plans.filter((p) => p.dir === a).length)) {
    const lightest = groups.reduce((a, b) => (cameraCount(plans, a) <= cameraCount(plans, b) ? a : b));
    lightest.push(dir);
  }
  const lives = groups
    .filter((g) => g.length > 0)
    .map((g, i) => {
      const writer = new SharedWriterThread({ name: `writer-${i}`, filesystems: g.map((dirname) => ({ dirname, mode: 'drop' })) });
      return { dirs: g, writer, thread: new LiveThread({ name: `live-${i}`, outputs: writer.inputs }) };
    });
  const writers = lives.map((l) => l.writer);
  const started = performance.now();
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(lives.map((l) => l.thread.close()));
    await Promise.allSettled(writers.map((w) => w.close()));
  };
  try {
    for (const { dirs: d, writer } of lives) {
      try {
        await writer.start();
      } catch (err) {
        // The worker's message starts with the directory it could not open.
        throw new CliError(`cannot record into ${reasonOf(err)}`, 1);
      }
      for (const p of plans.filter((x) => d.includes(x.dir))) await writer.setSlotId(d.indexOf(p.dir), p.slot, p.id);
    }
    // Each camera's first attempt decides: one that cannot be reached or refuses the credentials stops the command.
    // A camera that answers 5xx (busy, media not ready) gets a few more attempts before it counts as failed.
    const first = new Map<string, CameraEvent>();
    const unavailable = new Map<string, number>();
    const decides = (e: CameraEvent): boolean => {
      if (e.state === 'playing') return true;
      if (e.state !== 'waiting') return false;
      if (e.error?.code !== 'ERR_LIVE_UNAVAILABLE') return true;
      const tries = (unavailable.get(e.name) ?? 0) + 1;
      unavailable.set(e.name, tries);
      return tries >= UNAVAILABLE_TRIES;
    };
    for (const { thread } of lives) {
      thread.on('camera', (e) => {
        if (!first.has(e.name) && decides(e)) first.set(e.name, e);
        if (!json && !process.stderr.isTTY && first.has(e.name)) process.stderr.write(`${e.name}: ${e.state}${e.error ? `: ${e.error.message}` : ''}\n`);
      });
      await thread.start();
    }
    for (const { dirs: d, thread } of lives) {
      for (const p of plans.filter((x) => d.includes(x.dir))) {
        await thread.addCamera({ name: p.name, url: p.url, slot: p.slot, transport: p.transport, output: d.indexOf(p.dir) });
      }
    }
    while (first.size < plans.length) {
      const dead = lives.find((l) => !l.thread.isRunning);
      if (dead) {
        await dead.thread.waitStop(); // rejects with the worker's error
        throw new CliError(`recording failed: ${dead.thread.name} stopped before its cameras answered`, 1);
      }
      await sleep(20);
    }
    const failed = [...first.values()].filter((e) => e.state === 'waiting');
    if (failed.length > 0) {
      await stopAll();
      const lines = failed.map((e) => (plans.length === 1 ? `cannot record ${e.name}: ${e.error!.message}` : `camera ${e.name}: ${e.error!.message}`));
      throw new CliError(plans.length === 1 ? lines[0]! : `${failed.length} of ${plans.length} cameras cannot be recorded:\n  ${lines.join('\n  ')}`, 1);
    }
    const interrupted = await waitUntilDone(lives.map((l) => l.thread), writers, durationMs, json);
    await stopAll();
    for (const w of writers) await w.waitStop();
    return summarize(plans, lives, (performance.now() - started) / 1000, interrupted);
  } catch (err) {
    await Promise.allSettled([...lives.map((l) => l.thread.terminate()), ...writers.map((w) => w.terminate())]);
    if (err instanceof ThreadDiedError) throw new CliError(`recording failed: ${reasonOf(err)}`, 1);
    throw err;
  }
}

const cameraCount = (plans: CameraPlan[], dirs: string[]): number => plans.filter((p) => dirs.includes(p.dir)).length;

/** Until --duration passed, a signal came, or a thread died; shows the status meanwhile. Returns whether a signal stopped it. */
async function waitUntilDone(lives: LiveThread[], writers: SharedWriterThread[], durationMs: number | undefined, json: boolean): Promise<boolean> {
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.once(s, stop);
  const started = performance.now();
  const table = !json && process.stderr.isTTY ? new StatusTable() : undefined;
  let nextShow = 0;
  try {
    while (!interrupted && (durationMs === undefined || performance.now() - started < durationMs)) {
      if ([...lives, ...writers].some((t) => !t.isRunning)) break;
      const stats = performance.now() >= nextShow ? lives.flatMap((l) => l.cameraStats()) : [];
      if (stats.length > 0) {
        nextShow = performance.now() + 1000;
        if (json) process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), cameras: stats.map(publicStats) })}\n`);
        table?.show(stats);
      }
      await sleep(50);
    }
  } finally {
    for (const s of signals) process.off(s, stop);
    table?.show(lives.flatMap((l) => l.cameraStats()));
  }
  return interrupted;
}

/** What the status lines carry of a camera's statistics (never the URL's credentials: stats carry it redacted). */
function publicStats(s: CameraStats) {
  return {
    name: s.name,
    state: s.state,
    fps: round(s.fps, 1),
    kbps: round(s.bitrate / 1000, 0),
    frames: s.frames,
    keyIntervalMs: round(s.keyIntervalMs, 0),
    lostPackets: s.lostPackets,
    droppedFrames: s.droppedFrames,
    reconnects: s.reconnects,
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** A table of cameras redrawn in place on the terminal (stderr). */
class StatusTable {
  private lines = 0;
  show(stats: CameraStats[]): void {
    const rows = [['camera', 'state', 'fps', 'kbit/s', 'frames', 'lost', 'reconn', 'last error']];
    for (const s of stats) {
      rows.push([s.name, s.state, s.fps.toFixed(1), (s.bitrate / 1000).toFixed(0), String(s.frames), String(s.lostPackets), String(s.reconnects), (s.lastError ?? '').slice(0, 50)]);
    }
    const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const text = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
    process.stderr.write(`${this.lines > 0 ? `\x1b[${this.lines}F` : ''}${text.map((l) => `${l}\x1b[K`).join('\n')}\n`);
    this.lines = text.length;
  }
}

function summarize(
  plans: CameraPlan[],
  lives: Array<{ dirs: string[]; writer: SharedWriterThread; thread: LiveThread }>,
  seconds: number,
  interrupted: boolean,
): LiveSummary {
  const stats = new Map(lives.flatMap((l) => l.thread.cameraStats()).map((s) => [s.name, s]));
  return {
    cameras: plans.map((p) => {
      const s = stats.get(p.name);
      return {
        name: p.name,
        url: redactUrl(p.url),
        dir: p.dir,
        id: p.id,
        frames: s?.frames ?? 0,
        bytes: s?.bytes ?? 0,
        keyFrames: s?.keyFrames ?? 0,
        lostPackets: s?.lostPackets ?? 0,
        droppedFrames: s?.droppedFrames ?? 0,
        reconnects: s?.reconnects ?? 0,
        ...(s?.lastError ? { lastError: s.lastError } : {}),
      };
    }),
    filesystems: lives.flatMap(({ dirs, writer }) =>
      dirs.map((dir, i) => {
        const s = writer.stats(i);
        return { dir, written: s.written, writtenBytes: s.writtenBytes, blocks: s.blocks, drops: s.queue.drops + s.tooLarge + s.wrongStream };
      }),
    ),
    seconds,
    interrupted,
  };
}

export function liveSummaryText(s: LiveSummary): string {
  const cams = s.cameras.map(
    (c) => `${c.name}: ${c.frames} frames (${formatBytes(c.bytes)}) as id ${c.id} into ${c.dir}, ${c.lostPackets} packets lost, ${c.reconnects} reconnects`,
  );
  const fss = s.filesystems.map((f) => `${f.dir}: ${f.written} frames written, ${f.blocks} blocks finished, ${f.drops} dropped`);
  return [...cams, ...fss, `${s.seconds.toFixed(1)} s${s.interrupted ? ' (interrupted)' : ''}`].join('\n');
}

function reasonOf(err: unknown): string {
  // A worker's error arrives as the plain { message } it posted (ThreadDiedError's cause).
  const cause = (err as { cause?: { message?: unknown } }).cause;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** The live `valkka record`: runs it and prints the summary (text, or one JSON line after the status lines with --json). */
export async function runLiveRecord(dir: string | undefined, options: LiveRecordOptions): Promise<void> {
  const summary = await recordLive(dir, options);
  process.stdout.write(options.json ? `${JSON.stringify({ summary })}\n` : `${liveSummaryText(summary)}\n`);
}
