// Crashes at random instants on MemoryDevice (unflushed writes dropped, torn writes), with random
// frame sizes, streams, holes and wraps: what is recovered is always a contiguous run of what was
// written (a prefix, minus what the ring overwrote), reaching at least the last completed flush;
// every frame read equals the frame written; writing resumes right after the recovered data.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { MemoryDevice } from '@valkka/blockdev';

import { type BlockContents, type Frame, ValkkaMultiFS, type ValkkaFS, check } from '../src/index.js';
import { fenced, h264Frame, memoryDevice, pick, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;

type Op = { kind: 'write'; stream: number; size: number; key: boolean; gap: number; h264: boolean } | { kind: 'flush' } | { kind: 'snapshotJson' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      stream: fc.integer({ min: 1, max: 3 }),
      size: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 300, max: 3000 })),
      key: fc.boolean(),
      // Mostly 40 ms apart; sometimes a hole; sometimes the clock jumps back.
      gap: fc.oneof({ weight: 8, arbitrary: fc.constant(40) }, { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 100_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -5000, max: -1 }) }),
      h264: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'snapshotJson' as const }) },
);

/** Every frame in the ring, oldest block first (by sequence number). */
async function readAll(fs: ValkkaFS): Promise<Frame[]> {
  const blocks: BlockContents[] = [];
  for (let b = 0; b < fs.nBlocks; b++) {
    try {
      blocks.push(await fs.readBlock(b));
    } catch (err) {
      expect((err as { code?: string }).code).toBe('EBLOCKHEADER'); // never written: the only acceptable failure
    }
  }
  blocks.sort((a, b) => a.seq - b.seq);
  // Sequence numbers of the blocks present are consecutive.
  blocks.forEach((b, i) => i > 0 && expect(b.seq).toBe(blocks[i - 1]!.seq + 1));
  return blocks.flatMap((b) => b.frames);
}

const settle = async (ticks: number) => {
  for (let i = 0; i < ticks; i++) await new Promise((r) => setImmediate(r));
};

async function scenario(nBlocks: number, ops: Op[], crashTicks: number, tear: boolean, restoreJson: boolean): Promise<void> {
  await withTempDir(async (dir) => {
    const dev: MemoryDevice = memoryDevice(BS * nBlocks);
    const view = fenced(dev);
    const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks, device: view, flushIntervalMs: 3_600_000 });
    const written: Frame[] = [];
    let durableCount = 0;
    let t = 1_000_000;
    let jsonSnap = false;
    for (const op of ops) {
      if (op.kind === 'write') {
        t = Math.max(1, t + op.gap);
        const f = op.h264 ? h264Frame(op.stream, t, Math.max(op.size, 40), op.key) : plainFrame(op.stream, t, op.size);
        await fs.write(f);
        written.push(f);
      } else if (op.kind === 'flush') {
        const n = written.length;
        await fs.flush();
        durableCount = n;
      } else {
        await copyFile(join(dir, 'valkkafs.json'), join(dir, 'old.json'));
        jsonSnap = true;
      }
    }
    // The crash: arm a torn write, start more I/O (a write that may seal, and a flush), and pull the plug mid-way.
    if (tear) dev.tearNextWrite();
    t += 40;
    const extra = plainFrame(1, t, 2500);
    const pending = [fs.write(extra), fs.write(plainFrame(2, t + 1, 2500)), fs.flush()].map((p) => p.catch(() => 'failed'));
    await settle(crashTicks);
    dev.crash();
    view.kill();
    await Promise.all(pending);
    await fs.close().catch(() => undefined);
    if (restoreJson && jsonSnap) await copyFile(join(dir, 'old.json'), join(dir, 'valkkafs.json'));

    const reopened = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, flushIntervalMs: 3_600_000 });
    // What recovery left is consistent: headers, records, summaries, sequence numbers and rows.
    expect((await check(reopened, { device: dev })).problems).toEqual([]);
    const all = [...written, extra, plainFrame(2, t + 1, 2500)];
    const recovered = await readAll(reopened);
    // A contiguous run of what was written, byte for byte.
    const start = recovered.length === 0 ? 0 : all.findIndex((f) => f.timestamp === recovered[0]!.timestamp && f.streamId === recovered[0]!.streamId);
    expect(start).toBeGreaterThanOrEqual(0);
    const expected = all.slice(start, start + recovered.length).map((f) => pick(normalize(f)));
    expect(recovered.map(pick)).toEqual(expected);
    // Everything flushed survived, unless the ring overwrote it (then the run starts later but still reaches it).
    expect(start + recovered.length).toBeGreaterThanOrEqual(durableCount);

    // Writing resumes after the recovered data.
    const after = plainFrame(3, t + 1000, 100);
    await reopened.write(after);
    await reopened.close();
    const again = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
    const final = await readAll(again);
    expect(final.at(-1) && pick(final.at(-1)!)).toEqual(pick(normalize(after)));
    const before = final.slice(0, -1);
    expect(before.map(pick)).toEqual(recovered.slice(recovered.length - before.length).map(pick));
    await again.close();
  });
}

/** The frame as stored: plain frames are key frames; our H.264 frames carry their config. */
function normalize(f: Frame): Frame {
  return f.codec === 0 ? { ...f, flags: 1 } : f;
}

describe('crash recovery (property)', () => {
  it('recovers a contiguous run up to at least the last flush, never a garbled frame', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Small rings wrap often; 33 blocks invalidate rows two at a time.
        fc.oneof(fc.integer({ min: 3, max: 6 }), fc.constant(33)),
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 12 }),
        fc.boolean(),
        fc.boolean(),
        async (nBlocks, ops, crashTicks, tear, restoreJson) => scenario(nBlocks, ops, crashTicks, tear, restoreJson),
      ),
      { numRuns: Number(process.env.VALKKA_CRASH_RUNS ?? 1000) },
    );
  });
});
