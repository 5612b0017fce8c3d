import { PlaybackClock } from '../cacher/playback-clock.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { STOP_COMMAND } from '../thread/protocol.js';
import { collectEvery } from '../thread/collect.js';
import { runWorker, type WorkerContext } from '../thread/worker-runtime.js';
import { FileSourceCore } from './file-source-core.js';
import { FILE_SOURCE_COUNTERS, type FileSourceWorkerData } from './file-source-thread.js';
import { ClipFeed } from './clip-feed.js';

/** Longest sleep, so a stop command (or a manual clock moved by a test) is noticed soon. */
const MAX_SLEEP_MS = 20;
/** Frame bytes between two garbage collections (see collectEvery). */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

// FileSourceThread's worker: opens the clip (a bad file fails start()), then paces its frames into the output.
// The file is streamed (a few MiB read ahead), so memory does not grow with the file's size or the loops.
runWorker<FileSourceWorkerData>(FILE_SOURCE_COUNTERS, async (ctx) => {
  const output = FrameQueue.attach(ctx.data.output);
  const clock = PlaybackClock.attach(ctx.data.clock);
  const { source } = ctx.data;
  const loops = source.loop === false ? (source.loops ?? 1) : Infinity;
  const feed = await ClipFeed.open(ctx.data.path, ctx.data.load, loops);
  try {
    await play(ctx, feed, new FileSourceCore(feed, clock, source), output, clock);
  } finally {
    await feed.close();
  }
});

async function play(ctx: WorkerContext<FileSourceWorkerData>, feed: ClipFeed, core: FileSourceCore, output: FrameQueue, clock: PlaybackClock): Promise<void> {
  let frames = 0;
  let bytes = 0;
  const moved = collectEvery(COLLECT_EVERY_BYTES);
  core.start(); // before ready(): the owner may move a manual clock as soon as start() resolves
  ctx.ready();
  for (;;) {
    for (let c = ctx.commands.pop(); c; c = ctx.commands.pop()) {
      if (c.kind === 'command' && c.command.type === STOP_COMMAND) return;
    }
    for (const frame of core.pull()) {
      if (!output.pushFrame(frame, ctx.stopping) && (output.closed || ctx.stopping())) return; // the consumer has gone, or a stop
      frames++;
      bytes += frame.payload.byteLength;
      moved(frame.payload.byteLength);
    }
    ctx.setCounter('frames', frames);
    ctx.setCounter('bytes', bytes);
    ctx.setCounter('position', core.position);
    if (core.done) {
      ctx.emit('end', { frames });
      return;
    }
    if (ctx.commands.closed) return;
    if (feed.wantsMore) await feed.fill();
    if (core.nextWakeAt() <= clock.now()) continue; // more is due already (a batch was full, or the read-ahead ran dry)
    await ctx.commands.waitForData(Math.min(MAX_SLEEP_MS, Math.max(1, core.nextWakeAt() - clock.now())));
  }
}
