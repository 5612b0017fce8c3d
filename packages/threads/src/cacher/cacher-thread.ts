import type { FrameFilter } from '../filters.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { ValkkaThread } from '../thread/valkka-thread.js';
import type { CacherOptions, SetupFrame } from './cacher-core.js';
import { LatenessHistogram, type LatenessSummary } from './lateness.js';
import { PlaybackClock } from './playback-clock.js';

export interface CacherThreadOptions extends Omit<CacherOptions, 'clock'> {
  /** Where the frames come from: a ValkkaFSReaderThread's output (frames between start and end markers). */
  input: FrameQueue;
  /** Where frames and SetupFrames (as commands: stream_init, stream_state) go; default a new blocking queue. */
  output?: FrameQueue;
  outputBytes?: number;
  /** The playback clock; share one between cachers to keep their streams on one timeline. Default: a system clock. */
  clock?: PlaybackClock;
  name?: string;
  /**
   * Put a `{ type: 'transmission', number, limits, truncated }` command entry into the output after each
   * transmission was taken in (TransmissionNotice): its consumer then knows where the effects of a request end.
   * Default false.
   */
  transmissionNotices?: boolean;
}

export interface CacherWorkerData {
  frames: SharedArrayBuffer;
  output: SharedArrayBuffer;
  clock: SharedArrayBuffer;
  lateness: SharedArrayBuffer;
  notices: boolean;
  options: Omit<CacherOptions, 'clock'>;
}

/** The commands the cacher worker takes, in order, on its command queue. */
export type CacherCommand =
  | { type: 'registerSlot'; slot: number }
  | { type: 'deregisterSlot'; slot: number }
  | { type: 'seek'; time: number }
  | { type: 'playStreams' }
  | { type: 'stopStreams' }
  | { type: 'setRate'; rate: number }
  | { type: 'step'; direction: 1 | -1 }
  | { type: 'clear' }
  | { type: 'sync' };

/** Counters: frames sent, transmissions received, payload bytes cached now (both caches, bounded by budgetBytes). */
export const CACHER_COUNTERS = ['frames', 'transmissions', 'cachedBytes'] as const;

/**
 * libValkka's FileCacheThread: caches what the reader sends and plays it against a PlaybackClock
 * (see CacherCore for the behaviour). Events: 'time' {streamTime}, 'limits' {limits, truncated},
 * 'nodata' and 'data' per stream, 'error'. The output queue is closed when the thread stops; a stop does not
 * wait for the output's consumer (what is in the output stays readable).
 */
export class FileCacherThread extends ValkkaThread<CacherWorkerData> {
  readonly output: FrameQueue;
  readonly clock: PlaybackClock;
  private readonly latenessHistogram: LatenessHistogram;

  constructor(options: CacherThreadOptions) {
    const { input, output, outputBytes, clock, name, transmissionNotices, ...core } = options;
    const out = output ?? FrameQueue.create({ capacity: outputBytes ?? 8 * 1024 * 1024, mode: 'block' });
    const playbackClock = clock ?? PlaybackClock.system();
    const lateness = LatenessHistogram.create();
    super({
      name: name ?? 'cacher',
      worker: 'cacher-worker',
      commandBytes: 64 * 1024,
      outputs: [out],
      counters: CACHER_COUNTERS,
      data: { frames: input.buffer, output: out.buffer, clock: playbackClock.buffer, lateness: lateness.buffer, notices: transmissionNotices ?? false, options: core },
    });
    this.output = out;
    this.clock = playbackClock;
    this.latenessHistogram = lateness;
  }

  /** Emission jitter: how late (ms) the frames sent while playing went out after their instant on the clock. */
  lateness(): LatenessSummary {
    return this.latenessHistogram.summary();
  }

  registerSlot(slot: number): Promise<void> {
    return this.send({ type: 'registerSlot', slot });
  }

  deregisterSlot(slot: number): Promise<void> {
    return this.send({ type: 'deregisterSlot', slot });
  }

  seek(time: number): Promise<void> {
    return this.send({ type: 'seek', time });
  }

  play(): Promise<void> {
    return this.send({ type: 'playStreams' });
  }

  stop(): Promise<void> {
    return this.send({ type: 'stopStreams' });
  }

  setRate(rate: number): Promise<void> {
    return this.send({ type: 'setRate', rate });
  }

  step(direction: 1 | -1): Promise<void> {
    return this.send({ type: 'step', direction });
  }

  clear(): Promise<void> {
    return this.send({ type: 'clear' });
  }

  /**
   * Resolves when the worker has handled every command sent before (commands themselves resolve when queued)
   * and then sent what was due at the clock's time (so, with a manual clock: advance it, await sync(), and
   * everything due is in the output); rejects if the thread stops or dies first.
   */
  async sync(): Promise<void> {
    await this.ask<true>({ type: 'sync' } satisfies CacherCommand);
  }

  /**
   * Hands everything the cacher sends to callbacks on this thread (frames to a FrameFilter), in order,
   * until the thread stops; resolves then.
   */
  async pipeTo(out: { frame: FrameFilter; setup?(setup: SetupFrame): void }): Promise<void> {
    for await (const entry of this.output) {
      if (entry.kind === 'frame') out.frame(entry.frame);
      else if (entry.kind === 'command' && entry.command.type !== 'transmission') out.setup?.(entry.command as unknown as SetupFrame);
    }
  }

  protected override onExit(): void {
    this.output.close();
  }

  private send(command: CacherCommand): Promise<void> {
    return this.command(command);
  }
}
