import { Codec, MediaType } from '@valkka/fs';
import { describe, expect, it } from 'vitest';
import { ThreadsError } from '../src/errors.js';
import { PlaybackClock } from '../src/cacher/playback-clock.js';
import { frame, Harness, runCoresUntil } from './fixtures/cacher-harness.js';

/** Frames of one slot at from, from+step, ..., to; a key frame wherever (ts - 1000) / 1000 is a multiple of 4 (1000, 5000, 9000...). */
function run(slot: number, from: number, to: number, step = 1000, payloadBytes = 16) {
  const frames = [];
  for (let ts = from; ts <= to; ts += step) {
    frames.push(frame(slot, ts, ((ts - 1000) / 1000) % 4 === 0, { payload: new Uint8Array(payloadBytes) }));
  }
  return frames;
}

const T0 = 1_000_000; // the manual clock's start

describe('CacherCore: the original cachestream scenarios (valkkafs-original.md 12.4)', () => {
  it('#17 lifecycle without data: nothing sent, no time known before play', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.core.deregisterSlot(2);
    h.core.seek(9000);
    h.runUntil(T0 + 500);
    expect(h.events('time').every((e) => e.streamTime === null)).toBe(true);
    h.core.playStreams();
    h.runUntil(T0 + 1500);
    h.core.stopStreams();
    h.runUntil(T0 + 2500);
    expect(h.frames()).toEqual([]);
    expect(h.setups()).toEqual([]);
    expect(h.core.currentState).toBe('stop');
  });

  it('#18 each transmission replaces the cache and reports its limits; empty and clear give null', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 5000));
    h.transmit(run(2, 9000, 20000));
    h.transmit([]);
    h.core.clear();
    expect(h.events('limits').map((e) => e.limits)).toEqual([{ min: 1000, max: 5000 }, { min: 9000, max: 20000 }, null, null]);
    expect(h.events('state').map((e) => e.state)).toEqual(['none']);

    // The first transmission is gone: a seek into it waits for data.
    h.transmit(run(2, 9000, 20000));
    const m = h.mark();
    h.core.seek(3000);
    expect(h.trace(m)).toEqual(['seek']);
    expect(h.core.streamTime()).toBeNull();
  });

  it('#19 seek before data: bursts from the key frame at or before the target, then stops there', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.core.seek(7900);
    expect(h.trace()).toEqual(['seek']);
    h.transmit(run(2, 1000, 106000));
    expect(h.trace()).toEqual(['seek', 'init:2/0', '5000', '6000', '7000', 'stop']);
    expect(h.events('state').map((e) => e.state)).toEqual(['seek', 'stop']);
    const m = h.mark();
    h.runUntil(T0 + 3000);
    expect(h.frames(m)).toEqual([]);
    const times = h.events('time', m).map((e) => e.streamTime);
    expect(times.length).toBeGreaterThanOrEqual(30);
    expect(new Set(times)).toEqual(new Set([7900]));
  });

  it('#20 a seek within the cache bursts at once; a seek outside waits for a covering transmission', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 106000));
    let m = h.mark();
    h.core.seek(60000);
    expect(h.trace(m)).toEqual(['seek', 'init:2/0', '57000', '58000', '59000', '60000', 'stop']);

    m = h.mark();
    h.core.seek(200500);
    h.runUntil(T0 + 1000);
    expect(h.trace(m)).toEqual(['seek']);
    expect(h.events('time', m).every((e) => e.streamTime === null)).toBe(true);
    h.transmit(run(2, 190000, 210000));
    expect(h.trace(m)).toEqual(['seek', 'init:2/0', '197000', '198000', '199000', '200000', 'stop']);
    expect(h.core.streamTime()).toBe(200500);
  });

  it('#21 plays in real time across a cache switch without gap or repeat; stop freezes; play re-anchors', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 40000));
    h.core.seek(26000);
    expect(h.timestamps()).toEqual([25000, 26000]);

    h.core.playStreams();
    let m = h.mark();
    h.runUntil(T0 + 10500);
    const played = h.frames(m);
    expect(played.map((f) => f.ts)).toEqual([27000, 28000, 29000, 30000, 31000, 32000, 33000, 34000, 35000, 36000]);
    for (const f of played) expect(f.at).toBe(T0 + (f.ts - 26000)); // each frame exactly on time

    // The next blocks arrive while playing (overlapping the current one, as the manager requests neighbours).
    h.transmit(run(2, 30000, 106000));
    h.runUntil(T0 + 20000);
    expect(h.timestamps()).toEqual(Array.from({ length: 22 }, (_, i) => 25000 + i * 1000)); // 25000..46000, once each
    expect(h.frames().every((f) => f.ts < 27000 || f.at === T0 + (f.ts - 26000))).toBe(true);

    h.core.stopStreams();
    expect(h.core.streamTime()).toBe(46000);
    m = h.mark();
    h.runUntil(T0 + 25000);
    expect(h.frames(m)).toEqual([]);
    expect(new Set(h.events('time', m).map((e) => e.streamTime))).toEqual(new Set([46000]));

    m = h.mark();
    h.core.playStreams();
    h.runUntil(T0 + 27000);
    expect(h.frames(m).map((f) => [f.ts, f.at])).toEqual([
      [47000, T0 + 26000],
      [48000, T0 + 27000],
    ]);
    expect(h.trace(m)).toEqual(['play', '47000', '48000']);
  });

  it('#22 several slots seek each to its own key frame and get their own stream_init (also per subsession)', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.core.registerSlot(3);
    const slot2 = run(2, 1000, 40000);
    // Slot 3: half a second later, key frames two frames out of phase with slot 2 (3500, 7500, 11500...).
    const slot3 = Array.from({ length: 40 }, (_, i) => frame(3, 1500 + i * 1000, i % 4 === 2));
    // Slot 2 audio (subsession 1): every packet is a key frame; it must not stand in for the video's key frame.
    const audio = Array.from({ length: 80 }, (_, i) =>
      frame(2, 1250 + i * 500, true, { subsession: 1, mediaType: MediaType.audio, codec: Codec.pcmMulaw }),
    );
    h.transmit([...slot2, ...slot3, ...audio].sort((a, b) => a.timestamp - b.timestamp));
    const m = h.mark();
    h.core.seek(10200);
    expect(h.trace(m)).toEqual([
      'seek', 'seek',
      'init:3/0', '7500', '8500',
      'init:2/0', '9000', '9500',
      'init:2/1', '9750',
      '10000', 'stop', 'stop',
    ]);
    expect(h.frames(m).filter((f) => f.slot === 2 && f.subsession === 0)[0]).toMatchObject({ ts: 9000, key: true });
  });

  it('#23 slot 0, unregistered slots and markers never go downstream', () => {
    const h = new Harness();
    expect(() => h.core.registerSlot(0)).toThrow(ThreadsError);
    h.core.registerSlot(2);
    h.transmit([...run(0, 1000, 9000), ...run(5, 1000, 9000), ...run(2, 1000, 9000)].sort((a, b) => a.timestamp - b.timestamp));
    h.core.seek(9000);
    h.core.playStreams();
    h.runUntil(T0 + 5000);
    expect(new Set(h.frames().map((f) => f.slot))).toEqual(new Set([2]));
    expect(h.setups().every((s) => s.slot === 2)).toBe(true);
  });
});

