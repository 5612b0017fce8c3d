import { workerData } from 'node:worker_threads';
import { ThreadsError } from '../errors.js';
import { openWriter } from '../fs-open.js';
import type { FrameSink } from '../fs-port.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { collectEvery } from '../thread/collect.js';
import { STOP_COMMAND, type WorkerInit } from '../thread/protocol.js';
import { runWorker } from '../thread/worker-runtime.js';
import { type SharedWriterCommand, type SharedWriterWorkerData, sharedWriterCounters } from './shared-writer-thread.js';
import { WriterCore } from './writer-core.js';
import { WRITER_COUNTERS } from './writer-thread.js';

/** Frame bytes between two full garbage collections (see collectEvery). */
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024;

/** One filesystem of this worker: its input, its writer core and how many entries were taken from the input. */
interface Fs {
  dirname: string;
  input: FrameQueue;
  sink: FrameSink;
  core: WriterCore;
  /** Entries taken from the input (an int32 that wraps, as FrameQueue.pushed). */
  taken: number;
}

const count = (workerData as WorkerInit<SharedWriterWorkerData>).data.filesystems.length;

// SharedWriterThread's worker: opens every filesystem (their writer locks belong to this worker), then every
// batchMs writes what each input holds, and applies commands in order with their filesystem's frames.
runWorker<SharedWriterWorkerData>(sharedWriterCounters(count), async (ctx) => {
  const moved = collectEvery(COLLECT_EVERY_BYTES);
  const list: Fs[] = [];
  const closeAll = async (): Promise<void> => {
    const results = await Promise.allSettled(list.map((f) => f.sink.close()));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) throw new ThreadsError('ERR_WRITER_CLOSE', `${list[failed]!.dirname}: ${messageOf((results[failed] as PromiseRejectedResult).reason)}`);
  };
  for (const [i, f] of ctx.data.filesystems.entries()) {
    let sink: FrameSink;
    try {
      sink = await openWriter(f.dirname, (block) => {
        ctx.count(`blocks.${i}`);
        ctx.emit('block', { fs: i, ...block });
      }, f.flushIntervalMs);
    } catch (err) {
      await closeAll().catch(() => undefined);
      throw new ThreadsError('ERR_WRITER_OPEN', `${f.dirname}: ${messageOf(err)}`, { cause: err });
    }
    const core = new WriterCore(
      sink,
      (message) => ctx.emit('log', `${f.dirname}: ${message}`),
      (map, command) => ctx.answer(command, map),
    );
    list.push({ dirname: f.dirname, input: FrameQueue.attach(f.input), sink, core, taken: 0 });
  }
  const publish = (): void => {
    list.forEach((f, i) => {
      for (const name of WRITER_COUNTERS) if (name !== 'blocks') ctx.setCounter(`${name}.${i}`, f.core.counts[name]);
    });
  };

  /** Writes what `f`'s input holds now, or (given `upTo`, an input.pushed value) the entries before that. */
  const drain = async (f: Fs, upTo = f.input.pushed): Promise<void> => {
    while (((upTo - f.taken) | 0) > 0) {
      const entry = f.input.pop();
      if (!entry) return;
      f.taken = (f.taken + 1) | 0;
      if (entry.kind === 'frame') {
        moved(entry.frame.payload.byteLength);
        const r = f.core.frame(entry.frame);
        if (r instanceof Promise) await r;
      } else if (entry.kind === 'command') {
        const r = f.core.command(entry.command); // a command a source put among its frames
        if (r instanceof Promise) await r;
      }
    }
  };

  ctx.ready();
  for (;;) {
    const commandsClosed = ctx.commands.closed; // read before pop: a command pushed just before the close is handled
    for (let e = ctx.commands.pop(); e; e = ctx.commands.pop()) {
      if (e.kind !== 'command') continue;
      const c = e.command as SharedWriterCommand | { type: typeof STOP_COMMAND };
      if (c.type === STOP_COMMAND) return finish();
      const f = list[(c as SharedWriterCommand).fs];
      if (!f) {
        ctx.emit('log', `command ${c.type} for filesystem ${(c as SharedWriterCommand).fs}, which this writer does not have (ignored)`);
        continue;
      }
      // A command comes after the frames its filesystem's input had accepted when it was sent.
      await drain(f, (c as SharedWriterCommand).after);
      const r = f.core.command(c);
      if (r instanceof Promise) await r;
    }
    if (commandsClosed) return finish();
    for (const f of list) await drain(f);
    publish();
    // Only a command (or the batch's end) wakes the worker: producers' frames gather meanwhile.
    await ctx.commands.waitForData(ctx.data.batchMs);
  }

  /** A stop writes what the inputs had accepted when it came, and no more; then every filesystem is closed (durable). */
  async function finish(): Promise<void> {
    const ends = list.map((f) => f.input.pushed);
    for (const [i, f] of list.entries()) await drain(f, ends[i]);
    try {
      await closeAll();
    } finally {
      publish();
    }
  }
});

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
