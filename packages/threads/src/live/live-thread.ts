import type { FrameQueue } from '../queue/frame-queue.js';
import { ThreadsError } from '../errors.js';
import { ValkkaThread } from '../thread/valkka-thread.js';
import type { CameraState, CameraStats, LiveCameraSpec } from './live-camera.js';
import type { LiveErrorCode } from './live-error.js';
import { DEFAULT_READ_BATCH_MS } from './rtsp-session.js';
import { parseRtspUrl } from './rtsp-url.js';

export interface LiveThreadOptions {
  /** Where frames go, e.g. writers' input queues; a camera names one by index (default 0). Not closed when the thread stops. */
  outputs: FrameQueue[];
  name?: string;
  /** How often the 'stats' event comes (default 1000 ms). */
  statsIntervalMs?: number;
  /**
   * How often the cameras' TCP connections are read, all together (default 100 ms, 1..1000): fewer wake-ups
   * cost less CPU; frames reach the outputs this much later.
   */
  readBatchMs?: number;
}

/** A camera for addCamera: its spec, a unique name, and the index of the output its frames go to. */
export interface LiveCameraConfig extends LiveCameraSpec {
  name: string;
  output?: number;
}

export interface CameraEvent {
  name: string;
  state: CameraState;
  error?: { code: LiveErrorCode; message: string };
}

export type LiveEvents = {
  stats: [CameraStats[]];
  camera: [CameraEvent];
  log: [string];
};

export interface LiveWorkerData {
  outputs: SharedArrayBuffer[];
  statsIntervalMs: number;
  readBatchMs: number;
}

/** Totals over the thread's cameras, readable at any time from shared memory. */
export const LIVE_COUNTERS = ['cameras', 'frames', 'bytes', 'drops'] as const;

/**
 * libValkka's LiveThread: many RTSP cameras in one worker (a worker per core, not per camera), frames into
 * FrameQueues in shared memory. Cameras reconnect by themselves; 'camera' events tell their state changes,
 * 'stats' events their statistics (also kept for cameraStats()). URLs with credentials stay inside:
 * names, stats, events and logs carry them redacted.
 */
export class LiveThread extends ValkkaThread<LiveWorkerData, LiveEvents> {
  private readonly outputCount: number;
  private latest: CameraStats[] = [];

  constructor(options: LiveThreadOptions) {
    if (options.outputs.length === 0) throw new ThreadsError('ERR_LIVE_OPTIONS', 'LiveThread needs at least one output queue');
    const readBatchMs = options.readBatchMs ?? DEFAULT_READ_BATCH_MS;
    if (!(Number.isInteger(readBatchMs) && readBatchMs >= 1 && readBatchMs <= 1000)) {
      throw new ThreadsError('ERR_LIVE_OPTIONS', `LiveThread readBatchMs must be an integer 1..1000, got ${readBatchMs}`);
    }
    super({
      name: options.name ?? 'live',
      worker: 'live-worker',
      commandBytes: 64 * 1024,
      outputs: options.outputs,
      counters: LIVE_COUNTERS,
      data: { outputs: options.outputs.map((q) => q.buffer), statsIntervalMs: options.statsIntervalMs ?? 1000, readBatchMs },
    });
    this.outputCount = options.outputs.length;
    this.on('stats', (stats) => (this.latest = stats));
  }

  /** Starts recording a camera (it connects and reconnects in the worker). A bad URL or output index is refused here. */
  async addCamera(camera: LiveCameraConfig): Promise<void> {
    parseRtspUrl(camera.url);
    const output = camera.output ?? 0;
    if (!Number.isInteger(output) || output < 0 || output >= this.outputCount) {
      throw new ThreadsError('ERR_LIVE_OPTIONS', `camera ${camera.name}: output ${output} does not exist (${this.outputCount} outputs)`);
    }
    if (!Number.isInteger(camera.slot) || camera.slot < 0 || camera.slot > 0xffff) {
      throw new ThreadsError('ERR_LIVE_OPTIONS', `camera ${camera.name}: slot ${camera.slot} is not 0..65535`);
    }
    await this.command({ type: 'addCamera', camera: { ...camera, output } });
  }

  /** Stops a camera (TEARDOWN) and forgets it. */
  async removeCamera(name: string): Promise<void> {
    await this.command({ type: 'removeCamera', name });
  }

  /** The statistics of the last 'stats' event (and the final ones once the thread stopped). */
  cameraStats(): CameraStats[] {
    return this.latest;
  }
}

