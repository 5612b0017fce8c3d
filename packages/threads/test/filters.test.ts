import { describe, expect, it } from 'vitest';
import { forkFilter, FrameQueue, queueFilter, setSlotFilter, slotFilter, switchFilter, typeFilter, type SlotFrame } from '../src/index.js';

const frame = (slot: number, mediaType: 0 | 1 = 0, ts = 1): SlotFrame => ({
  slot,
  subsession: 0,
  timestamp: ts,
  mediaType,
  codec: 27,
  flags: 0,
  payload: new Uint8Array([slot]),
});

function collector(): { frames: SlotFrame[]; filter: (f: SlotFrame) => void } {
  const frames: SlotFrame[] = [];
  return { frames, filter: (f) => frames.push(f) };
}

describe('frame filters', () => {
  it('forkFilter gives every frame to every target', () => {
    const a = collector();
    const b = collector();
    const fork = forkFilter(a.filter, b.filter);
    fork(frame(1));
    fork(frame(2));
    expect(a.frames.map((f) => f.slot)).toEqual([1, 2]);
    expect(b.frames.map((f) => f.slot)).toEqual([1, 2]);
  });

  it('switchFilter sends to the selected output, none with -1, and refuses a bad index', () => {
    const a = collector();
    const b = collector();
    const sw = switchFilter(a.filter, b.filter);
    sw(frame(1));
    sw.select(1);
    sw(frame(2));
    sw.select(-1);
    sw(frame(3));
    expect(a.frames.map((f) => f.slot)).toEqual([1]);
    expect(b.frames.map((f) => f.slot)).toEqual([2]);
    expect(sw.selected).toBe(-1);
    expect(() => sw.select(2)).toThrow(RangeError);
  });

  it('typeFilter and slotFilter pass only what matches; setSlotFilter readdresses', () => {
    const audio = collector();
    const slot3 = collector();
    const moved = collector();
    const chain = forkFilter(
      typeFilter((f) => f.mediaType === 1, audio.filter),
      slotFilter(3, slot3.filter),
      setSlotFilter(9, moved.filter),
    );
    [frame(1, 0), frame(3, 1), frame(3, 0), frame(4, 1)].forEach(chain);
    expect(audio.frames.map((f) => f.slot)).toEqual([3, 4]);
    expect(slot3.frames.map((f) => f.mediaType)).toEqual([1, 0]);
    expect(moved.frames.map((f) => f.slot)).toEqual([9, 9, 9, 9]);
    expect(moved.frames.map((f) => f.payload[0])).toEqual([1, 3, 3, 4]);
  });

  it('queueFilter puts frames into a FrameQueue', () => {
    const q = FrameQueue.create({ capacity: 1024 });
    const chain = slotFilter(2, queueFilter(q));
    [frame(1), frame(2, 0, 10), frame(2, 0, 11)].forEach(chain);
    const got = [q.pop(), q.pop(), q.pop()];
    expect(got.map((e) => (e?.kind === 'frame' ? e.frame.timestamp : e))).toEqual([10, 11, undefined]);
  });

  it('queueFilter on the main thread never throws from a timer: a full blocking queue drops and counts', () => {
    const queue = FrameQueue.create({ capacity: 256, mode: 'block' });
    const filter = queueFilter(queue);
    const big = { slot: 1, subsession: 0, timestamp: 1, mediaType: 0, codec: 27, flags: 0, payload: new Uint8Array(100) } as SlotFrame;
    for (let i = 0; i < 5; i++) expect(() => filter(big)).not.toThrow();
    const stats = queue.stats();
    expect(stats.frames).toBe(1); // 256 bytes hold one entry of 132
    expect(stats.drops).toBe(4);
    expect(() => queue.pushFrame(big)).toThrow(expect.objectContaining({ code: 'ERR_QUEUE_WOULD_BLOCK' })); // the explicit push still says why
  });
});
