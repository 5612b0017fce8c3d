import { FrameQueue } from '../queue/frame-queue.js';
import { collectEvery } from '../thread/collect.js';
import { STOP_COMMAND } from '../thread/protocol.js';
import { runWorker } from '../thread/worker-runtime.js';
import { LiveCamera } from './live-camera.js';
import { LIVE_COUNTERS, type LiveCameraConfig, type LiveWorkerData } from './live-thread.js';
import { setReadBatchMs } from './rtsp-session.js';

/** Frame bytes between two full garbage collections: dead read buffers and payloads never pile up (see collectEvery). */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;

// LiveThread's worker: cameras run on this worker's event loop; commands come through the input queue.
runWorker<LiveWorkerData>(LIVE_COUNTERS, async (ctx) => {
  const moved = collectEvery(COLLECT_EVERY_BYTES);
  setReadBatchMs(ctx.data.readBatchMs);
  const outputs = ctx.data.outputs.map((b) => FrameQueue.attach(b));
  const cameras = new Map<string, LiveCamera>();
  const totals = { frames: 0, bytes: 0, drops: 0 };
  const publish = (): void => {
    ctx.setCounter('cameras', cameras.size);
    ctx.setCounter('frames', totals.frames);
    ctx.setCounter('bytes', totals.bytes);
    ctx.setCounter('drops', totals.drops);
    ctx.emit('stats', [...cameras.values()].map((c) => c.stats()));
  };
  const add = (config: LiveCameraConfig): void => {
    if (cameras.has(config.name)) {
      ctx.emit('log', `camera ${config.name} is already recorded: refused`);
      return;
    }
    const output = outputs[config.output ?? 0]!;
    const camera = new LiveCamera(config, {
      onFrame: (frame) => {
        // Never waits: a camera cannot be paused, and one slow writer must not hold the other cameras up.
        moved(frame.payload.byteLength);
        if (output.pushFrameOrDrop(frame)) {
          totals.frames++;
          totals.bytes += frame.payload.length;
        } else totals.drops++;
      },
      onLog: (message) => ctx.emit('log', message),
      onState: (state, error) => ctx.emit('camera', { name: config.name, state, ...(error ? { error: { code: error.code, message: error.message } } : {}) }),
    });
    cameras.set(config.name, camera);
    camera.start();
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all([...cameras.values()].map((c) => c.stop()));
    publish();
  };
  ctx.ready();
  let nextStats = performance.now() + ctx.data.statsIntervalMs;
  for (;;) {
    for (let e = ctx.commands.pop(); e; e = ctx.commands.pop()) {
      if (e.kind !== 'command') continue;
      const c = e.command;
      if (c.type === STOP_COMMAND) return stopAll();
      if (c.type === 'addCamera') add(c.camera as LiveCameraConfig);
      else if (c.type === 'removeCamera') {
        const camera = cameras.get(String(c.name));
        cameras.delete(String(c.name));
        await camera?.stop();
      } else ctx.emit('log', `unknown command ${c.type}: ignored`);
    }
    if (ctx.commands.closed) return stopAll();
    const now = performance.now();
    if (now >= nextStats) {
      nextStats = now + ctx.data.statsIntervalMs;
      publish();
    }
    await ctx.commands.waitForData(Math.max(1, Math.min(250, nextStats - now)));
  }
});
