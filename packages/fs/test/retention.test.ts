// Retention: protected ranges survive many wraps of a small ring byte for byte while everything
// else is the newest video that fits; the maximum age wipes expired blocks on the device (bytes
// checked), hides them from every API, and a restart does not bring them back; the cap refuses
// protections beyond it; a libValkka directory refuses both.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { MemoryDevice } from '@valkka/blockdev';

import { type Frame, type ValkkaFS, ValkkaMultiFS, ValkkaSingleFS, check, getInd, retention } from '../src/index.js';
import { LegacyWriter, h264Nal } from './fixtures/legacy/legacy-writer.js';
import { memoryDevice, pick, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;
const N = 16;

type Picked = ReturnType<typeof pick>;
const key = (f: { streamId: number; timestamp: number }): string => `${f.streamId}:${f.timestamp}`;

/** Frames of every readable block, by block (unreadable blocks left out). */
async function blocksOf(fs: ValkkaFS): Promise<Map<number, { seq: number; frames: Frame[] }>> {
  const out = new Map<number, { seq: number; frames: Frame[] }>();
  for (let b = 0; b < fs.nBlocks; b++) {
    const c = await fs.readBlock(b).catch(() => undefined);
    if (c && c.frames.length > 0) out.set(b, { seq: c.seq, frames: c.frames });
  }
  return out;
}

async function heldBlocks(fs: ValkkaFS): Promise<Set<number>> {
  const held = new Set<number>();
  for (const p of await fs.listProtections()) for (const b of getInd(fs.blockTable, [p.from, p.to])) held.add(b);
  return held;
}

/**
 * Checks the ring: the frames captured when protecting are all there, byte for byte; the blocks not
 * protected hold a contiguous run of the newest frames written (the newest video that fits).
 */
async function expectRing(fs: ValkkaFS, written: Frame[], protectedFrames: Map<string, Picked>): Promise<void> {
  const blocks = await blocksOf(fs);
  const all = new Map<string, Picked>();
  for (const { frames } of blocks.values()) for (const f of frames) all.set(key(f), pick(f));
  for (const [k, f] of protectedFrames) expect(all.get(k), `protected frame ${k}`).toEqual(f);
  const held = await heldBlocks(fs);
  const rest = [...blocks.entries()].filter(([b]) => !held.has(b)).sort(([, a], [, b]) => a.seq - b.seq);
  const frames = rest.flatMap(([, c]) => c.frames);
  expect(frames.length).toBeGreaterThan(0);
  const tail = written.slice(written.length - frames.length);
  expect(frames.map(pick)).toEqual(tail.map(pick));
  // The ring is used: every block is either protected or holds recent video (the one being filled aside).
  expect(held.size + rest.length).toBeGreaterThanOrEqual(fs.nBlocks - 1);
}

async function protectedFramesOf(fs: ValkkaFS): Promise<Map<string, Picked>> {
  const out = new Map<string, Picked>();
  const blocks = await blocksOf(fs);
  for (const b of await heldBlocks(fs)) for (const f of blocks.get(b)?.frames ?? []) out.set(key(f), pick(f));
  return out;
}

describe('protected ranges in a wrapping ring', () => {
  for (const variant of ['multi', 'single'] as const) {
    it(`${variant}: protected frames survive 6 wraps byte for byte, the rest is the newest video`, async () => {
      await withTempDir(async (dir) => {
        const dev = memoryDevice(BS * N);
        const open = (o: { clock: () => number }) =>
          variant === 'multi' ? ValkkaMultiFS.loadFromDirectory(dir, { device: dev, ...o }) : ValkkaSingleFS.loadFromDirectory(dir, { device: dev, ...o });
        const Ctor = variant === 'multi' ? ValkkaMultiFS : ValkkaSingleFS;
        const streams = variant === 'multi' ? [1, 2, 3] : [7];
        let t = 1_000_000;
        const clock = () => t + 3_600_000;
        let fs: ValkkaFS = await Ctor.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev, clock });
        const written: Frame[] = [];
        const write = async (count: number) => {
          for (let i = 0; i < count; i++) {
            t += 40;
            const f = plainFrame(streams[i % streams.length]!, t, 600 + ((i * 37) % 900));
            written.push(f);
            await fs.write(f);
          }
        };
        await write(60); // ~6 blocks
        const a = { from: written[10]!.timestamp, to: written[14]!.timestamp };
        const b = { from: written[45]!.timestamp, to: written[47]!.timestamp };
        const pa = await fs.protect({ ...a, note: 'incident A' });
        await fs.protect(b);
        expect(pa).toMatchObject({ id: 1, note: 'incident A', from: a.from, to: a.to, created: clock() });
        expect(pa.blocks).toBeGreaterThan(0);
        expect(pa.bytes).toBe(pa.blocks * BS);
        const protectedFrames = await protectedFramesOf(fs);
        expect([...protectedFrames.keys()]).toEqual(expect.arrayContaining(written.slice(10, 15).map(key)));
        const heldAtStart = await heldBlocks(fs);
        const sealedBefore: number[] = [];
        fs.on('block', (e) => sealedBefore.push(e.index));
        for (let wrap = 0; wrap < 6; wrap++) {
          await write(110); // more than a ring's worth
          await fs.flush();
          await expectRing(fs, written, protectedFrames);
          expect((await check(fs, { device: dev })).problems).toEqual([]);
        }
        // The writer never entered a protected block.
        expect(sealedBefore.filter((x) => heldAtStart.has(x))).toEqual([]);
        // A restart (recovery follows the write order that skips blocks) keeps all of it.
        await fs.close();
        fs = await open({ clock });
        await expectRing(fs, written, protectedFrames);
        await write(50);
        await fs.flush();
        await expectRing(fs, written, protectedFrames);
        // Released: the writer goes through those blocks again, and the check stays clean meanwhile.
        await fs.unprotect(1);
        await fs.unprotect(2);
        expect(await fs.listProtections()).toEqual([]);
        expect((await check(fs, { device: dev })).problems).toEqual([]);
        await write(220);
        await fs.flush();
        const after = await blocksOf(fs);
        const left = [...after.values()].flatMap((c) => c.frames).map(key);
        expect(left.filter((k) => protectedFrames.has(k))).toEqual([]);
        await fs.close();
        expect((await check(dir, { device: dev })).problems).toEqual([]);
      });
    });
  }

  it('the cap refuses protection beyond it, with the numbers; ranges without video and bad input are refused', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      let t = 1_000_000;
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev, clock: () => t + 60_000 });
      const first = t;
      for (let i = 0; i < 200; i++) await fs.write(plainFrame(1, (t += 40), 1000));
      await fs.flush();
      await expect(fs.protect({ from: first, to: t })).rejects.toMatchObject({ code: 'EPROTECTCAP', message: expect.stringMatching(/more than the cap of 8 \(50 % of the ring/) });
      await expect(fs.protect({ from: t, to: first })).rejects.toMatchObject({ code: 'EARGUMENT', message: expect.stringMatching(/is after to/) });
      await expect(fs.protect({ from: t, to: t + 3_600_000 })).rejects.toMatchObject({ code: 'EARGUMENT', message: expect.stringMatching(/in the future/) });
      await expect(fs.protect({ from: 5, to: 10 })).rejects.toMatchObject({ code: 'EARGUMENT', message: expect.stringMatching(/holds no video/) });
      await expect(fs.unprotect(9)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await fs.setMaxProtected(0.9);
      const p = await fs.protect({ from: t - 70 * 40, to: t - 400 });
      expect(p.blocks).toBeGreaterThan(8);
      await expect(fs.protect({ from: t - 400, to: t, id: p.id })).rejects.toMatchObject({ code: 'EARGUMENT', message: expect.stringMatching(/id 1 is already used/) });
      // Durable in protections.json, read by another handle.
      const reader = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      expect((await reader.listProtections()).map((x) => x.id)).toEqual([p.id]);
      await expect(reader.setMaxAge(3_600_000)).rejects.toMatchObject({ code: 'EREADONLY' });
      await reader.close();
      expect(JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).max_protected).toBe(0.9);
      await fs.close();
    });
  });
});

