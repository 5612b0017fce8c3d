import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ThreadDiedError, ThreadsError } from '../errors.js';
import type { FrameQueue } from '../queue/frame-queue.js';
import type { ThreadCommand } from '../slot-frame.js';
import { FrameQueue as Queue } from '../queue/frame-queue.js';
import { EXIT_MESSAGE, STOP_COMMAND, type CommandEnvelope, type WorkerInit, type WorkerMessage } from './protocol.js';
import { workerUrl } from './worker-path.js';

export interface ThreadSpec<Data> {
  name: string;
  /** The worker entry's name (dist/workers/<worker>.js), or the URL of any JavaScript worker file built on runWorker. */
  worker: string | URL;
  /** The queue that carries frames to the worker (threads that take frames: the writer); its one producer is a source. */
  input?: FrameQueue;
  /** Queues the worker produces into: the owner releases the worker's producer claim on them when it exits. */
  outputs?: FrameQueue[];
  /** Bytes of the command queue (default 256 KiB). */
  commandBytes?: number;
  /** Names of the Float64 counters the worker keeps (see counters()). */
  counters: readonly string[];
  data: Data;
}

/** How long close() waits for a clean stop before it terminates the worker (ms). */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/**
 * The owner's side of a thread that runs in a worker (node:worker_threads), with libValkka's lifecycle:
 * start, requestStop, waitStop, close. Commands travel on their own queue (the owner is its one producer);
 * each is applied after the frames its input had accepted when it was sent.
 *
 * A worker that dies (throws, or exits with a non-zero code) never takes the process down: the owner gets an
 * 'error' event (only when it listens for one) and waitStop() rejects with a ThreadDiedError carrying the reason.
 */
/**
 * Events every thread may emit: its worker's events (named by the subclass's map) and 'error'.
 * The default ([never], Node's DefaultEventMap) leaves events untyped.
 */
export type ThreadEvents<Own> = Own & { error: [ThreadDiedError] };

export class ValkkaThread<Data = unknown, Events extends Record<keyof Events, unknown[]> | [never] = [never]> extends EventEmitter<Events> {
  readonly name: string;
  /** The owner's commands to the worker (the owner is the only producer). */
  readonly commands: FrameQueue;
  private readonly spec: ThreadSpec<Data>;
  private readonly counterValues: Float64Array;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private failure: ThreadDiedError | undefined;
  private running = false;
  private terminating = false;
  private asks = 0;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();

