// The crash property of crash.test.ts with retention active: a maximum age, protections made and
// released while the writer runs, the ring wrapping around them, the clock moving. The plug is pulled
// at a random device operation (MemoryDevice keeps an arbitrary subset of the sectors not yet
// flushed, and sometimes tears a write), also in the middle of protect and unprotect. After the crash,
// recovery leaves a filesystem check passes; every frame a protection held when it was made (and
// durable then) is read back byte for byte while the protection is listed; no block whose newest
// frame is older than the maximum age is returned outside protected ones; and writing resumes.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { type BlockDevice, MemoryDevice } from '@valkka/blockdev';

import { type Frame, type ValkkaFS, ValkkaMultiFS, check, getInd, retention } from '../src/index.js';
import { fenced, pick, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;
const N = 16;
const MAX_AGE = 60_000;
const RUNS = Number(process.env.VALKKA_CRASH_RUNS ?? 24);

type Op =
  | { kind: 'write'; stream: number; size: number }
  | { kind: 'flush' }
  | { kind: 'protect'; back: number; length: number }
  | { kind: 'unprotect'; pick: number }
  | { kind: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('write' as const), stream: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 100, max: 2500 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('protect' as const), back: fc.integer({ min: 2, max: 60 }), length: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unprotect' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1000, max: 40_000 }) }) },
);

const tally = { runs: 0, inRetentionOp: 0, protectionsChecked: 0, framesChecked: 0 };

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const key = (f: { streamId: number; timestamp: number }): string => `${f.streamId}:${f.timestamp}`;

/** Frames of the blocks a reader would read for [from, to], within it. */
async function framesIn(fs: ValkkaFS, from: number, to: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for (const b of getInd(fs.blockTable, [from, to])) {
    const c = await fs.readBlock(b);
    out.push(...c.frames.filter((f) => f.timestamp >= from && f.timestamp <= to));
  }
  return out;
}

async function scenario(ops: Op[], crashAt: number, tear: boolean, seed: number): Promise<void> {
  await withTempDir(async (dir) => {
    const random = seeded(seed);
    const dev = new MemoryDevice(BS * N, { alignment: 4096, sectorSize: 512, random, writeback: 0.05 });
    let t = 1_000_000_000;
    let now = t;
    const clock = () => now;
    let count = 0;
    let armed = false;
    let crashed = false;
    let inRetention = false;
    let crashedInRetention = false;
    const crashNow = () => {
      if (crashed) return;
      crashed = true;
      crashedInRetention = inRetention || retentionStarted;
      dev.crash();
      view.kill();
    };
    const base = fenced(dev);
    // In a third of the runs the plug is pulled at the first device operation of (or after) a protect
    // or unprotect: the rows it restores, the writer's skip, the json hint may all be in flight.
    const inRetentionMode = seed % 3 === 0;
    let retentionStarted = false;
    const hook = () => {
      if (!armed) return;
      ++count;
      if (inRetentionMode ? retentionStarted : count === crashAt) crashNow();
    };
    const view: BlockDevice & { kill(): void } = { ...base, write: (o, b) => (hook(), base.write(o, b)), flush: () => (hook(), base.flush()), read: (o, b) => (hook(), base.read(o, b)) };
    const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: view, flushIntervalMs: 3_600_000, clock });
    await fs.setMaxProtected(0.6);
    await fs.setMaxAge(MAX_AGE);
    armed = true;
    if (tear) dev.tearNextWrite();
    const written = new Map<string, Frame>();
    const order: Frame[] = [];
    /** Per protection id: the frames it held, durable, when it was made. */
    const captured = new Map<number, Frame[]>();
    for (const op of ops) {
      if (crashed) break;
      if (op.kind === 'write') {
        t += 40;
        now = t;
        const f = plainFrame(op.stream, t, op.size);
        written.set(key(f), f);
        order.push(f);
        if ((await fs.write(f).then(() => 'ok', () => 'failed')) === 'failed') break;
      } else if (op.kind === 'flush') {
        await fs.flush().catch(() => undefined);
      } else if (op.kind === 'tick') {
        t += op.ms;
        now = t;
      } else if (op.kind === 'protect') {
        const first = order[Math.max(0, order.length - op.back)];
        const last = order[Math.min(order.length - 1, order.length - op.back + op.length)];
        if (!first || !last || first.timestamp > last.timestamp) continue;
        // Durable first: what the protection holds must survive any crash from here on.
        if ((await fs.flush().then(() => 'ok', () => 'failed')) === 'failed') break;
        const frames = await framesIn(fs, first.timestamp, last.timestamp).catch(() => undefined);
        if (!frames) break;
        inRetention = retentionStarted = true;
        const p = await fs.protect({ from: first.timestamp, to: last.timestamp }).catch((err: { code?: string }) => {
          if (crashed || err.code === 'EPROTECTCAP' || err.code === 'EARGUMENT') return undefined;
          throw err;
        });
        inRetention = false;
        // A crash during protect may come after protections.json was replaced: the id is found there.
        const id = p?.id ?? (crashed ? Math.max(0, ...[...captured.keys()]) + 1 : undefined);
        if (id !== undefined) captured.set(id, frames);
      } else if (op.kind === 'unprotect') {
        const ids = [...captured.keys()];
        if (ids.length === 0) continue;
        inRetention = retentionStarted = true;
        await fs.unprotect(ids[op.pick % ids.length]!).catch(() => undefined);
        inRetention = false;
      }
    }
    if (!crashed) {
      // More I/O with the plug pulled during it.
      const extra = plainFrame(1, (t += 40), 2500);
      written.set(key(extra), extra);
      const pending = [fs.write(extra), fs.flush(), fs.expireNow()].map((p) => p.catch(() => 'failed'));
      crashAt = count + 1;
      await Promise.all(pending);
      crashNow();
    }
    await fs.close().catch(() => undefined);
    tally.runs++;
    if (crashedInRetention) tally.inRetentionOp++;

    const reopened = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, flushIntervalMs: 3_600_000, clock });
    expect((await check(reopened, { device: dev })).problems).toEqual([]);
    const listed = await retention.readProtections(dir);
    const held = new Set<number>();
    for (const p of listed) for (const b of getInd(reopened.blockTable, [p.from, p.to])) held.add(b);
    const all = new Map<string, Frame>();
    for (let b = 0; b < N; b++) {
      const c = await reopened.readBlock(b).catch(() => undefined);
      if (!c) continue;
      for (const f of c.frames) {
        // Every frame read is one written, byte for byte.
        expect(pick(f)).toEqual(pick(written.get(key(f)) ?? plainFrame(0, 0, 0)));
        all.set(key(f), f);
      }
      // No expired block outside protected ones (the block being written aside): expiry goes by a
      // block's newest frame.
      const newest = Math.max(...c.frames.map((f) => f.timestamp));
      if (c.frames.length > 0 && newest < now - MAX_AGE && !held.has(b) && b !== reopened.currentBlock) throw new Error(`block ${b}: all its video is older than the maximum age`);
    }
    for (const p of listed) {
      const frames = captured.get(p.id);
      if (!frames) continue;
      tally.protectionsChecked++;
      for (const f of frames) {
        expect(all.has(key(f)), `protection ${p.id}: frame ${key(f)}`).toBe(true);
        expect(pick(all.get(key(f))!)).toEqual(pick(f));
        tally.framesChecked++;
      }
    }
    // Writing resumes over the recovered ring.
    for (let i = 0; i < 20; i++) await reopened.write(plainFrame(2, (t += 40), 1500));
    await reopened.close();
    expect((await check(dir, { device: dev })).problems).toEqual([]);
  });
}

describe('crashes with protections and a maximum age', () => {
  afterAll(() => {
    console.log(`retention crash runs: ${JSON.stringify(tally)}`);
  });

  it('no protected frame lost, no expired frame returned, check passes on what recovery leaves', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 40, maxLength: 200 }), fc.integer({ min: 1, max: 400 }), fc.boolean(), fc.integer(), async (ops, crashAt, tear, seed) => {
        await scenario(ops, crashAt, tear, seed);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // The faults happened: crashes inside protect/unprotect, protections checked after crashes.
    expect(tally.runs).toBeGreaterThanOrEqual(RUNS);
    expect(tally.protectionsChecked).toBeGreaterThan(0);
    expect(tally.inRetentionOp).toBeGreaterThan(0);
    expect(tally.framesChecked).toBeGreaterThan(0);
  }, 120_000);
});
