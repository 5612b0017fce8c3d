import { PlaybackClock } from '../cacher/playback-clock.js';
import { FrameQueue } from '../queue/frame-queue.js';
import { STOP_COMMAND } from '../thread/protocol.js';
import { runWorker } from '../thread/worker-runtime.js';
import { FileSourceCore } from './file-source-core.js';
import { FILE_SOURCE_COUNTERS, type FileSourceWorkerData } from './file-source-thread.js';
import { loadClip } from './media-clip.js';

/** Longest sleep, so a stop command (or a manual clock moved by a test) is noticed soon. */
const MAX_SLEEP_MS = 20;

// FileSourceThread's worker: loads the clip (a bad file fails start()), then paces its frames into the output.
runWorker<FileSourceWorkerData>(FILE_SOURCE_COUNTERS, async (ctx) => {
  const output = FrameQueue.attach(ctx.data.output);
  const clock = PlaybackClock.attach(ctx.data.clock);
  const clip = await loadClip(ctx.data.path, ctx.data.load);
  const core = new FileSourceCore(clip, clock, ctx.data.source);
  let frames = 0;
  let bytes = 0;
  core.start(); // before ready(): the owner may move a manual clock as soon as start() resolves
  ctx.ready();
  for (;;) {
    for (let c = ctx.input.pop(); c; c = ctx.input.pop()) {
      if (c.kind === 'command' && c.command.type === STOP_COMMAND) return;
    }
    for (const frame of core.pull()) {
      if (!output.pushFrame(frame) && output.closed) return; // the consumer has gone
      frames++;
      bytes += frame.payload.byteLength;
    }
    ctx.setCounter('frames', frames);
    ctx.setCounter('bytes', bytes);
    ctx.setCounter('position', core.position);
    if (core.done) {
      ctx.emit('end', { frames });
      return;
    }
    if (ctx.input.closed) return;
    await ctx.input.waitForData(Math.min(MAX_SLEEP_MS, Math.max(1, core.nextWakeAt() - clock.now())));
  }
});
