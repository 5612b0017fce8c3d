// One suite body, run against the addon and against the pure-JS fallback.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NativeError, capabilities, nativeUnavailableReason } from '../src/index.js';
import type { RawFile } from '../src/index.js';
import { backendCases, bundleForChildren, makeTempDir, nodeHeadersPresent } from './backends.js';

const MiB = 1 << 20;

describe('addon build', () => {
  it.skipIf(process.env.VALKKA_NO_NATIVE === '1' || !nodeHeadersPresent())('loads on a machine with Node headers, and is the default', () => {
    // A tripwire, so that a broken build cannot pass as "native tests skipped".
    const fix = 'run `pnpm --filter @valkka/native build:native`, or set VALKKA_NO_NATIVE=1 to test the fallback alone';
    expect(nativeUnavailableReason, `the addon should load where Node headers exist; ${fix}`).toBeUndefined();
    expect(capabilities().backend).toBe('native');
  });
});

describe.each(backendCases)('$name backend', ({ name, api, native, unavailable }) => {
  const why = skipReason(`@valkka/native ${name} backend`, [[unavailable === undefined, unavailable ?? '']]);

  describe.skipIf(why)('on regular files', () => {
    let dir = '';
    let removeDir = async () => {};
    const open: RawFile[] = [];
    const track = (file: RawFile): RawFile => (open.push(file), file);

    beforeAll(async () => {
      ({ dir, remove: removeDir } = await makeTempDir());
    });
    afterAll(async () => {
      await Promise.all(open.map((file) => file.close()));
      await removeDir();
    });

    it('reports its capabilities', () => {
      const caps = api.capabilities();
      expect(caps.backend).toBe(name);
      expect(caps.directIO).toBe(name === 'native');
      expect(caps.ofdLocks).toBe(name === 'native');
      expect(caps.fallbackReason === undefined).toBe(name === 'native');
    });

    it('allocates zero-filled buffers of the asked size', () => {
      for (const size of [0, 1, 4096, 3 * MiB + 17]) {
        const buffer = api.allocAligned(size);
        expect(buffer.length).toBe(size);
        expect(buffer.every((byte) => byte === 0)).toBe(true);
      }
    });

    it.skipIf(!native)('aligns buffer addresses (native)', () => {
      for (const alignment of [512, 4096, 65536]) {
        for (const size of [1, 4096, 5 * MiB]) {
          expect(native!.addressOf(api.allocAligned(size, alignment)) % alignment).toBe(0);
        }
      }
      // Sanity check of addressOf itself: a one-byte offset view is one byte further on.
      const buffer = api.allocAligned(8192);
      expect(native!.addressOf(buffer.subarray(1)) - native!.addressOf(buffer)).toBe(1);
    });

    it('rejects bad allocation arguments with EARG', () => {
      expect(() => api.allocAligned(-1)).toThrow(expect.objectContaining({ code: 'EARG' }));
      expect(() => api.allocAligned(10, 3000)).toThrow(/alignment must be a power of two/);
      expect(() => api.allocAligned(1.5)).toThrow(NativeError);
    });

    it('writes and reads back multi-MiB ranges with O_DIRECT asked', async () => {
      const path = join(dir, 'roundtrip.bin');
      const file = track(await api.open(path, { write: true, create: true, direct: true }));
      expect(file.direct).toBe(name === 'native');
      const data = api.allocAligned(8 * MiB);
      randomFillSync(data);
      expect(await file.write(data, 4096)).toBe(8 * MiB);
      const back = api.allocAligned(8 * MiB);
      expect(await file.read(back, 4096)).toBe(8 * MiB);
      expect(back.equals(data)).toBe(true);
      // What reached the file is what was written, seen through node:fs.
      expect((await readFile(path)).subarray(4096).equals(data)).toBe(true);
      // A read running past the end of file is short.
      const tail = api.allocAligned(2 * MiB);
      expect(await file.read(tail, 4096 + 7 * MiB)).toBe(MiB);
      expect(tail.subarray(0, MiB).equals(data.subarray(7 * MiB))).toBe(true);
      await file.close();
    });

    it('gives EINVAL for unaligned O_DIRECT writes only where O_DIRECT is real', async () => {
      const path = join(dir, 'unaligned.bin');
      const file = track(await api.open(path, { write: true, create: true, direct: true }));
      const aligned = api.allocAligned(8192);
      const unalignedBuffer = aligned.subarray(1, 4097);
      if (api.capabilities().directIO) {
        await expect(file.write(unalignedBuffer, 0)).rejects.toMatchObject({ code: 'EINVAL' });
        await expect(file.write(aligned.subarray(0, 4096), 100)).rejects.toThrow(/EINVAL.*pwrite/);
        await expect(file.write(aligned.subarray(0, 4096), 100)).rejects.toThrow(path);
      } else {
        expect(await file.write(unalignedBuffer, 0)).toBe(4096);
        expect(await file.write(aligned.subarray(0, 4096), 100)).toBe(4096);
      }
      await file.close();
    });

    it('fallocate reserves real blocks (not sparse) and keeps existing bytes', async () => {
      const path = join(dir, 'reserved.bin');
      const file = track(await api.open(path, { write: true, create: true }));
      const head = Buffer.from('valkka head bytes');
      await file.write(head, 0);
      await file.fallocate(0, 16 * MiB);
      const info = await stat(path);
      expect(info.size).toBe(16 * MiB);
      expect(info.blocks * 512).toBeGreaterThanOrEqual(16 * MiB);
      expect(await file.size()).toBe(16 * MiB);
      const back = Buffer.alloc(head.length);
      await file.read(back, 0);
      expect(back.equals(head)).toBe(true);
      await expect(file.fallocate(0, 0)).rejects.toMatchObject({ code: 'EINVAL' });
      await file.close();
    });

    it('datasyncs, and reports size and sector sizes of a file', async () => {
      const path = join(dir, 'sized.bin');
      const file = track(await api.open(path, { write: true, create: true }));
      await file.write(Buffer.alloc(12345, 1), 0);
      await expect(file.datasync()).resolves.toBeUndefined();
      expect(await file.size()).toBe(12345);
      const { blksize } = await stat(path);
      expect(await file.sectorSizes()).toEqual({ logical: 512, physical: Math.max(512, blksize) });
      await file.close();
    });

    it('names the path and operation in errors', async () => {
      const missing = join(dir, 'no-such-dir', 'file.bin');
      await expect(api.open(missing)).rejects.toMatchObject({ code: 'ENOENT', path: missing, operation: 'open' });
      await expect(api.open(missing)).rejects.toThrow(`open ${missing}: ENOENT`);
      const path = join(dir, 'readonly.bin');
      await writeFile(path, 'x');
      const file = await api.open(path);
      await expect(file.write(Buffer.from('y'), 0)).rejects.toMatchObject({ code: 'EBADF', path });
      await expect(file.read(Buffer.alloc(1), -1)).rejects.toMatchObject({ code: 'EARG' });
      expect(() => file.lock('exclusive')).toThrow(`lock exclusive ${path}: EBADF, an exclusive lock needs the file opened with write: true`);
      expect(() => file.lock('forever' as 'shared')).toThrow(expect.objectContaining({ code: 'EARG' }));
      await file.close();
      await expect(file.read(Buffer.alloc(1), 0)).rejects.toThrow(`read ${path}: EBADF, the file is closed`);
      await file.close(); // closing twice is harmless
    });

    it('lock conflicts between two opens in one process fail at once with ELOCKED', async () => {
      const path = join(dir, 'locked.bin');
      const first = track(await api.open(path, { write: true, create: true }));
      const second = track(await api.open(path, { write: true }));
      first.lock('exclusive');
      expect(() => second.lock('exclusive')).toThrow(expect.objectContaining({ code: 'ELOCKED', path }));
      expect(() => second.lock('shared')).toThrow(new RegExp(`lock shared ${path}: ELOCKED`));
      first.unlock();
      second.lock('shared');
      first.lock('shared'); // shared locks coexist
      expect(() => first.lock('exclusive')).toThrow(expect.objectContaining({ code: 'ELOCKED' }));
      await second.close(); // closing releases its lock
      // The failed upgrade kept first's shared lock.
      const third = track(await api.open(path, { write: true }));
      expect(() => third.lock('exclusive')).toThrow(expect.objectContaining({ code: 'ELOCKED' }));
      first.lock('exclusive'); // upgrade, now that first is the only holder
      expect(() => third.lock('shared')).toThrow(expect.objectContaining({ code: 'ELOCKED' }));
      first.lock('shared'); // downgrade
      third.lock('shared');
      await third.close();
      await first.close();
    });

    describe('locks across processes', () => {
      let entry = '';
      let removeBundle = async () => {};
      const childScript = (): string => join(dir, 'lock-child.mjs');

      beforeAll(async () => {
        ({ entry, remove: removeBundle } = await bundleForChildren());
        await writeFile(
          childScript(),
          `const [entry, backendName, path, mode, after] = process.argv.slice(2);
const mod = await import(entry);
const backend = backendName === 'native' ? mod.nativeBackend : mod.fallbackBackend;
const file = await backend.open(path, { write: true });
try { file.lock(mode); console.log('LOCKED'); } catch (error) { console.log(error.code + ' ' + error.message); }
if (after === 'die-holding') process.kill(process.pid, 'SIGKILL');
await file.close();
`,
        );
      });
      afterAll(() => removeBundle());

      const runChild = (path: string, mode: string, after = 'close'): string => {
        const child = spawnSync(process.execPath, [childScript(), pathToFileURL(entry).href, name, path, mode, after], { encoding: 'utf8' });
        expect(child.signal ?? child.status).toBe(after === 'die-holding' ? 'SIGKILL' : 0);
        return child.stdout.trim();
      };

      it('a child process gets ELOCKED naming the path while the parent holds the lock', async () => {
        const path = join(dir, 'shared-with-child.bin');
        const file = track(await api.open(path, { write: true, create: true }));
        file.lock('exclusive');
        expect(runChild(path, 'shared')).toMatch(new RegExp(`^ELOCKED lock shared ${path}: ELOCKED`));
        file.lock('shared');
        expect(runChild(path, 'shared')).toBe('LOCKED');
        expect(runChild(path, 'exclusive')).toMatch(/^ELOCKED /);
        file.unlock();
        expect(runChild(path, 'exclusive')).toBe('LOCKED');
        await file.close();
      });

      it('a lock left by a killed process does not block (stale lock)', async () => {
        const path = join(dir, 'dead-holder.bin');
        await writeFile(path, '');
        expect(runChild(path, 'exclusive', 'die-holding')).toBe('LOCKED');
        // The fallback's lock file outlives its killed owner; the kernel drops an OFD lock.
        expect(existsSync(`${path}.lock`)).toBe(name === 'fallback');
        const file = track(await api.open(path, { write: true }));
        expect(() => file.lock('exclusive')).not.toThrow();
        await file.close();
      });
    });
  });
});
