// A writer process killed with SIGKILL at random moments, on the real directory layout (FileDevice):
// every reopen recovers a prefix of what was written that reaches the last flush the child reported,
// and the next child resumes right after it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { beforeAll, describe, expect, it } from 'vitest';

import { type Frame, ValkkaSingleFS } from '../src/index.js';
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

const expectedPayload = (i: number) => Buffer.alloc(500 + ((i * 7919) % 3000), (i % 250) + 1);

describe('SIGKILL of a writer process', () => {
  it('recovers a prefix up to at least the last reported flush, five kills in a row', async () => {
    await withTempDir(async (dir) => {
      await (await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 65536, nBlocks: 64, flushIntervalMs: 50 })).close();
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
        expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => k)); // a prefix, in order, no gaps
        expect(ids.length).toBeGreaterThanOrEqual(durable);
        for (const f of frames.slice(-20)) expect(Buffer.from(f.payload)).toEqual(expectedPayload(f.timestamp - 1_000_000));
      }
    });
  });
});