/** Every byte of block b on the device (what survives a power loss). */
const blockBytes = (dev: MemoryDevice, b: number): Uint8Array => dev.readDurable(b * BS, BS);

describe('maximum age', () => {
  it('expired blocks are wiped on the device, absent from every API, and stay gone after a restart', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      let now = 10_000_000;
      const clock = () => now;
      let fs: ValkkaFS = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev, clock });
      let t = now;
      const write = async (count: number) => {
        for (let i = 0; i < count; i++) await fs.write(plainFrame(1 + (i % 2), (t += 100), 1500));
      };
      await write(25); // ~5 blocks, 2.5 s of video
      const oldEnd = t;
      await fs.flush();
      now = t + 1000;
      // A protected old range: never expired.
      const kept = await fs.protect({ from: 10_000_300, to: 10_000_500, note: 'kept' });
      const keptFrames = await protectedFramesOf(fs);
      now = t + 120_000; // two minutes later, then more video
      t = now;
      await write(15);
      await fs.flush();
      const before = await blocksOf(fs);
      const held = await heldBlocks(fs);
      const due = [...before.entries()].filter(([b, c]) => !held.has(b) && Math.max(...c.frames.map((f) => f.timestamp)) <= oldEnd).map(([b]) => b);
      expect(due.length).toBeGreaterThan(1);
      const wiped = await fs.setMaxAge(60_000);
      expect(wiped.sort()).toEqual(due.sort());
      for (const b of due) {
        expect(blockBytes(dev, b).every((x) => x === 0), `block ${b} zero on the device`).toBe(true);
        expect(fs.blockTable.isUsed(b)).toBe(false);
        await expect(fs.readBlock(b)).rejects.toThrow();
      }
      const alive = (await blocksOf(fs)).values();
      const times = [...alive].flatMap((c) => c.frames.map((f) => f.timestamp));
      const keptTimes = new Set([...keptFrames.values()].map((f) => f.timestamp));
      expect(times.filter((x) => x <= oldEnd && !keptTimes.has(x))).toEqual([]);
      expect(fs.blockTable.timeOrder().filter((b) => fs.blockTable.mstime2(b) <= oldEnd).every((b) => held.has(b))).toBe(true);
      expect([...keptFrames.keys()].length).toBeGreaterThan(0);
      const summary = await fs.retentionSummary();
      expect(summary).toMatchObject({ maxAgeMs: 60_000, protectedBlocks: held.size, protections: [expect.objectContaining({ id: kept.id, note: 'kept' })] });
      expect(summary.oldestKept).toBeLessThanOrEqual(oldEnd);
      expect((await check(fs, { device: dev })).problems).toEqual([]);

      // The writer stopped; time passes: a reader hides what expired, and check --repair wipes it.
      await fs.close();
      now += 10 * 60_000;
      const reader = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true, clock });
      const shown = reader.blockTable.timeOrder();
      expect(shown.every((b) => held.has(b))).toBe(true);
      for (let b = 0; b < N; b++) if (!held.has(b) && b !== reader.currentBlock) await expect(reader.readBlock(b)).rejects.toThrow();
      await reader.close();
      const repaired = await check(dir, { device: dev, repair: true, now: clock });
      expect(repaired.ok).toBe(true);
      expect(repaired.repairs.map((r) => r.action)).toContain('expired');
      expect((await check(dir, { device: dev })).problems).toEqual([]);

      // A restart does not resurrect anything, and the protected frames are all there.
      fs = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, clock });
      const back = await blocksOf(fs);
      for (const [b, c] of back) {
        const newest = Math.max(...c.frames.map((f) => f.timestamp));
        expect(held.has(b) || b === fs.currentBlock || newest >= now - 60_000, `block ${b} came back`).toBe(true);
      }
      const all = new Map([...back.values()].flatMap((c) => c.frames.map((f) => [key(f), pick(f)] as const)));
      for (const [k, f] of keptFrames) expect(all.get(k)).toEqual(f);
      // Released: the old protected range expires at the next round.
      await fs.unprotect(kept.id);
      const gone = await fs.expireNow();
      expect(gone.length).toBeGreaterThan(0);
      for (const b of gone) expect(blockBytes(dev, b).every((x) => x === 0)).toBe(true);
      await fs.setMaxAge(null);
      expect(JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).max_age_ms).toBeUndefined();
      await fs.close();
      expect((await check(dir, { device: dev })).problems).toEqual([]);
    });
  });

  it('a running writer expires on its own within the poll (real timers), and opening expires at once', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      let now = 50_000_000;
      const clock = () => now;
      let fs: ValkkaFS = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev, clock, flushIntervalMs: 100 });
      let t = now;
      for (let i = 0; i < 30; i++) await fs.write(plainFrame(1, (t += 100), 1500));
      await fs.setMaxAge(60_000);
      now += 120_000;
      for (let i = 0; i < 10; i++) await fs.write(plainFrame(1, (t = now + i * 100), 1500));
      const used = () => fs.blockTable.timeOrder().filter((b) => fs.blockTable.mstime2(b) < now - 60_000);
      expect(used().length).toBeGreaterThan(0);
      const deadline = Date.now() + 15_000;
      while (used().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(used()).toEqual([]);
      expect(fs.retentionError).toBeUndefined();
      // Closed; an hour later, opening as the writer wipes what expired before anything else.
      await fs.close();
      now += 3_600_000;
      fs = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, clock });
      expect(fs.blockTable.timeOrder().filter((b) => b !== fs.currentBlock)).toEqual([]);
      for (let b = 0; b < N; b++) if (b !== fs.currentBlock) expect(blockBytes(dev, b).every((x) => x === 0), `block ${b}`).toBe(true);
      await fs.close();
      expect((await check(dir, { device: dev })).problems).toEqual([]);
    });
  });
});