describe('CacherCore: rates, steps, holes', () => {
  const playFrom = (h: Harness, t: number, rate: number) => {
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 106000));
    h.core.seek(t);
    h.core.setRate(rate);
    h.core.playStreams();
    return h.mark();
  };

  it.each([1 / 8, 1 / 4, 1 / 2, 2, 3, 4])('plays at %sx: every frame at anchor + (ts - start) / rate', (rate) => {
    const h = new Harness();
    const m = playFrom(h, 26000, rate);
    h.runUntil(T0 + 8000);
    const played = h.frames(m);
    expect(played.length).toBe(Math.floor(8000 * rate / 1000));
    played.forEach((f, i) => {
      expect(f.ts).toBe(27000 + i * 1000);
      expect(f.at).toBeCloseTo(T0 + (f.ts - 26000) / rate, 6);
    });
  });

  it.each([8, 16, 32])('at %sx (above the default key-frame-only rate, 4x) only key frames go out, on time', (rate) => {
    const h = new Harness();
    const m = playFrom(h, 26000, rate);
    h.runUntil(T0 + 64000 / rate); // stream time 90000
    const played = h.frames(m);
    expect(played.map((f) => f.ts)).toEqual(Array.from({ length: 16 }, (_, i) => 29000 + i * 4000));
    for (const f of played) expect(f.at).toBeCloseTo(T0 + (f.ts - 26000) / rate, 6);
  });

  it('reverse play from a stop starts with the GOP holding the stop position, however late the thread reads the clock', () => {
    const clock = PlaybackClock.manual(T0);
    const anchor = clock.play.bind(clock);
    let preempted = 0;
    clock.play = (t?: number) => {
      anchor(t);
      clock.advance(5); // the thread loses the CPU right after anchoring the clock
      preempted++;
    };
    const h = new Harness(clock);
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 106000));
    h.core.seek(26000.5); // just after the frame at 26000, as the manager positions a reverse run
    h.core.setRate(-1);
    const m = h.mark();
    h.core.playStreams();
    h.runUntil(T0 + 9000);
    expect(preempted, 'the clock was anchored by play and moved before the cacher read it').toBe(1);
    // GOPs 25000..26000, then 21000..24000, then 17000..20000: whole, each in decode order, the first up to the position.
    expect(h.timestamps(m)).toEqual([25000, 26000, 21000, 22000, 23000, 24000, 17000, 18000, 19000, 20000]);
  });

  it('above the key-frame-only rate sends key frames only, and after slowing down waits for a key frame', () => {
    const h = new Harness();
    const m = playFrom(h, 26000, 32);
    h.runUntil(T0 + 400); // stream time 26000 + 12800
    expect(h.timestamps(m)).toEqual([29000, 33000, 37000]);
    h.core.setRate(1);
    h.runUntil(T0 + 400 + 5000); // stream time 43800
    expect(h.timestamps(m)).toEqual([29000, 33000, 37000, 41000, 42000, 43000]);
    expect(() => h.core.setRate(64)).toThrow(/between/);
    expect(() => h.core.setRate(1 / 16)).toThrow(ThreadsError);
  });

  it('steps one frame forward and one back', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.transmit(run(2, 1000, 106000));
    h.core.seek(7900);
    let m = h.mark();
    h.core.step(1);
    expect(h.trace(m)).toEqual(['8000']);
    h.core.step(1);
    expect(h.trace(m)).toEqual(['8000', '9000']);
    expect(h.core.streamTime()).toBe(9000);
    m = h.mark();
    h.core.step(-1);
    expect(h.trace(m)).toEqual(['seek', 'init:2/0', '5000', '6000', '7000', '8000', 'stop']);
    expect(h.core.streamTime()).toBe(8000);

    // From play, a step stops first.
    h.core.playStreams();
    h.runUntil(T0 + 2500); // 9000, 10000
    m = h.mark();
    h.core.step(1);
    expect(h.trace(m)).toEqual(['stop', '11000']);
    expect(h.core.currentState).toBe('stop');
  });

  it('a stream in a hole reports no data and rejoins at its next frame, exactly on time', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    h.core.registerSlot(3);
    const holey = [...run(2, 1000, 20000), ...Array.from({ length: 21 }, (_, i) => frame(2, 40000 + i * 1000, i % 4 === 0))];
    h.transmit([...holey, ...run(3, 1000, 60000)].sort((a, b) => a.timestamp - b.timestamp));
    h.core.seek(18000);
    h.core.playStreams();
    h.runUntil(T0 + 30000);
    const logged = h.log.filter((s) => s.kind === 'event' && (s.event.type === 'nodata' || s.event.type === 'data'));
    expect(logged.map((s) => (s.kind === 'event' ? s.event : null))).toEqual([
      { type: 'nodata', slot: 2, subsession: 0, since: 20000 },
      { type: 'data', slot: 2, subsession: 0, timestamp: 40000 },
    ]);
    expect(logged[0]!.at).toBeGreaterThan(T0 + 3000); // stream time 21000 = 20000 + holeMs
    expect(logged[0]!.at).toBeLessThanOrEqual(T0 + 3100); // within one report interval
    const rejoin = h.frames().find((f) => f.slot === 2 && f.ts === 40000)!;
    expect(rejoin.at).toBe(T0 + 22000);
    expect(h.timestamps(0, 3)).toEqual(Array.from({ length: 32 }, (_, i) => 17000 + i * 1000)); // burst 17000, 18000, then 19000..48000
  });

  it('after a hole that ends on a non-key frame, the stream waits for its next key frame', () => {
    const h = new Harness();
    h.core.registerSlot(2);
    // 1000..10000, then from 30000 with key frames at 32000, 36000...
    h.transmit([...run(2, 1000, 10000), ...Array.from({ length: 20 }, (_, i) => frame(2, 30000 + i * 1000, i % 4 === 2))]);
    h.core.seek(9000);
    h.core.playStreams();
    h.runUntil(T0 + 25000); // stream time 34000
    expect(h.timestamps()).toEqual([9000, 10000, 32000, 33000, 34000]);
  });
});

