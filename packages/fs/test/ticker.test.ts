// The shared tick (ticker.ts): the flushes of every writer of one interval in a thread start together, and
// each writer is still flushed every interval on its own account.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ValkkaSingleFS } from '../src/index.js';
import { parseBlock } from '../src/reader.js';
import { everyInterval } from '../src/ticker.js';
import { h264Frame, memoryDevice, withTempDir } from './helpers.js';

const waitFor = async (done: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
};

describe('everyInterval', () => {
  it('runs the callbacks of one interval in one timer callback, until each is stopped', async () => {
    const calls: string[] = [];
    // Node runs microtasks between two timers' callbacks, never inside one: a pending microtask when
    // `b` runs means `a` ran in the same timer callback.
    let pending = false;
    const stopA = everyInterval(15, () => {
      calls.push('a');
      pending = true;
      queueMicrotask(() => {
        pending = false;
      });
    });
    const stopB = everyInterval(15, () => calls.push(pending ? 'b with a' : 'b alone'));
    await waitFor(() => calls.length >= 6, 'three ticks');
    stopA();
    const afterA = calls.length;
    expect(calls.slice(0, 6)).toEqual(['a', 'b with a', 'a', 'b with a', 'a', 'b with a']);
    await waitFor(() => calls.length >= afterA + 2, 'two ticks without a');
    expect(calls.slice(afterA)).not.toContain('a');
    expect(calls.at(-1)).toBe('b alone');
    stopB();
    const end = calls.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.length).toBe(end);
  });

  it('keeps no timer alive once every callback is stopped (and a stop twice is harmless)', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const stop = everyInterval(1234, () => undefined);
    stop();
    stop();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });
});

describe('writers on the shared tick', () => {
  it('every writer of a thread makes its own frames durable each interval without a flush call, also after the others closed', async () => {
    await withTempDir(async (dir) => {
      const BS = 8192;
      const devices = [memoryDevice(BS * 4), memoryDevice(BS * 4), memoryDevice(BS * 4)];
      const writers = await Promise.all(devices.map((device, i) => ValkkaSingleFS.newFromDirectory({ dirname: join(dir, `cam${i}`), blocksize: BS, nBlocks: 4, device, flushIntervalMs: 25 })));
      /** Timestamps of the frames in block 0's durable image (what survives a power loss now). */
      const durable = (i: number): number[] => {
        const geometry = { fsId: Buffer.from(writers[i]!.fsId, 'hex'), blocksize: BS, nBlocks: 4 };
        return parseBlock(Buffer.from(devices[i]!.readDurable(0, BS)), 0, geometry, false).frames.map((f) => f.timestamp);
      };
      for (const [i, fs] of writers.entries()) await fs.write(h264Frame(1, 5000 + i, 300, true));
      await waitFor(() => [0, 1, 2].every((i) => durable(i).length === 1), 'every writer to flush on its own');
      expect([0, 1, 2].map(durable)).toEqual([[5000], [5001], [5002]]);
      await writers[0]!.close();
      await writers[1]!.close();
      await writers[2]!.write(h264Frame(1, 6000, 300, false));
      await waitFor(() => durable(2).length === 2, 'the last writer to flush alone');
      expect(durable(2)).toEqual([5002, 6000]);
      await writers[2]!.close();
    });
  });
});
