import { PlaybackClock } from '../cacher/playback-clock.js';
import type { FrameFilter } from '../filters.js';
import type { FrameQueue } from '../queue/frame-queue.js';
import { ValkkaThread } from '../thread/valkka-thread.js';
import { FileSourceCore, type FileSourceOptions } from './file-source-core.js';
import { loadClip, type LoadClipOptions } from './media-clip.js';

export interface FileSourceThreadOptions extends FileSourceOptions, LoadClipOptions {
  /** An H.264/H.265 file: Annex-B (.h264/.h265...) or MP4. */
  path: string;
  /** Where the frames go, e.g. a ValkkaFSWriterThread's input queue (not closed when the source stops). */
  output: FrameQueue;
  /** Paces the frames; default a system clock. A manual PlaybackClock makes a test exact. */
  clock?: PlaybackClock;
  name?: string;
}

export interface FileSourceWorkerData {
  output: SharedArrayBuffer;
  clock: SharedArrayBuffer;
  path: string;
  load: LoadClipOptions;
  source: FileSourceOptions;
}

/** Frames and bytes the source produced (a dropping output counts what it dropped in its own stats), position in the clip. */
export const FILE_SOURCE_COUNTERS = ['frames', 'bytes', 'position'] as const;

/**
 * Plays an H.264/H.265 file as a camera in its own worker: access units with real-time timestamps,
 * looping, with optional holes (see FileSourceCore). start() rejects with the file's error
 * (SourceError message) when it cannot be played. Emits 'end' when a non-looping source is done.
 */
export class FileSourceThread extends ValkkaThread<FileSourceWorkerData> {
  constructor(options: FileSourceThreadOptions) {
    const { path, output, clock, name, codec, fps, maxBytes, ...source } = options;
    super({
      name: name ?? `file-source:${path}`,
      worker: 'file-source-worker',
      commandBytes: 16 * 1024,
      outputs: [output],
      counters: FILE_SOURCE_COUNTERS,
      data: {
        output: output.buffer,
        clock: (clock ?? PlaybackClock.system()).buffer,
        path,
        load: { ...(codec ? { codec } : {}), ...(fps ? { fps } : {}), ...(maxBytes ? { maxBytes } : {}) },
        source,
      },
    });
  }
}

/**
 * The same camera on the calling thread, into a FrameFilter (timers pace it): for tools and tests
 * that do not want a worker. stop() ends it; `finished` resolves when it ends.
 */
export class FileSource {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private resolveFinished!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  private constructor(
    private readonly core: FileSourceCore,
    private readonly clock: { now(): number },
    private readonly filter: FrameFilter,
  ) {}

  static async open(options: Omit<FileSourceThreadOptions, 'output' | 'name'> & { filter: FrameFilter }): Promise<FileSource> {
    const { path, filter, clock, codec, fps, maxBytes, ...source } = options;
    const clip = await loadClip(path, { ...(codec ? { codec } : {}), ...(fps ? { fps } : {}), ...(maxBytes ? { maxBytes } : {}) });
    const theClock = clock ?? PlaybackClock.system();
    return new FileSource(new FileSourceCore(clip, theClock, source), theClock, filter);
  }

  start(): void {
    this.core.start();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.resolveFinished();
  }

  private tick(): void {
    if (this.stopped) return;
    for (const frame of this.core.pull()) this.filter(frame);
    if (this.core.done) return this.stop();
    this.timer = setTimeout(() => this.tick(), Math.min(20, Math.max(0, this.core.nextWakeAt() - this.clock.now())));
  }
}
