import { FrameQueue } from '../queue/frame-queue.js';
import { runLoop, runWorker } from '../thread/worker-runtime.js';
import type { QueueEntry, ThreadCommand } from '../slot-frame.js';
import { type ExpiredBlock, ReaderCore } from './reader-core.js';
import { READER_COUNTERS } from './reader-thread.js';
import type { SharedReaderCommand, SharedReaderWorkerData } from './shared-reader-thread.js';
import { compositeOf, SharedSource } from './shared-source.js';

// SharedReaderThread's worker: one ReaderCore over several read-only filesystems (SharedSource).
runWorker<SharedReaderWorkerData>(READER_COUNTERS, async (ctx) => {
  const output = FrameQueue.attach(ctx.data.output);
  const source = new SharedSource(ctx.data.blocksize, (e) => ctx.emit('fsError', e));
  const hooks = {
    deliver: (entry: QueueEntry) => output.pushEntry(entry, ctx.stopping),
    expired: (block: ExpiredBlock) => ctx.emit('expired', block),
    log: (message: string) => ctx.emit('log', message),
    report: (map: Array<[number, number]>, command: ThreadCommand) => ctx.answer(command, map),
  };
  const core = new ReaderCore(source, hooks, { blocksize: ctx.data.blocksize, budgetBytes: ctx.data.budgetBytes });
  const publish = (): void => {
    for (const name of READER_COUNTERS) ctx.setCounter(name, core.counts[name]);
  };
  ctx.ready();
  await runLoop(ctx, {
    command: async (command) => {
      const c = command as SharedReaderCommand;
      switch (c.type) {
        case 'addFs':
          return source.add(c.key, c.dirname);
        case 'removeFs':
          return source.remove(c.key);
        case 'setSlotId':
          return core.command({ type: 'setSlotId', slot: c.slot, id: compositeOf(c.key, c.id) });
        case 'unsetSlotId':
          return core.command({ type: 'unsetSlotId', id: compositeOf(c.key, c.id) });
        case 'pullParts': {
          if (output.closed || ctx.stopping()) return;
          const blocks = c.parts.flatMap((p) => p.blocks.map((b) => compositeOf(p.key, b)));
          await core.command({ type: 'pullBlocks', blocks, request: c.request });
          publish();
          return;
        }
        default:
          ctx.emit('log', `unknown shared reader command ${JSON.stringify(command)} (ignored)`);
      }
    },
  });
  await source.close();
  publish();
});
