// One writer per filesystem, in this process or another; many readers. Uses the real directory
// layout (FileDevice dumpfile).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { beforeAll, describe, expect, it } from 'vitest';

import { ValkkaSingleFS } from '../src/index.js';
import { bundleChild } from './fixtures/bundle.js';
import { h264Frame, withTempDir } from './helpers.js';

const here = import.meta.dirname;
let childScript = '';

beforeAll(async () => {
  childScript = await bundleChild(join(here, 'fixtures', 'lock-child.ts'));
});

function startChild(dir: string, mode: 'try' | 'hold'): { child: ChildProcessWithoutNullStreams; result: Promise<{ opened: boolean; code?: string; message?: string }> } {
  const child = spawn(process.execPath, [childScript, dir, mode], { cwd: join(here, '..') });
  const lines = createInterface({ input: child.stdout });
  const result = new Promise<{ opened: boolean; code?: string }>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) without output`)));
  });
  return { child, result };
}

describe('one writer per filesystem', () => {
  it('a second writer in this process gets ELOCKED; readers open; after close the next writer opens', async () => {
    await withTempDir(async (dir) => {
      const a = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 4 });
      await a.write(h264Frame(1, 1000, 500, true));
      const err = await ValkkaSingleFS.loadFromDirectory(dir).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ELOCKED' });
      expect((err as Error).message).toContain(dir);
      // newFromDirectory must not wipe a directory in use either.
      await expect(ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 4 })).rejects.toMatchObject({ code: 'ELOCKED' });
      await a.flush();
      const reader = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true });
      expect((await reader.readBlock(0)).frames.map((f) => f.timestamp)).toEqual([1000]);
      await reader.close();
      await a.close();
      const b = await ValkkaSingleFS.loadFromDirectory(dir);
      expect(b.currentBlock).toBe(1); // a's close sealed block 0
      await b.close();
    });
  });

  it('a writer in another process excludes this one, and the other way round', async () => {
    await withTempDir(async (dir) => {
      const a = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 8192, nBlocks: 4 });
      const tried = startChild(dir, 'try');
      expect(await tried.result).toMatchObject({ opened: false, code: 'ELOCKED' });
      await a.close();

      const held = startChild(dir, 'hold');
      expect(await held.result).toEqual({ opened: true });
      await expect(ValkkaSingleFS.loadFromDirectory(dir)).rejects.toMatchObject({ code: 'ELOCKED' });
      const exited = new Promise((resolve) => held.child.once('exit', resolve));
      held.child.stdin.end();
      await exited;
      const b = await ValkkaSingleFS.loadFromDirectory(dir);
      await b.close();
    });
  });
});
