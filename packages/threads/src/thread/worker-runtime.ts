import { parentPort, workerData } from 'node:worker_threads';
import { ThreadsError } from '../errors.js';
import { FrameQueue } from '../queue/frame-queue.js';
import type { Marker, SlotFrame, ThreadCommand } from '../slot-frame.js';
import { EXIT_MESSAGE, serializeError, STOP_COMMAND, type WorkerInit, type WorkerMessage } from './protocol.js';

/** What a worker's main function gets. */
export interface WorkerContext<Data> {
  name: string;
  data: Data;
  input: FrameQueue;
  /** Tell the owner that start() may resolve. */
  ready(): void;
  /** An event for the owner (arrives as an EventEmitter event on the ValkkaThread). */
  emit(name: string, payload: unknown): void;
  /** Adds to a named counter the owner can read from shared memory. */
  count(name: string, amount?: number): void;
  setCounter(name: string, value: number): void;
}

export interface LoopHandlers {
  frame?(frame: SlotFrame): void | Promise<void>;
  command?(command: ThreadCommand): void | Promise<void>;
  marker?(marker: Marker): void | Promise<void>;
  /** Called about every tickMs while the loop runs, busy or idle (e.g. a flush on the fs's interval). */
  tick?(): void | Promise<void>;
  tickMs?: number;
}

/** Runs `main` as this worker's body; its end (or its error) is reported to the owner, and the worker exits (1 on error) once the owner has acknowledged. */
export function runWorker<Data>(counterNames: readonly string[], main: (ctx: WorkerContext<Data>) => Promise<void>): void {
  const port = parentPort;
  if (!port) throw new ThreadsError('ERR_NOT_A_WORKER', 'this module is a worker entry: start it through its ValkkaThread');
  const init = workerData as WorkerInit<Data>;
  const counters = new Float64Array(init.counters);
  const indexOf = (name: string): number => {
    const i = counterNames.indexOf(name);
    if (i < 0) throw new ThreadsError('ERR_COUNTER', `no counter "${name}" in ${init.name}`);
    return i;
  };
  const post = (message: WorkerMessage): void => port.postMessage(message);
  const ctx: WorkerContext<Data> = {
    name: init.name,
    data: init.data,
    input: FrameQueue.attach(init.input),
    ready: () => post({ type: 'ready' }),
    emit: (name, payload) => post({ type: 'event', name, payload }),
    count: (name, amount = 1) => {
      counters[indexOf(name)]! += amount;
    },
    setCounter: (name, value) => {
      counters[indexOf(name)] = value;
    },
  };
  // Exit only when the owner answers, so that every message posted before has reached it. The listener also
  // keeps the worker alive: Atomics.waitAsync alone does not hold Node's event loop open.
  let exitCode: number | undefined;
  port.on('message', (message) => {
    if (message === EXIT_MESSAGE && exitCode !== undefined) process.exit(exitCode);
  });
  main(ctx).then(
    () => {
      exitCode = 0;
      post({ type: 'stopped' });
    },
    (err: unknown) => {
      exitCode = 1;
      post({ type: 'fatal', error: serializeError(err) });
    },
  );
}

/**
 * Reads the input queue and dispatches each entry until a stop command arrives or the queue is closed.
 * Handlers that return a promise are awaited, so entries are handled one at a time, in order.
 */
export async function runLoop(input: FrameQueue, handlers: LoopHandlers): Promise<void> {
  const tickMs = handlers.tickMs ?? 250;
  let nextTick = performance.now() + tickMs;
  let sinceYield = 0;
  for (;;) {
    const now = performance.now();
    if (now >= nextTick) {
      nextTick = now + tickMs;
      await handlers.tick?.();
    }
    const closed = input.closed; // read before pop: an entry pushed just before the close is still handled
    const entry = input.pop();
    if (!entry) {
      if (closed) return;
      await input.waitForData(Math.max(1, nextTick - performance.now()));
      continue;
    }
    if (entry.kind === 'command') {
      if (entry.command.type === STOP_COMMAND) return;
      const r = handlers.command?.(entry.command);
      if (r instanceof Promise) await r;
    } else if (entry.kind === 'frame') {
      const r = handlers.frame?.(entry.frame);
      if (r instanceof Promise) await r;
    } else {
      const r = handlers.marker?.(entry.marker);
      if (r instanceof Promise) await r;
    }
    // A long burst of synchronous frames must not starve timers and messages.
    if (++sinceYield >= 256) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
