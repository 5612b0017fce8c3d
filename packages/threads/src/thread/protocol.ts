/** Messages a thread's worker posts to its owner (frames and commands never go this way: they use FrameQueues). */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'fatal'; error: SerializedError }
  /** The answer to the command that carried `ask` (see ValkkaThread.ask). */
  | { type: 'answer'; ask: number; value: unknown }
  /** The last message of a worker that finished: the owner answers EXIT_MESSAGE (see runWorker). */
  | { type: 'stopped' };

/**
 * The owner's answer to 'stopped' and 'fatal': only then does the worker exit. A worker that exits on its own
 * right after posting may lose its last messages; this handshake guarantees the owner saw all of them.
 */
export const EXIT_MESSAGE = 'exit';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** What every worker receives in workerData, beside its own settings in `data`. */
export interface WorkerInit<Data> {
  name: string;
  /** The SharedArrayBuffer of the thread's command FrameQueue (the owner is its only producer). */
  commands: SharedArrayBuffer;
  /** The SharedArrayBuffer of the thread's frame input, for threads that take frames (the writer): one producer, a source. */
  input?: SharedArrayBuffer;
  /** Int32[0] becomes 1 when the owner asks the thread to stop: a worker waiting for room in an output gives up. */
  stop: SharedArrayBuffer;
  /** A SharedArrayBuffer of Float64 counters the worker updates and the owner reads at any time. */
  counters: SharedArrayBuffer;
  data: Data;
}

export const STOP_COMMAND = 'stop';

/**
 * Fields the owner adds to a command: `afterFrames`, the frame input's pushed count when the command was sent
 * (the worker applies the command once it has taken that many entries from its input, so a command comes after
 * the frames queued before it), and `ask`, the number of a question whose answer the worker posts back.
 */
export interface CommandEnvelope {
  afterFrames?: number;
  ask?: number;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { name: 'Error', message: String(err) };
}
