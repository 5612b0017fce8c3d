/**
 * Sample cameras recorded while the server runs: each is a file played as a camera (FileSourceThread,
 * looping, with holes, optionally starting late) into its filesystem, written by SharedWriterThreads (a writer
 * worker per core, not per camera). A directory without a filesystem is formatted first; one that has one is
 * continued (the writer recovers and goes on).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ValkkaSingleFS } from '@valkka/fs';
import { FileSourceThread, loadClip, recordingGroups, SharedWriterThread } from '@valkka/threads';
import type { Logger } from 'pino';
import { z } from 'zod';

const Hole = z.object({ afterMs: z.number().min(0), lengthMs: z.number().positive() }).strict();

export const RecordConfig = z
  .object({
    cameras: z
      .array(
        z
          .object({
            /** The filesystem directory (relative paths: from the config file's directory). */
            dir: z.string().min(1),
            /** An H.264/H.265 file, Annex-B or MP4 (relative: from the config file's directory). */
            source: z.string().min(1),
            id: z.number().int().min(1).max(0xffffffff),
            fps: z.number().int().min(1).max(240).optional(),
            holes: z.array(Hole).max(64).optional(),
            periodicHole: z.object({ everyMs: z.number().positive(), lengthMs: z.number().positive() }).strict().optional(),
            /** The camera comes up this long after the server. */
            startDelayMs: z.number().int().min(0).max(3_600_000).optional(),
            /** Geometry used to format the directory when it holds no filesystem yet. */
            format: z.object({ blocksize: z.number().int().min(4096), blocks: z.number().int().min(2) }).strict().optional(),
          })
          .strict(),
      )
      .min(1)
      .max(64),
  })
  .strict();
export type RecordConfig = z.infer<typeof RecordConfig>;
type CameraConfig = RecordConfig['cameras'][number];

/** Reads and validates a record config file; paths inside it become absolute. */
export async function loadRecordConfig(path: string): Promise<RecordConfig> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`--record ${path}: ${(err as Error).message}`);
  }
  const parsed = RecordConfig.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--record ${path}: ${issue?.path.join('.') || 'the file'}: ${issue?.message}`);
  }
  const base = dirname(resolve(path));
  return { cameras: parsed.data.cameras.map((c) => ({ ...c, dir: resolve(base, c.dir), source: resolve(base, c.source) })) };
}

/** Formats the directories that hold no filesystem yet (valkkafs.json missing). */
export async function formatMissing(config: RecordConfig): Promise<string[]> {
  const made: string[] = [];
  for (const c of config.cameras) {
    const exists = await readFile(resolve(c.dir, 'valkkafs.json')).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    if (!c.format) throw new Error(`${c.dir} holds no filesystem and its camera has no "format" to make one`);
    const fs = await ValkkaSingleFS.newFromDirectory({ dirname: c.dir, blocksize: c.format.blocksize, nBlocks: c.format.blocks });
    await fs.close();
    made.push(c.dir);
  }
  return made;
}

interface Running {
  config: CameraConfig;
  /** The shared writer of this camera's filesystem, and the filesystem's index in it. */
  writer: SharedWriterThread;
  fs: number;
  source: FileSourceThread | undefined;
  startTimer: NodeJS.Timeout | undefined;
}

export class Recorders {
  private constructor(
    private readonly running: Running[],
    private readonly log: Logger,
  ) {}

  static async start(config: RecordConfig, log: Logger): Promise<Recorders> {
    // A bad file fails here, with its name, before any thread starts.
    for (const c of config.cameras) await loadClip(c.source, c.fps ? { fps: c.fps } : {});
    const recorders = new Recorders([], log);
    // Camera i's filesystem goes to writer i % workers, each writer a worker writing its filesystems.
    const workers = recordingGroups(config.cameras.length);
    const groups = Array.from({ length: workers }, (_v, w) => config.cameras.filter((_c, i) => i % workers === w));
    try {
      for (const group of groups) {
        const writer = new SharedWriterThread({ filesystems: group.map((c) => ({ dirname: c.dir, mode: 'drop' })) });
        writer.on('error', (err: Error) => log.error({ dirs: writer.dirnames, err: err.message }, 'writer failed'));
        await writer.start();
        for (const [fs, c] of group.entries()) recorders.running.push({ config: c, writer, fs, source: undefined, startTimer: undefined });
      }
      for (const entry of recorders.running) await recorders.add(entry);
    } catch (err) {
      await recorders.close();
      throw err;
    }
    return recorders;
  }

  private async add(entry: Running): Promise<void> {
    const { config, writer, fs } = entry;
    await writer.setSlotId(fs, 1, config.id);
    const startSource = async (): Promise<void> => {
      const source = new FileSourceThread({
        path: config.source,
        slot: 1,
        output: writer.input(fs),
        // Whole milliseconds: frame k is stamped startTime + k x the frame duration.
        startTime: Date.now(),
        ...(config.fps ? { fps: config.fps } : {}),
        ...(config.holes ? { holes: config.holes } : {}),
        ...(config.periodicHole ? { periodicHole: config.periodicHole } : {}),
      });
      entry.source = source;
      await source.start();
      this.log.info({ dir: config.dir, id: config.id, source: config.source }, 'camera recording');
    };
    if (config.startDelayMs) {
      entry.startTimer = setTimeout(() => {
        entry.startTimer = undefined;
        startSource().catch((err: Error) => this.log.error({ dir: config.dir, err: err.message }, 'camera failed to start'));
      }, config.startDelayMs);
    } else await startSource();
  }

  get dirs(): string[] {
    return this.running.map((r) => r.config.dir);
  }

  stats(): Array<{ dir: string; id: number; started: boolean; written: number; drops: number; blocks: number }> {
    return this.running.map(({ config, writer, fs, source }) => {
      const s = writer.stats(fs);
      return { dir: config.dir, id: config.id, started: source !== undefined, written: s.written, drops: s.queue.drops + s.tooLarge + s.wrongStream, blocks: s.blocks };
    });
  }

  /** Stops the sources, then the writers: everything queued is written and the open blocks are flushed durably. */
  async close(): Promise<void> {
    for (const r of this.running) clearTimeout(r.startTimer);
    await Promise.all(this.running.map((r) => r.source?.close().catch(() => r.source?.terminate())));
    const writers = [...new Set(this.running.map((r) => r.writer))];
    await Promise.all(writers.map((w) => w.close().catch(() => w.terminate())));
  }
}