describe('maximum age and rows zeroed ahead', () => {
  it('opening (and check --repair) also wipes the expired blocks whose rows the writer zeroed ahead', async () => {
    for (const how of ['open', 'repair'] as const) {
      await withTempDir(async (dir) => {
        const n = 64; // four rows zeroed ahead at a time
        const dev = memoryDevice(BS * n);
        let now = 70_000_000;
        const clock = () => now;
        let fs: ValkkaFS = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: n, device: dev, clock });
        await fs.setMaxAge(60_000);
        let t = now;
        for (let i = 0; i < 500; i++) await fs.write(plainFrame(1, (t += 20), 1500)); // wraps
        await fs.close();
        // The state a writer leaves (FORMAT.md §3): the rows of the 4 blocks after the newest zeroed, their
        // bytes intact (made here on a closed filesystem, so it does not depend on where the writer stopped).
        const current = JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).current_block as number;
        const ahead = [1, 2, 3, 4].map((d) => (current + d) % n);
        const rows = readFileSync(join(dir, 'blockfile'));
        for (const b of ahead) rows.fill(0, b * 16, b * 16 + 16);
        writeFileSync(join(dir, 'blockfile'), rows);
        for (const b of ahead) expect(blockBytes(dev, b).some((x) => x !== 0), `block ${b} holds video`).toBe(true);
        now = t + 3_600_000;
        if (how === 'repair') {
          const r = await check(dir, { device: dev, repair: true, now: clock });
          expect(r.ok).toBe(true);
          const json = JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8'));
          for (let b = 0; b < n; b++) if (b !== json.current_block) expect(blockBytes(dev, b).every((x) => x === 0), `block ${b}`).toBe(true);
        } else {
          fs = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, clock });
          for (let b = 0; b < n; b++) if (b !== fs.currentBlock) expect(blockBytes(dev, b).every((x) => x === 0), `block ${b}`).toBe(true);
          await fs.close();
        }
        expect((await check(dir, { device: dev })).problems).toEqual([]);
      });
    }
  });
});

