import type { BlockSource } from '../fs-port.js';
import { openReader } from '../fs-open.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { type ExpiredBlock, ReaderCore } from '../reader/reader-core.js';
import { DEFAULT_BUDGET_BLOCKS, READER_COUNTERS, type ReaderWorkerData } from '../reader/reader-thread.js';
import type { QueueEntry, ThreadCommand } from '../slot-frame.js';
import { collectEvery } from '../thread/collect.js';
import { runLoop, runWorker } from '../thread/worker-runtime.js';

// The ValkkaFSReaderThread's worker: opens the filesystem read-only (no lock: the writer keeps writing),
// serves pullBlocks requests from its command queue into the output queue.
/** The fs reads every block into a fresh buffer: collect the dead ones after every `everyBytes` read (see collectEvery). */
function collectingGarbage(source: BlockSource, everyBytes: number): BlockSource {
  const moved = collectEvery(everyBytes);
  return {
    get nBlocks() {
      return source.nBlocks;
    },
    blocksize: source.blocksize,
    readBlock: (index, expectedSeq) => {
      moved(source.blocksize);
      return source.readBlock(index, expectedSeq);
    },
    close: () => source.close(),
  };
}

runWorker<ReaderWorkerData>(READER_COUNTERS, async (ctx) => {
  const output = FrameQueue.attach(ctx.data.output);
  const fsSource = await openReader(ctx.data.dirname);
  const budgetBytes = ctx.data.budgetBytes ?? DEFAULT_BUDGET_BLOCKS * fsSource.blocksize;
  const source = collectingGarbage(fsSource, 2 * budgetBytes);
  const hooks = {
    // Waits (Atomics.wait) while the consumer is behind; a closed output or a stop request ends the request.
    deliver: (entry: QueueEntry) => {
      publish(); // the counters (heldBytes among them) stay current during a long request
      return output.pushEntry(entry, ctx.stopping);
    },
    expired: (block: ExpiredBlock) => ctx.emit('expired', block),
    log: (message: string) => ctx.emit('log', message),
    report: (map: Array<[number, number]>, command: ThreadCommand) => ctx.answer(command, map),
  };
  const core = new ReaderCore(source, hooks, { blocksize: source.blocksize, budgetBytes });
  function publish(): void {
    for (const name of READER_COUNTERS) ctx.setCounter(name, core.counts[name]);
  }
  ctx.ready();
  await runLoop(ctx, {
    command: async (command) => {
      if (command.type === 'pullBlocks' && (output.closed || ctx.stopping())) return; // stopping: nobody will get these frames
      await core.command(command);
      publish();
    },
  });
  await source.close();
  publish();
});