describe('CacherCore: memory budget', () => {
  const kB = 1000;

  it('never holds more than the budget, whatever the transmission size; with no target it keeps the newest', () => {
    const h = new Harness(undefined, { budgetBytes: 20 * kB });
    h.core.registerSlot(2);
    h.core.beginTransmission();
    for (const f of run(2, 1000, 106000, 1000, kB)) {
      h.core.addFrame(f);
      expect(h.core.bytes).toBeLessThanOrEqual(10 * kB); // a cache is half the budget
    }
    h.core.endTransmission();
    const [limits] = h.events('limits');
    expect(limits).toMatchObject({ truncated: true, limits: { max: 106000 } });
    expect(limits!.limits!.min).toBeGreaterThan(90000);

    // The second transmission fills while the first plays: both together stay within the budget.
    h.core.beginTransmission();
    for (const f of run(2, 1000, 106000, 1000, kB)) {
      h.core.addFrame(f);
      expect(h.core.bytes).toBeLessThanOrEqual(20 * kB);
    }
  });

  it('over budget keeps the GOP of the target and drops the rest, so the seek still shows the target', () => {
    const h = new Harness(undefined, { budgetBytes: 20 * kB });
    h.core.registerSlot(2);
    h.core.seek(50500);
    h.transmit(run(2, 1000, 106000, 1000, kB));
    expect(h.events('limits')[0]).toEqual({ type: 'limits', limits: { min: 49000, max: 58000 }, truncated: true });
    expect(h.trace()).toEqual(['seek', 'init:2/0', '49000', '50000', 'stop']);
  });

  it('a frame larger than the whole cache is refused', () => {
    const h = new Harness(undefined, { budgetBytes: 2 * kB });
    h.transmit([frame(2, 1000, true, { payload: new Uint8Array(5 * kB) })]);
    expect(h.events('limits')[0]).toEqual({ type: 'limits', limits: null, truncated: true });
    expect(h.core.bytes).toBe(0);
  });
});

