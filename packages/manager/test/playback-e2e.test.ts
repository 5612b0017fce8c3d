import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, ValkkaFS } from '@valkka/fs';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { PlaybackClock, type SetupFrame, type SlotFrame } from '@valkka/threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValkkaFSManager } from '../src/index.js';
import { CLIP_FRAMES, decodedNumbers, expectedAt, FRAME_MS, framesOnDisk, openAll, record, type StreamSpec, tempDir } from './helpers.js';

// Four recorded cameras (GOPs of 1 s and 2 s, one H.265; holes at different times, one hole they all share, one
// starting late) in two ValkkaSingleFS and one ValkkaMultiFS; the first ring wraps. One manager plays them all on a
// manual clock: seeks show the exact frame (read from the pixels), play at 1x, 4x and -1x misses, repeats and
// reorders nothing, and every frame goes out at its instant on the shared clock.

const why = skipReason('manager end to end', [[hasCommand('ffmpeg', ['-version']), 'ffmpeg not installed']]);
const T0 = 1_700_000_000_000;
const END = T0 + 40_000;
const HOLE_MS = 1000;
/** Where all four streams are in a hole: [33 s, 36 s). */
const COMMON = { afterMs: 33_000, lengthMs: 3000 };

const STREAMS: Record<'a' | 'b' | 'c' | 'd', StreamSpec> = {
  a: { id: 1, clip: 'h264-baseline-gop1s.h264', start: T0, holes: [{ afterMs: 22_000, lengthMs: 3000 }, COMMON] },
  b: { id: 2, clip: 'h264-high-gop2s.h264', start: T0, holes: [{ afterMs: 20_000, lengthMs: 6000 }, COMMON] },
  c: { id: 3, clip: 'h265-gop1s.h265', start: T0 + 7000, holes: [{ afterMs: COMMON.afterMs - 7000, lengthMs: 3000 }] },
  d: { id: 4, clip: 'h264-baseline-gop1s.mp4', start: T0 + 20, holes: [{ afterMs: 5000, lengthMs: 2000 }, { afterMs: COMMON.afterMs - 20, lengthMs: 3000 }] },
};

interface Got {
  frame: SlotFrame;
  /** Clock time when it reached the output. */
  at: number;
  /** Its instant on the shared timeline (Infinity while paused: a seek burst). */
  due: number;
}

