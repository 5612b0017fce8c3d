// A writer process killed with SIGKILL at random moments, on the real directory layout (FileDevice):
// every reopen recovers a prefix of what was written that reaches the last flush the child reported,
// and the next child resumes right after it. After each kill, check --repair and a later check agree
// (ok, nothing left), opening as the writer (recovery) leaves a filesystem check passes, and info
// shows every block that holds frames.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { beforeAll, describe, expect, it } from 'vitest';

import { type Frame, ValkkaSingleFS, check } from '../src/index.js';
import { rowsInvalidatedAhead } from '../src/writer.js';
import { bundleChild, packageDir } from './fixtures/bundle.js';
import { withTempDir } from './helpers.js';

let script = '';
beforeAll(async () => {
  script = await bundleChild(join(import.meta.dirname, 'fixtures', 'writer-child.ts'));
});

/**
 * Runs the child (it resumes after the last frame recovery kept) until it has reported `reports`
 * flushes plus a random delay, then SIGKILLs it; returns the frames the child last reported durable.
 */
async function runAndKill(dir: string, reports: number): Promise<number> {
  const child = spawn(process.execPath, [script, dir], { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let durable = 0;
  let seen = 0;
  await new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      durable = Number(line);
      if (++seen === reports) setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 20));
    });
    child.once('exit', () => resolve());
  });
  return durable;
}

/**
 * info (describe) shows every block holding frames, and every frame in them, except the few oldest
 * blocks the writer has already invalidated ahead of reuse (FORMAT.md §3: up to k + 1 after the block
 * being written); the newest block is always shown.
 */
async function expectInfoShowsEveryBlock(dir: string): Promise<void> {
  const fs = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true });
  try {
    const ahead = new Set(Array.from({ length: rowsInvalidatedAhead(fs.nBlocks) + 1 }, (_, d) => (fs.currentBlock + 1 + d) % fs.nBlocks));
    let shown = 0;
    let frames = 0;
    let newest: { block: number; seq: number } | undefined;
    for (let b = 0; b < fs.nBlocks; b++) {
      const c = await fs.readBlock(b).catch(() => undefined);
      if (!c || c.frames.length === 0) continue;
      if (!newest || c.seq > newest.seq) newest = { block: b, seq: c.seq };
      if (fs.blockTable.isUsed(b)) {
        shown++;
        frames += c.frames.length;
      } else expect(ahead.has(b), `block ${b} holds frames but info does not show it`).toBe(true);
    }
    expect(newest && fs.blockTable.isUsed(newest.block)).toBe(true);
    const d = await fs.describe();
    expect(d.usedBlocks).toBe(shown);
    expect(d.streams.reduce((n, s) => n + s.frames, 0)).toBe(frames);
  } finally {
    await fs.close();
  }
}

const expectedPayload = (i: number) => Buffer.alloc(500 + ((i * 7919) % 3000), (i % 250) + 1);

describe('SIGKILL of a writer process', () => {
  it('recovers a contiguous run up to at least the last reported flush, five kills in a row, around a ring that wraps', async () => {
    await withTempDir(async (dir) => {
      // About seven frames a block: the five rounds go around the ring more than once.
      await (await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 16384, nBlocks: 32, flushIntervalMs: 50 })).close();
      let oldest = 0;
      for (let round = 0; round < 5; round++) {
        const durable = await runAndKill(dir, 3 + round * 4);
        const fs = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true });
        const frames: Frame[] = [];
        for (const b of fs.getInd([0, 1e13])) frames.push(...(await fs.readBlock(b)).frames);
        // The open block after a kill may hold no key frame row yet; read it too.
        const open = await fs.readBlock(fs.currentBlock).catch(() => undefined);
        if (open && !fs.getInd([0, 1e13]).includes(fs.currentBlock)) frames.push(...open.frames);
        await fs.close();
        const ids = frames.map((f) => f.timestamp - 1_000_000);
        const first = ids[0] ?? 0;
        oldest = first;
        expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => first + k)); // in order, no gaps (older ones overwritten by the ring)
        expect(first + ids.length).toBeGreaterThanOrEqual(durable);
        for (const f of frames.slice(-20)) expect(Buffer.from(f.payload)).toEqual(expectedPayload(f.timestamp - 1_000_000));

        // fsck -y straight after the kill, then a plain check: they agree, and nothing is left.
        const repaired = await check(dir, { repair: true });
        expect(repaired.remaining).toEqual([]);
        expect(repaired.ok).toBe(true);
        expect(repaired.dropped).toEqual([]); // a killed process loses nothing the kernel had
        expect((await check(dir)).problems).toEqual([]);
        // Recovery (open as the writer, then close: the open block is sealed), then check again.
        const writer = await ValkkaSingleFS.loadFromDirectory(dir, { flushIntervalMs: 50 });
        expect(writer.recovery?.gapsZeroed).toBe(0);
        await writer.close();
        expect((await check(dir)).problems).toEqual([]);
        await expectInfoShowsEveryBlock(dir);
      }
      expect(oldest).toBeGreaterThan(0); // the ring wrapped: the first frames were overwritten
    });
  });
});