  constructor(spec: ThreadSpec<Data>) {
    super();
    this.spec = spec;
    this.name = spec.name;
    this.commands = Queue.create({ capacity: spec.commandBytes ?? 256 * 1024, mode: 'block' });
    this.counterValues = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, spec.counters.length)));
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts the worker; resolves once it has set itself up (e.g. opened the filesystem), rejects if it died doing so. */
  start(): Promise<void> {
    if (this.worker) return Promise.reject(new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" was already started`));
    const init: WorkerInit<Data> = {
      name: this.name,
      commands: this.commands.buffer,
      ...(this.spec.input ? { input: this.spec.input.buffer } : {}),
      stop: this.stopFlag.buffer as SharedArrayBuffer,
      counters: this.counterValues.buffer as SharedArrayBuffer,
      data: this.spec.data,
    };
    let worker: Worker;
    try {
      worker = new Worker(typeof this.spec.worker === 'string' ? workerUrl(this.spec.worker) : this.spec.worker, { workerData: init, name: this.name });
    } catch (err) {
      return Promise.reject(err);
    }
    this.worker = worker;
    this.running = true;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          ready = true;
          resolve();
        } else if (message.type === 'event') this.untyped.emit(message.name, message.payload);
        else if (message.type === 'answer') {
          this.pending.get(message.ask)?.resolve(message.value);
          this.pending.delete(message.ask);
        }
        else if (message.type === 'fatal') {
          this.fail(message.error.message, message.error);
          worker.postMessage(EXIT_MESSAGE);
        } else if (message.type === 'stopped') worker.postMessage(EXIT_MESSAGE);
      });
      worker.on('error', (err) => this.fail(err.message, err));
      this.exited = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.running = false;
          if (code !== 0 && !this.terminating) this.fail(`worker exited with code ${code}`);
          this.commands.close();
          this.spec.input?.close(); // a producer waiting for room wakes up and sees the end
          for (const q of this.spec.outputs ?? []) q.releaseProducer(worker.threadId);
          const reason = this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" stopped before answering`);
          for (const p of this.pending.values()) p.reject(reason);
          this.pending.clear();
          this.onExit();
          if (!ready) reject(this.failure ?? new ThreadDiedError(this.name, 'worker exited before it was ready'));
          done();
        });
      });
    });
  }

  /** Sends a command; the worker applies it after the frames its input had accepted by now. */
  protected async command(command: ThreadCommand, envelope: CommandEnvelope = {}): Promise<void> {
    if (!this.running) throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" is not running`);
    const input = this.spec.input;
    const sent = { ...command, ...envelope, ...(input ? { afterFrames: input.pushed } : {}) };
    if (!(await this.commands.pushCommandAsync(sent))) {
      throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" stopped before it got ${command.type}`);
    }
  }

  /**
   * Sends a command whose answer the worker posts back (WorkerContext.answer): each question has its own number,
   * so overlapping questions get their own answers. Rejects if the thread is not running, or stops or dies first.
   */
  protected async ask<T>(command: ThreadCommand): Promise<T> {
    if (!this.running) throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" is not running (start() it first)`);
    const ask = ++this.asks;
    const answered = new Promise<T>((resolve, reject) => {
      this.pending.set(ask, { resolve: resolve as (value: unknown) => void, reject });
    });
    try {
      await this.command(command, { ask });
    } catch (err) {
      this.pending.delete(ask);
      throw err;
    }
    return answered;
  }

  /**
   * Asks the worker to finish what was queued before the request, then stop. A worker waiting for room in an
   * output gives up (the stop flag), so consumers that never read cannot hold it; see close() for the bound.
   */
  requestStop(): void {
    if (!this.running) return;
    Atomics.store(this.stopFlag, 0, 1);
    const input = this.spec.input;
    void this.commands.pushCommandAsync({ type: STOP_COMMAND, ...(input ? { afterFrames: input.pushed } : {}) });
  }

  /** Resolves when the worker has stopped; rejects with a ThreadDiedError when it died. */
  async waitStop(): Promise<void> {
    await this.exited;
    if (this.failure) throw this.failure;
  }

  /**
   * requestStop + waitStop, bounded: a worker that has not stopped after `timeoutMs` (default 30 s; e.g. stuck
   * in a long synchronous task) is terminated, and close() rejects with ERR_STOP_TIMEOUT (what it had not
   * finished is lost).
   */
  async close(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    this.requestStop();
    if (this.exited) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
      const outcome = await Promise.race([this.exited.then(() => 'stopped' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        await this.terminate();
        throw new ThreadsError('ERR_STOP_TIMEOUT', `thread "${this.name}" did not stop within ${timeoutMs} ms of close(): terminated`);
      }
    }
    await this.waitStop();
  }

  /** Stops the worker at once, without finishing its queue (use close() for a clean stop). Not a failure. */
  async terminate(): Promise<void> {
    if (this.running) this.terminating = true;
    await this.worker?.terminate();
    await this.exited;
  }

  /** The worker's counters, read from shared memory: always current, no message round trip. */
  counters(): Record<string, number> {
    const values: Record<string, number> = {};
    this.spec.counters.forEach((name, i) => {
      values[name] = this.counterValues[i]!;
    });
    return values;
  }

  /** Events named at run time (by the worker's messages) bypass the typed map. */
  private get untyped(): EventEmitter {
    return this as unknown as EventEmitter;
  }

  /** Subclasses close their output queues here so that consumers see the end. */
  protected onExit(): void {}

  private fail(reason: string, cause?: unknown): void {
    if (this.failure) return;
    this.failure = new ThreadDiedError(this.name, reason, cause);
    if (this.untyped.listenerCount('error') > 0) this.untyped.emit('error', this.failure);
  }
}
