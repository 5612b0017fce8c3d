// Fuzzing the reader: random and corrupted bytes in dumpfile, blockfile and valkkafs.json give
// only documented errors (ValkkaFSError with a code), never a crash, never a read buffer larger
// than a block, and never a frame that differs from one written.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { MemoryDevice } from '@valkka/blockdev';

import { type Frame, ValkkaFSError, ValkkaMultiFS, check } from '../src/index.js';
import { h264Frame, pick, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;
const N = 5;
const DOCUMENTED = new Set(['EARGUMENT', 'EFRAMETOOLARGE', 'ELOCKED', 'EREADONLY', 'ECLOSED', 'ENOTFOUND', 'EMETADATA', 'EBLOCKFILE', 'EBLOCKHEADER', 'EEXPIRED', 'EBLOCKINDEX']);

/** A MemoryDevice that fails the test if anything asks for a buffer beyond one block (check reads up to 8 MiB chunks of whole blocks). */
class BoundedDevice extends MemoryDevice {
  maxAlloc = 0;
  override allocBuffer(size: number): Buffer {
    this.maxAlloc = Math.max(this.maxAlloc, size);
    return super.allocBuffer(size);
  }
}

function expectDocumented(err: unknown): void {
  if (!(err instanceof ValkkaFSError)) throw err;
  expect(DOCUMENTED.has(err.code)).toBe(true);
}

async function attempt<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (err) {
    expectDocumented(err);
    return undefined;
  }
}

async function makeFs(dir: string): Promise<{ image: Uint8Array; written: Frame[] }> {
  const dev = new MemoryDevice(BS * N);
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev });
  const written: Frame[] = [];
  for (let i = 0; i < 45; i++) {
    const f = i % 4 === 3 ? plainFrame(2, 1000 + 40 * i, 300 + i) : h264Frame(1, 1000 + 40 * i, 700 + 13 * i, i % 8 === 0);
    await fs.write(f);
    written.push(f.codec === 0 ? { ...f, flags: 1 } : f);
  }
  await fs.close();
  return { image: dev.snapshot(), written };
}

/** Everything a reader and a writer do with a directory; checks every frame read is one written. */
async function exercise(dir: string, dev: BoundedDevice, written: Frame[]): Promise<void> {
  const known = new Set(written.map((f) => JSON.stringify(pick(f))));
  const reader = await attempt(() => ValkkaMultiFS.loadFromDirectory(dir, { readOnly: true, device: dev }));
  if (reader) {
    for (let b = 0; b < N; b++) {
      const c = await attempt(() => reader.readBlock(b));
      for (const f of c?.frames ?? []) expect(known.has(JSON.stringify(pick(f)))).toBe(true);
    }
    await attempt(() => reader.recordedRanges());
    await attempt(() => reader.describe());
    reader.getInd([0, 1e13]);
    reader.getIndNeigh(1, 2000);
    reader.getTimeRange();
    await reader.close();
  }
  await attempt(() => check(dir, { device: dev }));
  const writer = await attempt(() => ValkkaMultiFS.loadFromDirectory(dir, { device: dev }));
  if (writer) {
    await attempt(() => writer.write(plainFrame(3, 99_999, 100)));
    await attempt(() => writer.close());
  }
  expect(dev.maxAlloc).toBeLessThanOrEqual(Math.max(BS, Math.floor((8 * 1024 * 1024) / BS) * BS));
}

describe('fuzzing the reader', () => {
  it('corrupted dumpfile bytes', async () => {
    await withTempDir(async (dir) => {
      const { image, written } = await makeFs(dir);
      const json = await readFile(join(dir, 'valkkafs.json'));
      const blockfile = await readFile(join(dir, 'blockfile'));
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.integer({ min: 0, max: BS * N - 1 }), len: fc.integer({ min: 1, max: 64 }), byte: fc.integer({ min: 0, max: 255 }), random: fc.boolean() }), { minLength: 1, maxLength: 8 }),
          fc.integer(),
          async (edits, seed) => {
            const img = Uint8Array.from(image);
            let s = seed;
            for (const e of edits) for (let i = e.at; i < Math.min(img.length, e.at + e.len); i++) img[i] = e.random ? (s = (s * 1103515245 + 12345) >>> 0) & 0xff : e.byte;
            await writeFile(join(dir, 'valkkafs.json'), json);
            await writeFile(join(dir, 'blockfile'), blockfile);
            await exercise(dir, new BoundedDevice(BS * N, { image: img }), written);
          },
        ),
        { numRuns: 120 },
      );
    });
  });

  it('an entirely random dumpfile', async () => {
    await withTempDir(async (dir) => {
      const { written } = await makeFs(dir);
      const json = await readFile(join(dir, 'valkkafs.json'));
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: BS * N, maxLength: BS * N }), async (img) => {
          await writeFile(join(dir, 'valkkafs.json'), json);
          await writeFile(join(dir, 'blockfile'), Buffer.alloc(N * 16));
          await exercise(dir, new BoundedDevice(BS * N, { image: img }), written);
        }),
        { numRuns: 20 },
      );
    });
  });

  it('random blockfile contents and sizes', async () => {
    await withTempDir(async (dir) => {
      const { image, written } = await makeFs(dir);
      const json = await readFile(join(dir, 'valkkafs.json'));
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ minLength: N * 16, maxLength: N * 16 }), fc.uint8Array({ maxLength: 200 })), async (bytes) => {
          await writeFile(join(dir, 'valkkafs.json'), json);
          await writeFile(join(dir, 'blockfile'), bytes);
          await exercise(dir, new BoundedDevice(BS * N, { image }), written);
        }),
        { numRuns: 60 },
      );
    });
  });

  it('random and corrupted valkkafs.json', async () => {
    await withTempDir(async (dir) => {
      const { image, written } = await makeFs(dir);
      const good = JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8')) as Record<string, unknown>;
      const blockfile = await readFile(join(dir, 'blockfile'));
      const value = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.boolean(), fc.constant(2 ** 40), fc.constant(-1), fc.array(fc.integer(), { maxLength: 3 }));
      const text = fc.oneof(
        fc.string().map((s) => s),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
        fc.record({ key: fc.constantFrom(...Object.keys(good)), v: value }).map(({ key, v }) => JSON.stringify({ ...good, [key]: v })),
        fc.constantFrom(...Object.keys(good)).map((key) => JSON.stringify({ ...good, [key]: undefined })),
        fc.integer({ min: 0, max: 400 }).map((cut) => JSON.stringify(good).slice(0, cut)),
      );
      await fc.assert(
        fc.asyncProperty(text, async (t) => {
          await writeFile(join(dir, 'valkkafs.json'), t);
          await writeFile(join(dir, 'blockfile'), blockfile);
          await exercise(dir, new BoundedDevice(BS * N, { image }), written);
        }),
        { numRuns: 150 },
      );
    });
  });
});
