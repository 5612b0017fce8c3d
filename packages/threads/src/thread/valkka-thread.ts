import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ThreadDiedError, ThreadsError } from '../errors.js';
import type { FrameQueue } from '../queue/frame-queue.js';
import type { ThreadCommand } from '../slot-frame.js';
import { EXIT_MESSAGE, STOP_COMMAND, type WorkerInit, type WorkerMessage } from './protocol.js';
import { workerUrl } from './worker-path.js';

export interface ThreadSpec<Data> {
  name: string;
  /** The worker entry's name (dist/workers/<worker>.js), or the URL of any JavaScript worker file built on runWorker. */
  worker: string | URL;
  /** The queue that carries frames and commands to the worker, in order. */
  input: FrameQueue;
  /** Names of the Float64 counters the worker keeps (see counters()). */
  counters: readonly string[];
  data: Data;
}

/**
 * The owner's side of a thread that runs in a worker (node:worker_threads), with libValkka's lifecycle:
 * start, requestStop, waitStop, close. Commands travel through the input queue, so they stay ordered with frames.
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
  readonly input: FrameQueue;
  private readonly spec: ThreadSpec<Data>;
  private readonly counterValues: Float64Array;
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private failure: ThreadDiedError | undefined;
  private running = false;
  private terminating = false;

  constructor(spec: ThreadSpec<Data>) {
    super();
    this.spec = spec;
    this.name = spec.name;
    this.input = spec.input;
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
      input: this.input.buffer,
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
          this.input.close();
          this.onExit();
          if (!ready) reject(this.failure ?? new ThreadDiedError(this.name, 'worker exited before it was ready'));
          done();
        });
      });
    });
  }

  /** Sends a command, in order with the frames already queued. */
  protected async command(command: ThreadCommand): Promise<void> {
    if (!this.running) throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" is not running`);
    if (!(await this.input.pushCommandAsync(command))) {
      throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" stopped before it got ${command.type}`);
    }
  }

  /**
   * Sends a command whose answer comes back as the worker's event `answer` (e.g. reportSlotIds -> 'slotIds');
   * rejects if the thread stops or dies first. `accept` picks this command's answer when several may be under way.
   */
  protected async ask<T>(command: ThreadCommand, answer: string, accept: (value: T) => boolean = () => true): Promise<T> {
    let listener: ((value: T) => void) | undefined;
    const answered = new Promise<T>((resolve) => {
      listener = (value) => {
        if (accept(value)) resolve(value);
      };
      this.untyped.on(answer, listener);
    });
    const ended = this.exited!.then(() => {
      throw this.failure ?? new ThreadsError('ERR_THREAD_STATE', `thread "${this.name}" stopped before answering ${command.type}`);
    });
    try {
      await this.command(command);
      return await Promise.race([answered, ended]);
    } finally {
      this.untyped.off(answer, listener!);
      ended.catch(() => undefined);
    }
  }

  /** Asks the worker to finish what is queued before the request, then stop. */
  requestStop(): void {
    if (!this.running) return;
    void this.input.pushCommandAsync({ type: STOP_COMMAND });
  }

  /** Resolves when the worker has stopped; rejects with a ThreadDiedError when it died. */
  async waitStop(): Promise<void> {
    await this.exited;
    if (this.failure) throw this.failure;
  }

  /** requestStop + waitStop. */
  async close(): Promise<void> {
    this.requestStop();
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
