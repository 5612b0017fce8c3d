import { openWriter } from '../fs-open.js';
import { runLoop, runWorker } from '../thread/worker-runtime.js';
import { WriterCore } from '../writer/writer-core.js';
import { WRITER_COUNTERS, type WriterWorkerData } from '../writer/writer-thread.js';

// The ValkkaFSWriterThread's worker: opens the filesystem here (so the writer lock belongs to this worker),
// then writes what its input queue carries until a stop command, and closes the writer so all is durable.
runWorker<WriterWorkerData>(WRITER_COUNTERS, async (ctx) => {
  const fs = await openWriter(ctx.data.dirname, (block) => {
    ctx.count('blocks');
    ctx.emit('block', block);
  });
  const core = new WriterCore(
    fs.sink,
    (message) => ctx.emit('log', message),
    (map) => ctx.emit('slotIds', map),
  );
  const publish = (): void => {
    ctx.setCounter('written', core.counts.written);
    ctx.setCounter('writtenBytes', core.counts.writtenBytes);
    ctx.setCounter('unmapped', core.counts.unmapped);
  };
  ctx.ready();
  let lastFlush = performance.now();
  await runLoop(ctx.input, {
    frame: (frame) => core.frame(frame),
    command: (command) => core.command(command),
    tickMs: 50,
    tick: async () => {
      publish();
      if (performance.now() - lastFlush >= fs.flushIntervalMs) {
        lastFlush = performance.now();
        await fs.sink.flush();
      }
    },
  });
  await fs.sink.close();
  publish();
});
