import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDevice, backends } from '../src/index.js';
import { rejection, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

const nativeMissing = skipReason('FileDevice with the native backend', [
  [backends.native !== undefined, `the @valkka/native addon did not load (${backends.fallback.capabilities().fallbackReason ?? 'unknown'})`],
]);

const suites = [
  ['native', backends.native, nativeMissing],
  ['fallback', backends.fallback, undefined],
] as const;

for (const [label, backend, skip] of suites) {
  describe.skipIf(skip)(`FileDevice (${label} backend)`, () => {
    const tmp = tempDir(`blockdev-file-${label}-`);
    afterAll(() => tmp.remove());
    const path = (name: string) => join(tmp.dir, name);

    it('create() reserves the whole size on disk (not sparse) and reports its geometry', async () => {
      const dev = await FileDevice.create(path('reserved.dev'), 16 * MiB, { backend });
      try {
        const st = statSync(path('reserved.dev'));
        expect(st.size).toBe(16 * MiB);
        expect(st.blocks * 512).toBeGreaterThanOrEqual(16 * MiB);
        expect(dev.size).toBe(16 * MiB);
        expect(dev.alignment).toBe(4096);
        expect(dev.name).toBe(path('reserved.dev'));
        expect(dev.backendName).toBe(label);
        expect(dev.direct).toBe(backend!.capabilities().directIO);
      } finally {
        await dev.close();
      }
    });

    it('create() refuses an existing file, replaces it with overwrite, never replaces a non-file', async () => {
      writeFileSync(path('existing.dev'), 'keep me');
      const err = await rejection(FileDevice.create(path('existing.dev'), MiB, { backend }));
      expect(err.code).toBe('EEXIST');
      expect(err.message).toContain(path('existing.dev'));
      expect(readFileSync(path('existing.dev'), 'utf8')).toBe('keep me');

      const dev = await FileDevice.create(path('existing.dev'), MiB, { backend, overwrite: true });
      await dev.close();
      expect(statSync(path('existing.dev')).size).toBe(MiB);

      mkdirSync(path('a-directory'));
      expect((await rejection(FileDevice.create(path('a-directory'), MiB, { backend, overwrite: true }))).code).toBe('EINVAL');
      expect(statSync(path('a-directory')).isDirectory()).toBe(true);
      expect((await rejection(FileDevice.create(path('odd.dev'), 1000, { backend }))).code).toBe('EINVAL');
    });

    it('create() refuses a size larger than the free space before writing anything, and leaves no file', async () => {
      const err = await rejection(FileDevice.create(path('huge.dev'), 2 ** 50, { backend }));
      expect(err.code).toBe('ENOSPC');
      expect(err.message).toMatch(/huge\.dev: cannot reserve 1125899906842624 bytes: only \d+ bytes free/);
      expect(existsSync(path('huge.dev'))).toBe(false);
    });

    it('write, flush, close, reopen, read: the bytes round-trip and sit at the right file offset', async () => {
      const dev = await FileDevice.create(path('rt.dev'), 8 * MiB, { backend });
      const block = dev.allocBuffer(MiB);
      for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
      await dev.write(3 * MiB, block);
      await dev.flush();
      await dev.close();

      const onDisk = readFileSync(path('rt.dev'));
      expect(onDisk.subarray(3 * MiB, 4 * MiB).equals(block)).toBe(true);
      expect(onDisk.subarray(0, 3 * MiB).every((b) => b === 0)).toBe(true);

      const again = await FileDevice.open(path('rt.dev'), { backend, readOnly: true });
      try {
        const out = again.allocBuffer(MiB);
        await again.read(3 * MiB, out);
        expect(out.equals(block)).toBe(true);
        const err = await rejection(again.write(0, again.allocBuffer(4096)));
        expect(err.code).toBe('EREADONLY');
      } finally {
        await again.close();
      }
    });

    it('several writes in flight at once each land in their own range', async () => {
      const dev = await FileDevice.create(path('inflight.dev'), 8 * MiB, { backend });
      const blocks = Array.from({ length: 8 }, (_, n) => dev.allocBuffer(MiB).fill(n + 1));
      try {
        await Promise.all(blocks.map((block, n) => dev.write(n * MiB, block)));
        await dev.flush();
        const back = await Promise.all(blocks.map(async (_, n) => {
          const out = dev.allocBuffer(MiB);
          await dev.read(n * MiB, out);
          return out;
        }));
        back.forEach((out, n) => expect(out.equals(blocks[n]!)).toBe(true));
      } finally {
        await dev.close();
      }
      const onDisk = readFileSync(path('inflight.dev'));
      blocks.forEach((block, n) => expect(onDisk.subarray(n * MiB, (n + 1) * MiB).equals(block)).toBe(true));
    });

    it('rejects unaligned and out-of-range I/O with errors naming the device, offset and length', async () => {
      const dev = await FileDevice.create(path('align.dev'), MiB, { backend });
      try {
        const unaligned = await rejection(dev.write(100, dev.allocBuffer(4096)));
        expect(unaligned.code).toBe('EALIGN');
        expect(unaligned.message).toBe(`${path('align.dev')}: offset and length must be multiples of 4096 (offset 100, length 4096)`);
        expect((await rejection(dev.read(0, dev.allocBuffer(1000)))).code).toBe('EALIGN');
        const past = await rejection(dev.read(MiB, dev.allocBuffer(4096)));
        expect(past.code).toBe('ERANGE');
        expect(past.offset).toBe(MiB);
        if (dev.direct) {
          // an aligned offset but a buffer at an odd address: O_DIRECT refuses it
          const odd = dev.allocBuffer(8192).subarray(1, 4097);
          expect((await rejection(dev.write(0, odd))).code).toBe('EALIGN');
        }
      } finally {
        await dev.close();
      }
    });

    it('lock(): a second writer on the same file gets ELOCKED until the first closes', async () => {
      const first = await FileDevice.create(path('lock.dev'), MiB, { backend });
      const second = await FileDevice.open(path('lock.dev'), { backend });
      try {
        await first.lock();
        const err = await rejection(second.lock());
        expect(err.code).toBe('ELOCKED');
        expect(err.message).toContain(path('lock.dev'));
        await first.close();
        await second.lock();
      } finally {
        await first.close();
        await second.close();
      }
    });

    it('open() of a missing file gives ENOENT, I/O after close gives ECLOSED', async () => {
      expect((await rejection(FileDevice.open(path('missing.dev'), { backend }))).code).toBe('ENOENT');
      const dev = await FileDevice.create(path('closed.dev'), MiB, { backend });
      await dev.close();
      expect((await rejection(dev.read(0, dev.allocBuffer(4096)))).code).toBe('ECLOSED');
    });
  });
}
