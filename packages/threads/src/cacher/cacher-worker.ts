import { FrameQueue } from '../queue/frame-queue.js';
import type { QueueEntry, ThreadCommand } from '../slot-frame.js';
import { STOP_COMMAND } from '../thread/protocol.js';
import { runWorker } from '../thread/worker-runtime.js';
import { CacherCore } from './cacher-core.js';
import { CACHER_COUNTERS, type CacherCommand, type CacherWorkerData } from './cacher-thread.js';
import { LatenessHistogram } from './lateness.js';
import { PlaybackClock } from './playback-clock.js';

/** Longest sleep: a shared clock may be changed by another cacher, and a manual clock by a test, at any time. */
const MAX_SLEEP_MS = 20;
/** While waiting, how often the reader's queue is looked at. */
const READER_POLL_MS = 5;
/** Reader entries handled before looking at commands and the clock again (small: a frame due meanwhile waits for the batch). */
const BATCH = 32;

// FileCacherThread's worker: reader frames in, commands in, frames out when the clock says so.
runWorker<CacherWorkerData>(CACHER_COUNTERS, async (ctx) => {
  const frames = FrameQueue.attach(ctx.data.frames);
  const output = FrameQueue.attach(ctx.data.output);
  const clock = PlaybackClock.attach(ctx.data.clock);
  const lateness = LatenessHistogram.attach(ctx.data.lateness);
  let sent = 0;
  let transmissions = 0;
  const core = new CacherCore(
    { clock, ...ctx.data.options },
    {
      frame: (f) => {
        const due = clock.clockTimeOf(f.timestamp); // Infinity when not playing (a seek burst): not measured
        if (due !== Infinity) lateness.record(clock.now() - due);
        output.pushFrame(f, ctx.stopping); // a consumer that stopped reading cannot hold up a stop
        sent++;
      },
      setup: (s) => {
        output.pushCommand(s, ctx.stopping);
      },
      event: (e) => ctx.emit(e.type, e),
      transmission: (n) => {
        if (ctx.data.notices) output.pushCommand(n as unknown as ThreadCommand, ctx.stopping);
      },
    },
  );
  const synced: CacherCommand[] = [];
  const handleCommand = (c: CacherCommand): void => {
    switch (c.type) {
      case 'registerSlot': return core.registerSlot(c.slot);
      case 'deregisterSlot': return core.deregisterSlot(c.slot);
      case 'seek': return core.seek(c.time);
      case 'playStreams': return core.playStreams();
      case 'stopStreams': return core.stopStreams();
      case 'setRate': return core.setRate(c.rate);
      case 'step': return core.step(c.direction);
      case 'clear': return core.clear();
      case 'sync': return void synced.push(c); // answered after the next run(): what is due now has gone out
    }
  };
  const handleReader = (entry: QueueEntry): void => {
    if (entry.kind === 'frame') core.addFrame(entry.frame);
    else if (entry.kind === 'marker' && entry.marker.type === 'start') core.beginTransmission();
    else if (entry.kind === 'marker') {
      core.endTransmission();
      transmissions++;
    }
  };

  ctx.ready();
  let waited: QueueEntry | undefined; // a command that arrived while sleeping
  for (;;) {
    let busy = false;
    for (let c = waited ?? ctx.commands.pop(); c; c = ctx.commands.pop()) {
      waited = undefined;
      busy = true;
      if (c.kind !== 'command') continue;
      if (c.command.type === STOP_COMMAND) return;
      try {
        handleCommand(c.command as CacherCommand);
      } catch (err) {
        ctx.emit('log', `${c.command.type}: ${(err as Error).message}`); // a bad argument must not kill playback
      }
    }
    core.run(); // what is due goes out before the reader's entries are taken in
    for (const c of synced.splice(0)) ctx.answer(c as unknown as ThreadCommand, true);
    for (let i = 0, e = frames.pop(); e; e = ++i < BATCH ? frames.pop() : undefined) {
      busy = true;
      handleReader(e);
    }
    ctx.setCounter('frames', sent);
    ctx.setCounter('transmissions', transmissions);
    ctx.setCounter('cachedBytes', core.bytes);
    if (ctx.commands.closed) return;
    if (busy) continue;
    const sleep = Math.min(MAX_SLEEP_MS, Math.max(0, core.nextWakeAt() - clock.now()));
    // A synchronous wait (futex) wakes on time far more precisely than timers; reader frames are polled meanwhile.
    if (sleep > 0) waited = ctx.commands.popWait(frames.closed ? sleep : Math.min(sleep, READER_POLL_MS));
  }
});
