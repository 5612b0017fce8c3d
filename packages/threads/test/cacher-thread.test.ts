import { afterEach, describe, expect, it } from 'vitest';
import { FileCacherThread } from '../src/cacher/cacher-thread.js';
import { PlaybackClock } from '../src/cacher/playback-clock.js';
import { FrameQueue } from '../src/queue/frame-queue.js';
import type { QueueEntry } from '../src/slot-frame.js';
import { frame } from './fixtures/cacher-harness.js';

// These run the built worker (dist/workers/cacher-worker.js): `pnpm --filter @valkka/threads build` first.

const T0 = 5_000_000;
const threads: FileCacherThread[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

function transmission(queue: FrameQueue, slot: number, from: number, to: number, request: number): void {
  queue.pushMarker({ type: 'start', timestamp: from, request });
  for (let ts = from; ts <= to; ts += 1000) queue.pushFrame(frame(slot, ts, ((ts - 1000) / 1000) % 4 === 0));
  queue.pushMarker({ type: 'end', timestamp: to, request });
}

/** Pops the output until `count` entries came (frames and setup commands). */
async function take(queue: FrameQueue, count: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const entry: QueueEntry | undefined = await queue.popAsync(5000);
    if (!entry) throw new Error(`output: only ${JSON.stringify(out)} within 5 s`);
    if (entry.kind === 'frame') out.push(`${entry.frame.slot}:${entry.frame.timestamp}`);
    else if (entry.kind === 'command') {
      const c = entry.command as { type: string; slot: number; state?: string };
      out.push(c.type === 'stream_init' ? `init:${c.slot}` : `${c.state}:${c.slot}`);
    }
  }
  return out;
}

describe('FileCacherThread (worker)', () => {
  it('seeks, bursts to the target, plays on a manual clock and reports time and limits', async () => {
    const clock = PlaybackClock.manual(T0);
    const input = FrameQueue.create({ capacity: 1 << 20 });
    const cacher = new FileCacherThread({ input, clock });
    threads.push(cacher);
    const limits = new Promise((resolve) => cacher.once('limits', resolve));
    await cacher.start();
    await cacher.registerSlot(2);
    await cacher.seek(7900);
    transmission(input, 2, 1000, 40000, 1);
    expect(await take(cacher.output, 6)).toEqual(['seek:2', 'init:2', '2:5000', '2:6000', '2:7000', 'stop:2']);
    expect(await limits).toEqual({ type: 'limits', limits: { min: 1000, max: 40000 }, truncated: false });

    const states: string[] = [];
    cacher.on('state', (e: { state: string }) => states.push(e.state));
    await cacher.play();
    await cacher.sync(); // handled: the timeline is anchored now
    expect(states.at(-1)).toBe('play');
    expect(await take(cacher.output, 1)).toEqual(['play:2']);
    // Time events come at least every 100 ms of clock time: one of them reports the new stream time. Listen before
    // the clock moves: the event (a message) may arrive before the frames are popped, and the clock then stands still.
    const reported = new Promise<void>((resolve) => {
      const listener = (e: { streamTime: number | null }) => {
        if (e.streamTime !== 10000) return;
        cacher.off('time', listener);
        resolve();
      };
      cacher.on('time', listener);
    });
    clock.advance(2100);
    expect(await take(cacher.output, 2)).toEqual(['2:8000', '2:9000']);
    await reported;
    expect(await take(cacher.output, 1)).toEqual(['2:10000']);
    // 8000 was due 100 ms after the play, 9000 at 1100 ms, 10000 at 2100 ms: all three went out at 2100 ms.
    expect(cacher.lateness()).toMatchObject({ count: 3, p99: 2000, max: 2000 });
    await cacher.stop();
    expect(await take(cacher.output, 1)).toEqual(['stop:2']);
    // A bad argument is reported and the cacher goes on.
    const log = new Promise<string>((resolve) => cacher.once('log', resolve));
    await cacher.setRate(100);
    expect(await log).toMatch(/setRate: playback rate must be between/);
    await cacher.step(1);
    expect(await take(cacher.output, 1)).toEqual(['2:11000']);
    expect(cacher.counters()).toMatchObject({ transmissions: 1 });
  });

  it('two cacher workers on one shared clock play the same stream times together', async () => {
    const clock = PlaybackClock.manual(T0);
    const inputs = [FrameQueue.create({ capacity: 1 << 20 }), FrameQueue.create({ capacity: 1 << 20 })];
    const cachers = inputs.map((input, i) => new FileCacherThread({ input, clock: PlaybackClock.attach(clock.buffer), name: `c${i}` }));
    threads.push(...cachers);
    await Promise.all(cachers.map((c) => c.start()));
    for (const [i, c] of cachers.entries()) {
      await c.registerSlot(i + 1);
      await c.seek(20000);
      transmission(inputs[i]!, i + 1, 1000, 60000, 1);
      expect(await take(c.output, 7)).toEqual([`seek:${i + 1}`, `init:${i + 1}`, ...[17000, 18000, 19000, 20000].map((t) => `${i + 1}:${t}`), `stop:${i + 1}`]);
    }
    await cachers[0]!.play();
    expect(await take(cachers[0]!.output, 1)).toEqual(['play:1']); // the worker anchored the timeline at T0
    clock.advance(500);
    await cachers[1]!.play(); // later: follows the running timeline instead of starting its own
    expect(await take(cachers[1]!.output, 1)).toEqual(['play:2']);
    // Step the clock frame by frame: at each instant both must send exactly the frame of that stream time.
    for (let k = 1; k <= 5; k++) {
      clock.setNow(T0 + k * 1000);
      const [a, b] = await Promise.all(cachers.map((c) => take(c.output, 1)));
      expect([a, b]).toEqual([[`1:${20000 + k * 1000}`], [`2:${20000 + k * 1000}`]]);
    }
    // Each frame went out at its exact instant on the (manual) clock: no emission lateness.
    for (const c of cachers) expect(c.lateness()).toEqual({ count: 5, p50: 0, p99: 0, max: 0 });
  });

  it('pipeTo hands frames to a FrameFilter and SetupFrames to a callback until the thread stops', async () => {
    const input = FrameQueue.create({ capacity: 1 << 20 });
    const cacher = new FileCacherThread({ input, clock: PlaybackClock.manual(T0) });
    await cacher.start();
    const got: string[] = [];
    const piped = cacher.pipeTo({
      frame: (f) => got.push(String(f.timestamp)),
      setup: (s) => got.push(s.type === 'stream_init' ? 'init' : s.state),
    });
    await cacher.registerSlot(3);
    const limits = new Promise((resolve) => cacher.once('limits', resolve));
    transmission(input, 3, 1000, 20000, 1);
    await limits;
    await cacher.seek(10000); // the stop command that close() sends comes after it
    await cacher.close();
    await piped;
    expect(got).toEqual(['seek', 'init', '9000', '10000', 'stop']);
  });
});