describe('directory API', () => {
  it('protect, list, unprotect and max age through the directory; a libValkka directory refuses', async () => {
    await withTempDir(async (dir) => {
      const fsDir = join(dir, 'fs');
      let t = 2_000_000;
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: fsDir, blocksize: BS, nBlocks: N });
      for (let i = 0; i < 40; i++) await fs.write(plainFrame(1, (t += 40), 1000));
      await fs.close();
      const p = await retention.protect(fsDir, { from: 2_000_400, to: 2_000_800, id: 5, note: 'n' });
      expect(p.id).toBe(5);
      expect((await retention.listProtections(fsDir)).map((x) => [x.id, x.note, x.blocks > 0])).toEqual([[5, 'n', true]]);
      await retention.setMaxAge(fsDir, 72 * 3_600_000, { clock: () => t });
      expect((await retention.retentionSummary(fsDir)).maxAgeMs).toBe(72 * 3_600_000);
      expect((await retention.unprotect(fsDir, 5)).id).toBe(5);
      // A writer holds it: settings go through that writer.
      const w = await ValkkaMultiFS.loadFromDirectory(fsDir);
      await expect(retention.setMaxAge(fsDir, null)).rejects.toMatchObject({ code: 'ELOCKED', message: expect.stringMatching(/being recorded by another process/) });
      await w.close();

      const legacyDir = join(dir, 'legacy');
      mkdirSync(legacyDir);
      const lw = new LegacyWriter(legacyDir, 8192, 4, 'single');
      lw.write({ id: 1, subsession: 0, ts: 1000, mediaType: 0, codecId: 27, payload: h264Nal(5, 500) });
      lw.stop();
      await expect(retention.protect(legacyDir, { from: 0, to: 1 })).rejects.toMatchObject({ code: 'EREADONLY', message: expect.stringMatching(/libValkka directory is read-only/) });
      await expect(retention.setMaxAge(legacyDir, 3_600_000)).rejects.toMatchObject({ code: 'EREADONLY' });
    });
  });
});
