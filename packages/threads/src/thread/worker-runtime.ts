import { parentPort, workerData } from 'node:worker_threads';
import { ThreadsError } from '../errors.js';
import { FrameQueue } from '../queue/frame-queue.js';
import type { Marker, SlotFrame, ThreadCommand } from '../slot-frame.js';
import { EXIT_MESSAGE, serializeError, STOP_COMMAND, type CommandEnvelope, type WorkerInit, type WorkerMessage } from './protocol.js';

/** What a worker's main function gets. */
export interface WorkerContext<Data> {
  name: string;
  data: Data;
  /** The owner's commands (STOP_COMMAND among them). */
  commands: FrameQueue;
  /** Frames from a source, for threads that take frames (the writer); undefined otherwise. */
  input: FrameQueue | undefined;
  /** True once the owner asked this thread to stop: pass it as `giveUp` to blocking pushes into outputs. */
  stopping(): boolean;
  /** Tell the owner that start() may resolve. */
  ready(): void;
  /** An event for the owner (arrives as an EventEmitter event on the ValkkaThread). */
  emit(name: string, payload: unknown): void;
  /** Answers a question (a command sent with ValkkaThread.ask); a command that was not a question is ignored. */
  answer(command: ThreadCommand, value: unknown): void;
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
  const stop = new Int32Array(init.stop);
  const ctx: WorkerContext<Data> = {
    name: init.name,
    data: init.data,
    commands: FrameQueue.attach(init.commands),
    input: init.input ? FrameQueue.attach(init.input) : undefined,
    stopping: () => Atomics.load(stop, 0) === 1,
    ready: () => post({ type: 'ready' }),
    emit: (name, payload) => post({ type: 'event', name, payload }),
    answer: (command, value) => {
      const ask = (command as CommandEnvelope).ask;
      if (typeof ask === 'number') post({ type: 'answer', ask, value });
    },
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

/** Whether `taken` entries (an int32 count that wraps, as FrameQueue.pushed) reach a command's afterFrames. */
function reached(command: ThreadCommand, taken: number): boolean {
  const after = (command as CommandEnvelope).afterFrames;
  return typeof after !== 'number' || ((taken - after) | 0) >= 0;
}

/**
 * Reads the thread's commands and its frame input (if any) and dispatches each entry until a stop command
 * arrives or the command queue is closed. A command waits until the frames its input had accepted when it was
 * sent are handled (so a stop finishes what was queued before it, and no more: a source that never stops cannot
 * hold it). Handlers that return a promise are awaited, so entries are handled one at a time, in order.
 */
export async function runLoop(queues: { commands: FrameQueue; input?: FrameQueue | undefined }, handlers: LoopHandlers): Promise<void> {
  const { commands, input } = queues;
  const tickMs = handlers.tickMs ?? 250;
  let nextTick = performance.now() + tickMs;
  let sinceYield = 0;
  let taken = 0; // entries taken from input (int32, wraps as input.pushed)
  let command: ThreadCommand | undefined; // the next command, waiting for its frames
  for (;;) {
    const now = performance.now();
    if (now >= nextTick) {
      nextTick = now + tickMs;
      await handlers.tick?.();
    }
    const commandsClosed = commands.closed; // read before pop: an entry pushed just before the close is still handled
    if (!command) {
      const e = commands.pop();
      if (e?.kind === 'command') command = e.command;
    }
    const inputClosed = input?.closed ?? true;
    if (command && (reached(command, taken) || (inputClosed && input?.stats().used === 0))) {
      const c = command;
      command = undefined;
      if (c.type === STOP_COMMAND) return;
      const r = handlers.command?.(c);
      if (r instanceof Promise) await r;
    } else {
      const entry = input?.pop();
      if (entry) {
        taken = (taken + 1) | 0;
        if (entry.kind === 'frame') {
          const r = handlers.frame?.(entry.frame);
          if (r instanceof Promise) await r;
        } else if (entry.kind === 'marker') {
          const r = handlers.marker?.(entry.marker);
          if (r instanceof Promise) await r;
        } else {
          const r = handlers.command?.(entry.command); // a command a source put among its frames
          if (r instanceof Promise) await r;
        }
      } else {
        if (!command && commandsClosed) return;
        // Idle, or a command whose frames are not visible yet (cannot last: they were counted once published).
        await waitForEither(commands, input, command ? 1 : Math.max(1, nextTick - performance.now()));
        continue;
      }
    }
    // A long burst of synchronous frames must not starve timers and messages.
    if (++sinceYield >= 256) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Waits until either queue may have something (or timeoutMs passed). */
async function waitForEither(a: FrameQueue, b: FrameQueue | undefined, timeoutMs: number): Promise<void> {
  await (b ? Promise.race([a.waitForData(timeoutMs), b.waitForData(timeoutMs)]) : a.waitForData(timeoutMs));
}
