import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameQueue, type QueueEntry } from '../src/index.js';

/** One step of a producer/consumer run: push an entry of this payload size, or pop up to n entries. */
type Step = { push: number; command: boolean } | { pop: number };

const step = fc.oneof(
  fc.record({ push: fc.integer({ min: 0, max: 700 }), command: fc.boolean() }),
  fc.record({ pop: fc.integer({ min: 1, max: 4 }) }),
);

/** Header + payload, padded to 8: the room an entry takes in the ring. */
const entryBytes = (payload: number): number => 32 + ((payload + 7) & ~7);

const payloadOf = (n: number, size: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (n * 7 + i) & 255);

describe('FrameQueue (property)', () => {
  it('in dropping mode, whatever the sizes and interleaving, what comes out is exactly what was accepted, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 2048 }), fc.array(step, { maxLength: 300 }), (capacity, steps: Step[]) => {
        const q = FrameQueue.create({ capacity, mode: 'drop' });
        const accepted: QueueEntry[] = [];
        let out = 0;
        let n = 0;
        let drops = 0;
        const check = (entry: QueueEntry | undefined): boolean => {
          if (!entry) return false;
          expect(entry).toEqual(accepted[out++]);
          return true;
        };
        for (const s of steps) {
          if ('pop' in s) {
            for (let i = 0; i < s.pop && check(q.pop()); i++);
            continue;
          }
          n++;
          if (s.command) {
            const command = { type: 'c', n, pad: 'x'.repeat(s.push) };
            if (entryBytes(Buffer.byteLength(JSON.stringify(command))) > q.capacity) {
              expect(() => q.pushCommand(command)).toThrow(/ERR_ENTRY_TOO_LARGE|larger than the frame queue/);
              continue;
            }
            // A command never drops: make room first (single thread: nobody else would). A pop may only
            // release the pad left at the end of the ring, so allow one more round than there are entries.
            for (let rounds = accepted.length - out + 2; !tryCommand(q, command); rounds--) {
              expect(rounds).toBeGreaterThan(0);
              check(q.pop());
            }
            accepted.push({ kind: 'command', command });
          } else {
            const frame = { slot: n, subsession: 0, timestamp: n, mediaType: 0 as const, codec: 27 as const, flags: 0, payload: payloadOf(n, s.push) };
            if (entryBytes(s.push) > q.capacity) {
              expect(() => q.pushFrame(frame)).toThrow(expect.objectContaining({ code: 'ERR_ENTRY_TOO_LARGE' }));
              continue;
            }
            if (q.pushFrame(frame)) accepted.push({ kind: 'frame', frame });
            else drops++;
          }
          expect(q.stats().used).toBeLessThanOrEqual(q.capacity);
        }
        while (check(q.pop()));
        expect(out).toBe(accepted.length);
        expect(q.stats()).toMatchObject({ drops, used: 0, frames: accepted.filter((e) => e.kind === 'frame').length });
      }),
      { numRuns: 300 },
    );
  });
});

/** pushCommand on the main thread throws when it would have to wait: report that as "no room". */
function tryCommand(q: FrameQueue, command: { type: string }): boolean {
  try {
    return q.pushCommand(command);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_QUEUE_WOULD_BLOCK') return false;
    throw err;
  }
}
