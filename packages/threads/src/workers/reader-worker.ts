import { openReader } from '../fs-open.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { ReaderCore } from '../reader/reader-core.js';
import { READER_COUNTERS, type ReaderWorkerData } from '../reader/reader-thread.js';
import { runLoop, runWorker } from '../thread/worker-runtime.js';

// The ValkkaFSReaderThread's worker: opens the filesystem read-only (no lock: the writer keeps writing),
// serves pullBlocks requests from its command queue into the output queue.
runWorker<ReaderWorkerData>(READER_COUNTERS, async (ctx) => {
  const output = FrameQueue.attach(ctx.data.output);
  const source = await openReader(ctx.data.dirname);
  const core = new ReaderCore(source, {
    // Waits (Atomics.wait) while the consumer is behind; a closed output (the owner asked to stop) discards the rest.
    deliver: (entry) => {
      output.pushEntry(entry);
    },
    expired: (block) => ctx.emit('expired', block),
    log: (message) => ctx.emit('log', message),
    report: (map) => ctx.emit('slotIds', map),
  });
  const publish = (): void => {
    for (const name of READER_COUNTERS) ctx.setCounter(name, core.counts[name]);
  };
  ctx.ready();
  await runLoop(ctx.input, {
    command: async (command) => {
      if (command.type === 'pullBlocks' && output.closed) return; // stopping: nobody will get these frames
      await core.command(command);
      publish();
    },
  });
  await source.close();
  publish();
});