describe.skipIf(why)('ValkkaFSManager end to end: four cameras, two Single and one Multi filesystem, one clock', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let filesystems: ValkkaFS[];
  let manager: ValkkaFSManager;
  const clock = PlaybackClock.manual(0);
  const truth = new Map<number, Frame[]>();
  const got = new Map<number, Got[]>();
  const setups: SetupFrame[] = [];
  const fsErrors: unknown[] = [];

  beforeAll(async () => {
    tmp = await tempDir();
    const dirs = [join(tmp.dir, 'a'), join(tmp.dir, 'b'), join(tmp.dir, 'm')];
    await record(dirs[0]!, 'single', { blocksize: 64 * 1024, nBlocks: 12 }, [STREAMS.a], END); // wraps
    await record(dirs[1]!, 'single', { blocksize: 32 * 1024, nBlocks: 16 }, [STREAMS.b], END);
    await record(dirs[2]!, 'multi', { blocksize: 64 * 1024, nBlocks: 32 }, [STREAMS.c, STREAMS.d], END);
    for (const d of dirs) for (const [id, frames] of await framesOnDisk(d)) truth.set(id, frames);
    filesystems = await openAll(dirs);
    manager = new ValkkaFSManager(filesystems, { clock, holeMs: HOLE_MS });
    manager.on('fsError', (e) => fsErrors.push(e));
    if (process.env.DBG) manager.on('timeLimits', (r) => console.log('limits', clock.now(), manager.clock.streamTime() - T0, r && [r[0] - T0, r[1] - T0]));
    const [fa, fb, fm] = filesystems as [ValkkaFS, ValkkaFS, ValkkaFS];
    for (const [fs, s, slot] of [[fa, STREAMS.a, 11], [fb, STREAMS.b, 12], [fm, STREAMS.c, 13], [fm, STREAMS.d, 14]] as const) {
      got.set(s.id, []);
      await manager.map({
        valkkafs: fs,
        id: s.id,
        readSlot: slot,
        output: {
          frame: (frame) => got.get(s.id)!.push({ frame, at: clock.now(), due: clock.clockTimeOf(frame.timestamp) }),
          setup: (setup) => setups.push(setup),
        },
      });
    }
    await manager.start();
  });

  afterAll(async () => {
    await manager?.close();
    for (const fs of filesystems ?? []) await fs.close();
    await tmp?.remove();
  });

  const take = (): Map<number, Got[]> => {
    const out = new Map([...got].map(([id, list]) => [id, list.splice(0)]));
    return out;
  };

  it('the recording is what the test needs: the first ring wrapped, holes where planned', () => {
    const a = truth.get(1)!;
    expect(a[0]!.timestamp).toBeGreaterThan(T0 + 2000); // the oldest blocks of the first ring were overwritten
    expect(filesystems[0]!.blockTable.usedCount).toBeGreaterThanOrEqual(10);
    for (const [id, frames] of truth) {
      expect(frames.some((f) => f.timestamp >= T0 + 33_000 && f.timestamp < T0 + 36_000), `stream ${id} in the common hole`).toBe(false);
    }
    expect(truth.get(3)![0]!.timestamp).toBe(T0 + 7000);
    expect(manager.getTimeRange()).toEqual([T0, expect.any(Number)]);
    expect(manager.getTimeRange()![1]).toBeGreaterThanOrEqual(END - FRAME_MS);
  });

  it('every seek shows each stream its exact frame at the target (read from the pixels), or reports no data', async () => {
    const DECODED = new Set([5013, 26_020, 39_960]); // decoded with ffmpeg (all are checked by timestamp)
    const offsets = [-5000, 0, 39, 1000, 5013, 6000, 7000, 8040, 13_337, 20_000, 22_500, 24_000, 26_020, 34_000, 36_000, 39_960, 45_000];
    for (const offset of offsets) {
      const t = T0 + offset;
      take();
      const t1 = performance.now();
      const result = await manager.seek(t);
      if (process.env.DBG) console.log('seek', offset, (performance.now() - t1).toFixed(1));
      const bursts = take();
      for (const [id, frames] of truth) {
        const want = expectedAt(frames, t, HOLE_MS);
        const shown = result.streams.find((s) => s.id === id)!;
        const burst = bursts.get(id)!.map((g) => g.frame);
        expect(shown.timestamp, `seek ${offset}, stream ${id}`).toBe(want?.timestamp ?? null);
        if (!want) {
          expect(burst.filter((f) => f.timestamp <= t && t - f.timestamp <= HOLE_MS), `seek ${offset}, stream ${id}: nothing shown`).toEqual([]);
          continue;
        }
        expect(burst[0]!.flags & 1, `seek ${offset}, stream ${id}: the burst starts at a key frame`).toBe(1);
        expect(burst[burst.length - 1]!.timestamp).toBe(want.timestamp);
        if (!DECODED.has(offset)) continue;
        const numbers = await decodedNumbers(burst, join(tmp.dir, `seek-${offset}-${id}`));
        expect(numbers.length, `seek ${offset}, stream ${id}: every frame of the burst decodes`).toBe(burst.length);
        const spec = Object.values(STREAMS).find((s) => s.id === id)!;
        expect(numbers[numbers.length - 1], `seek ${offset}, stream ${id}: the picture at the target`).toBe(((want.timestamp - spec.start) / FRAME_MS) % CLIP_FRAMES);
      }
    }
    expect(fsErrors).toEqual([]);
  });

  /** Advances the manual clock by stepMs at a time, letting the manager send what is due, while `more()` says so. */
  async function advance(stepMs: number, more: () => boolean, maxSteps = 4000): Promise<void> {
    for (let i = 0; i < maxSteps && more(); i++) {
      clock.advance(stepMs);
      await manager.sync();
    }
  }

  /** What play from a shown position at t must send of a stream up to `end`: every recorded frame after t (key frames only when keyOnly); a stream not shown at t starts at a key frame. */
  function expectedForward(frames: Frame[], t: number, end: number, keyOnly: boolean): number[] {
    let list = frames.filter((f) => f.timestamp > t && f.timestamp <= end);
    if (keyOnly) list = list.filter((f) => f.flags & 1);
    else if (!expectedAt(frames, t, HOLE_MS)) list = list.slice(Math.max(0, list.findIndex((f) => f.flags & 1)));
    return list.map((f) => f.timestamp);
  }

  /** Every frame went out at its instant on the shared clock (the schedule of all streams is one: skew 0..1 ms). */
  function expectOnTime(list: Got[], what: string): void {
    const late = list.filter((g) => !(g.at - g.due >= 0 && g.at - g.due <= 1));
    if (process.env.DBG) console.log(what, late.length, list.length, late.slice(0, 40).map((g) => `${g.frame.timestamp - T0}:${g.at - g.due}`).join(' '));
    expect(late.slice(0, 3).map((g) => ({ ts: g.frame.timestamp - T0, late: g.at - g.due })), `${what}: frames off their instant`).toEqual([]);
  }

  for (const [rate, stepMs, from, keyOnly] of [[1, 20, 12_000, false], [4, 5, 14_000, true]] as const) {
    it(`plays at ${rate}x across block edges, holes, the shared hole and the ring's wrap: nothing missed, repeated or out of order, on time`, async () => {
      const t = T0 + from;
      await manager.seek(t);
      take();
      const skips: unknown[] = [];
      const onSkip = (e: unknown): void => void skips.push(e);
      manager.on('skip', onSkip);
      await manager.play({ rate });
      await manager.sync();
      await advance(stepMs, () => manager.getCurrentTime()! < END + 200);
      await manager.stop();
      manager.off('skip', onSkip);
      const played = take();
      expect(skips.length, 'the shared hole was skipped').toBeGreaterThanOrEqual(1);
      for (const [id, frames] of truth) {
        const list = played.get(id)!;
        expect(list.map((g) => g.frame.timestamp), `${rate}x, stream ${id}`).toEqual(expectedForward(frames, t, END, keyOnly));
      }
      if (process.env.DBG) console.log('cacher lateness', JSON.stringify((manager as any).cacher.lateness()));
      if (process.env.DBG) for (const [id] of truth) try { expectOnTime(played.get(id)!, `${rate}x, stream ${id}`); } catch {}
      for (const [id] of truth) expectOnTime(played.get(id)!, `${rate}x, stream ${id}`);
      await manager.setRate(1);
    });
  }

  it('plays at -1x: whole GOPs in reverse order, each in decode order, each at the instant of its newest frame', async () => {
    const t = T0 + 39_000;
    const end = T0 + 10_000;
    await manager.seek(t);
    take();
    await manager.play({ rate: -1 });
    await manager.sync(); // the GOP holding t is due at once
    await advance(20, () => manager.getCurrentTime()! > end);
    await manager.stop();
    const played = take();
    for (const [id, frames] of truth) {
      const list = played.get(id)!;
      const gops: Got[][] = [];
      for (const g of list) {
        if (g.frame.flags & 1 || gops.length === 0) gops.push([]);
        gops[gops.length - 1]!.push(g);
      }
      // Reversed, the GOPs are the recording itself: one contiguous run of recorded frames, ending at the frame shown at t.
      const forward = gops.slice().reverse().flat().map((g) => g.frame.timestamp);
      const index = new Map(frames.map((f, i) => [f.timestamp, i]));
      const first = index.get(forward[0]!)!;
      expect(forward, `-1x, stream ${id}: the GOPs reversed are the recording`).toEqual(frames.slice(first, first + forward.length).map((f) => f.timestamp));
      expect(forward[forward.length - 1], `-1x, stream ${id}: starts at the frame shown at t`).toBe(expectedAt(frames, t, HOLE_MS)?.timestamp);
      // Nothing left out at the far end: the GOP before the oldest one sent was not due yet (its newest frame is before where play stopped).
      if (first > 0) expect(frames[first - 1]!.timestamp, `-1x, stream ${id}: every GOP due down to ${end - T0} was sent`).toBeLessThan(end);
      for (const gop of gops) {
        expect(gop[0]!.frame.flags & 1, `-1x, stream ${id}: a GOP starts at its key frame`).toBe(1);
        const newest = gop[gop.length - 1]!;
        if (process.env.DBG && newest.at - newest.due > 1) console.log('late gop', id, gop[0]!.frame.timestamp - T0, newest.frame.timestamp - T0, newest.at, newest.due, gop.length);
        expect(newest.at - newest.due, `-1x, stream ${id}: GOP ${gop[0]!.frame.timestamp - T0} goes out at its newest frame's instant`).toBeGreaterThanOrEqual(0);
        expect(newest.at - newest.due).toBeLessThanOrEqual(1);
      }
    }
    await manager.setRate(1);
  });

  it('steps one frame forward and back on the streams\' one timeline', async () => {
    const t = T0 + 18_000;
    await manager.seek(t);
    take();
    const stepped = async (direction: 1 | -1): Promise<number[]> => {
      await manager.step(direction);
      return [...take().values()].flat().map((g) => g.frame.timestamp - T0).sort((a, b) => a - b);
    };
    expect(await stepped(1)).toEqual([18_020]); // the next frame of any stream: the one with the offset clock
    expect(manager.getCurrentTime()).toBe(T0 + 18_020);
    expect(await stepped(1)).toEqual([18_040, 18_040, 18_040]);
    // Back: a seek to the previous frame time, each stream from its key frame up to its frame at that time.
    const back = await stepped(-1);
    expect(manager.getCurrentTime()).toBe(T0 + 18_020);
    expect(back.filter((ts) => ts > 18_020)).toEqual([]);
    expect(back).toContain(18_020);
    expect(back.filter((ts) => ts === 18_000).length).toBe(3);
  });

  it('a burst of seeks (scrubbing): those overtaken resolve as superseded, the last shows its exact frames', async () => {
    const targets = [10_000, 11_000, 12_000, 13_000, 14_040].map((o) => T0 + o);
    const results = await Promise.all(targets.map((t) => manager.seek(t)));
    expect(results.slice(1, -1).map((r) => r.superseded)).toEqual([true, true, true]); // the first ran at once
    const last = results[results.length - 1]!;
    expect(last.superseded).toBeUndefined();
    for (const s of last.streams) expect(s.timestamp, `stream ${s.id}`).toBe(expectedAt(truth.get(s.id)!, last.time, HOLE_MS)?.timestamp ?? null);
    expect(manager.getCurrentTime()).toBe(T0 + 14_040);
  });

  it('recorded ranges per stream and global over a window: every recorded frame lies in its stream ranges, the global range is their union', async () => {
    const window: [number, number] = [T0 + 3000, T0 + 30_000];
    const { streams, global } = await manager.recordedRanges(window);
    for (const { id, ranges } of streams) {
      for (const f of truth.get(id)!) {
        if (f.timestamp < window[0] || f.timestamp > window[1]) continue;
        expect(ranges.some(([a, b]) => a <= f.timestamp && f.timestamp <= b), `stream ${id}, frame ${f.timestamp - T0}`).toBe(true);
      }
      for (const [a, b] of ranges) expect(a >= window[0] && b <= window[1] && a <= b).toBe(true);
    }
    expect(streams.find((s) => s.id === 3)!.ranges[0]![0]).toBe(T0 + 7000); // the late camera starts at 7 s
    const union = streams.flatMap((s) => s.ranges).sort((a, b) => a[0] - b[0]);
    expect(global[0]![0]).toBe(union[0]![0]);
    expect(global[global.length - 1]![1]).toBe(Math.max(...union.map((r) => r[1])));
  });

  it('a damaged filesystem is reported as an event; the streams of the others still show', async () => {
    const errors: unknown[] = [];
    manager.on('fsError', (e) => errors.push(e));
    const dumpfile = join(filesystems[1]!.dirname, 'dumpfile');
    const fd = await open(dumpfile, 'r+');
    await fd.write(Buffer.alloc(32 * 1024 * 16, 0x5a), 0, 32 * 1024 * 16, 0); // every block of it
    await fd.close();
    await manager.seek(T0 + 2000); // what is cached now is far from t
    const t = T0 + 30_000;
    const result = await manager.seek(t);
    expect(errors.length, 'fsError events').toBeGreaterThan(0);
    for (const s of result.streams) {
      if (s.valkkafs === filesystems[1]) expect(s.timestamp, 'the damaged one shows nothing').toBeNull();
      else expect(s.timestamp, `stream ${s.id} shows its frame`).toBe(expectedAt(truth.get(s.id)!, t, HOLE_MS)!.timestamp);
    }
  });
});
