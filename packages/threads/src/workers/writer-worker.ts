import { openWriter } from '../fs-open.js';
import { collectEvery } from '../thread/collect.js';
import { runLoop, runWorker } from '../thread/worker-runtime.js';
import { WriterCore } from '../writer/writer-core.js';
import { WRITER_COUNTERS, type WriterWorkerData } from '../writer/writer-thread.js';

// The ValkkaFSWriterThread's worker: opens the filesystem here (so the writer lock belongs to this worker),
// then writes what its input queue carries until a stop command, and closes the writer so all is durable.
// The fs flushes the open block on its own interval.
/** Frame bytes between two garbage collections (see collectEvery). */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

runWorker<WriterWorkerData>(WRITER_COUNTERS, async (ctx) => {
  const sink = await openWriter(ctx.data.dirname, (block) => {
    ctx.count('blocks');
    ctx.emit('block', block);
  });
  const core = new WriterCore(
    sink,
    (message) => ctx.emit('log', message),
    (map, command) => ctx.answer(command, map),
  );
  const publish = (): void => {
    ctx.setCounter('written', core.counts.written);
    ctx.setCounter('writtenBytes', core.counts.writtenBytes);
    ctx.setCounter('unmapped', core.counts.unmapped);
    ctx.setCounter('tooLarge', core.counts.tooLarge);
    ctx.setCounter('wrongStream', core.counts.wrongStream);
  };
  const moved = collectEvery(COLLECT_EVERY_BYTES);
  ctx.ready();
  await runLoop(ctx, {
    frame: (frame) => {
      moved(frame.payload.byteLength);
      return core.frame(frame);
    },
    command: (command) => core.command(command),
    tickMs: 50,
    tick: publish,
  });
  await sink.close();
  publish();
});