describe('PlaybackClock shared by several cachers', () => {
  it('two cachers on one clock send the same stream time at the same instant, even when told to play at different moments', () => {
    const clock = PlaybackClock.manual(T0);
    const a = new Harness(clock);
    const b = new Harness(PlaybackClock.attach(clock.buffer)); // another handle, as a worker would have
    a.core.registerSlot(2);
    b.core.registerSlot(7);
    a.transmit(run(2, 1000, 60000));
    b.transmit(run(7, 1000, 60000, 500)); // 50 fps
    a.core.seek(20000);
    b.core.seek(20000);
    a.core.playStreams();
    clock.advance(37); // the second cacher hears "play" 37 ms later: it follows the running timeline
    b.core.playStreams();
    runCoresUntil(clock, [a.core, b.core], T0 + 10000);
    const atA = new Map(a.frames().map((f) => [f.ts, f.at]));
    const common = b.frames().filter((f) => f.ts > 20000 && atA.has(f.ts));
    expect(common.length).toBe(10); // 21000..30000
    for (const f of common) {
      expect(f.at).toBe(atA.get(f.ts));
      expect(f.at).toBe(T0 + f.ts - 20000);
    }
    // b's frames in between (ts 20500, 21500...) are on the same timeline too.
    for (const f of b.frames().filter((f) => f.ts > 20000)) expect(f.at).toBe(Math.max(T0 + 37, T0 + f.ts - 20000));
  });

  it('maps stream time and clock time both ways, keeps the stream time across a rate change, and freezes on pause', () => {
    const clock = PlaybackClock.manual(500);
    clock.play(10000);
    clock.advance(1000);
    expect(clock.streamTime()).toBe(11000);
    clock.setRate(4);
    expect(clock.streamTime()).toBe(11000);
    clock.advance(250);
    expect(clock.streamTime()).toBe(12000);
    expect(clock.clockTimeOf(13000)).toBe(clock.now() + 250);
    clock.pause();
    clock.advance(10000);
    expect(clock.streamTime()).toBe(12000);
    expect(clock.clockTimeOf(13000)).toBe(Infinity);
    expect(() => PlaybackClock.system().setNow(1)).toThrow(ThreadsError);
    const system = PlaybackClock.system();
    expect(Math.abs(system.now() - Date.now())).toBeLessThan(1000);
  });
});
