// Hostile input around the directory: an edited valkkafs.json (geometry, fs id), a dumpfile that is
// not ours (a symlink to another file, a file of other bytes, another filesystem's dumpfile), FIFOs
// in place of each file, sizes beyond the limits, re-initialising a device that holds an older
// filesystem, and a full disk (tmpfs, as root). Every refusal is a ValkkaFSError with a code whose
// message names the file, and nothing that is not ours is ever written.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { describe, expect, it } from 'vitest';

import { MemoryDevice } from '@valkka/blockdev';

import { MAX_BLOCKS, MAX_BLOCKSIZE, ValkkaMultiFS, ValkkaSingleFS, check, loadValkkaFS, recordingsAt } from '../src/index.js';
import { LegacyWriter, h264Nal } from './fixtures/legacy/legacy-writer.js';
import { plainFrame, withTempDir } from './helpers.js';

const BS = 8192;
const N = 8;
const T0 = 1_700_000_000_000;

/** A MultiFS of N blocks of BS bytes with two streams written around the ring once. */
async function recorded(dir: string): Promise<number> {
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N });
  let frames = 0;
  for (let i = 0; i < 60; i++) {
    await fs.write(plainFrame(1 + (i % 2), T0 + 40 * i, 900));
    frames++;
  }
  await fs.close();
  return frames;
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const jsonOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8'));
const editJson = (dir: string, edit: Record<string, unknown>) => writeFileSync(join(dir, 'valkkafs.json'), JSON.stringify({ ...jsonOf(dir), ...edit }));

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed`);
}

/** Every way the directory is used: writer, reader, check, check --repair. */
const OPENERS = {
  writer: (dir: string) => ValkkaMultiFS.loadFromDirectory(dir).then((fs) => fs.close()),
  reader: (dir: string) => loadValkkaFS(dir, { readOnly: true }).then((fs) => fs.close()),
  check: (dir: string) => check(dir),
};

describe('geometry and id: valkkafs.json against the block headers', () => {
  it.each([
    ['blocksize', { blocksize: BS / 2, n_blocks: N * 2 }, /blocksize is 4096 in valkkafs.json but 8192 on the device/],
    ['n_blocks', { n_blocks: N - 2 }, /says 6 blocks of 8192 bytes \(49152 bytes\), .* has 65536 bytes/],
    ['fs_id', { fs_id: 'ab'.repeat(16) }, /fs_id is abab.* in valkkafs.json but [0-9a-f]{32} on the device/],
  ])('an edited %s is refused by open and check; check --repair restores it from the device', async (_what, edit, message) => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      const { frames } = await check(dir);
      const good = jsonOf(dir);
      const dumpfile = sha(join(dir, 'dumpfile'));
      editJson(dir, edit);
      for (const open of Object.values(OPENERS)) await expect(open(dir)).rejects.toMatchObject({ code: 'EMETADATA', message });
      expect(sha(join(dir, 'dumpfile'))).toBe(dumpfile); // nothing written with the wrong geometry

      const repaired = await check(dir, { repair: true });
      expect(repaired.ok).toBe(true);
      expect(repaired.problems[0]).toMatchObject({ code: 'IDENTITY', message: expect.stringMatching(/restored from the device/) });
      expect(jsonOf(dir)).toMatchObject({ blocksize: good.blocksize, n_blocks: good.n_blocks, fs_id: good.fs_id });
      const after = await check(dir);
      expect(after).toMatchObject({ ok: true, frames, problems: [] });
    });
  });

  it('repair refuses to guess when the device has no header of any filesystem', async () => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      const path = join(dir, 'dumpfile');
      writeFileSync(path, Buffer.alloc(statSync(path).size, 0x5a)); // every block overwritten by something else
      editJson(dir, { fs_id: 'cd'.repeat(16) });
      const before = readFileSync(join(dir, 'valkkafs.json'), 'utf8');
      await expect(check(dir, { repair: true })).rejects.toMatchObject({ code: 'EMETADATA', message: expect.stringMatching(/cannot restore valkkafs.json from .*dumpfile: block 0 has no valid header \(bad magic\)/) });
      expect(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).toBe(before);
    });
  });

  it('a damaged block 0 header alone does not hide the filesystem (other headers say who it is)', async () => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      const path = join(dir, 'dumpfile');
      const bytes = readFileSync(path);
      bytes[20] = bytes[20]! ^ 0xff; // inside block 0's fs id: its CRC fails
      writeFileSync(path, bytes);
      const fs = await ValkkaMultiFS.loadFromDirectory(dir, { readOnly: true });
      expect(fs.getBlockTable().filter(([a]) => a > 0).length).toBeGreaterThan(0);
      await fs.close();
      editJson(dir, { fs_id: 'ef'.repeat(16) });
      await expect(OPENERS.reader(dir)).rejects.toMatchObject({ code: 'EMETADATA', message: /fs_id is efef.* but [0-9a-f]{32} on the device \(.*block [1-7]'s header\)/ });
    });
  });
});

describe('a dumpfile that is not ours is never written', () => {
  it('a symlink to an unrelated file is refused by every command, the file untouched', async () => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      const victim = join(dir, 'precious.bin');
      writeFileSync(victim, Buffer.alloc(BS * N, 7));
      const hash = sha(victim);
      unlinkSync(join(dir, 'dumpfile'));
      symlinkSync(victim, join(dir, 'dumpfile'));
      for (const open of Object.values(OPENERS)) await expect(open(dir)).rejects.toMatchObject({ code: 'EFILETYPE', message: /dumpfile: the dumpfile is a symbolic link/ });
      await expect(check(dir, { repair: true })).rejects.toMatchObject({ code: 'EFILETYPE' });
      // init replaces only regular files: the symlink (and its target) are left alone.
      await expect(ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N })).rejects.toMatchObject({ code: 'EFILETYPE' });
      expect(sha(victim)).toBe(hash);
    });
  });

  it('a regular file of other bytes, or another filesystem\'s dumpfile, is refused', async () => {
    await withTempDir(async (dir) => {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      await recorded(a);
      await recorded(b);
      const other = readFileSync(join(b, 'dumpfile'));
      writeFileSync(join(a, 'dumpfile'), other);
      for (const open of Object.values(OPENERS)) await expect(open(a)).rejects.toMatchObject({ code: 'EMETADATA', message: /fs_id is [0-9a-f]{32} in valkkafs.json but [0-9a-f]{32} on the device/ });
      writeFileSync(join(a, 'dumpfile'), Buffer.alloc(other.length, 0x41));
      for (const open of Object.values(OPENERS)) await expect(open(a)).rejects.toMatchObject({ code: 'EMETADATA', message: /holds no ValkkaFS block header \(block 0: bad magic/ });
      expect(readFileSync(join(a, 'dumpfile')).every((x) => x === 0x41)).toBe(true);
      writeFileSync(join(a, 'dumpfile'), other.subarray(0, BS * (N - 1))); // a dumpfile of the wrong size
      await expect(OPENERS.writer(a)).rejects.toMatchObject({ code: 'EMETADATA', message: /has 57344 bytes: refusing/ });
    });
  });
});

describe.skipIf(skipReason('FIFOs in place of the files', [[hasCommand('mkfifo'), 'mkfifo not installed']]))('FIFOs and other non-regular files', () => {
  it.each(['dumpfile', 'blockfile', 'valkkafs.json'])('a FIFO as %s is refused at once by every command, never opened', async (name) => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      unlinkSync(join(dir, name));
      mkfifo(join(dir, name));
      const what = new RegExp(`${name.replace('.', '\\.')}: the ${name.replace('.', '\\.')} is a FIFO, not a regular file`);
      for (const open of Object.values(OPENERS)) await expect(open(dir)).rejects.toMatchObject({ code: 'EFILETYPE', message: what });
      await expect(ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N })).rejects.toMatchObject({ code: 'EFILETYPE', message: what });
      expect(statSync(join(dir, name)).isFIFO()).toBe(true);
    });
  }, 20_000);

  it.each(['dumpfile', 'blockfile'])('a libValkka directory with a FIFO as %s is refused, not opened', async (name) => {
    await withTempDir(async (dir) => {
      const w = new LegacyWriter(dir, 8192, 4, 'single');
      w.write({ id: 1, subsession: 0, ts: 1000, mediaType: 0, codecId: 27, payload: h264Nal(5, 500) });
      w.stop();
      unlinkSync(join(dir, name));
      mkfifo(join(dir, name));
      await expect(OPENERS.reader(dir)).rejects.toMatchObject({ code: 'EFILETYPE', message: new RegExp(`${name}: the ${name} is a FIFO`) });
    });
  }, 20_000);

  it('a directory in place of the blockfile, a character device in place of the dumpfile', async () => {
    await withTempDir(async (dir) => {
      await recorded(dir);
      unlinkSync(join(dir, 'blockfile'));
      mkdirSync(join(dir, 'blockfile'));
      await expect(OPENERS.writer(dir)).rejects.toMatchObject({ code: 'EFILETYPE', message: /blockfile is a directory/ });
      await expect(OPENERS.reader(dir)).rejects.toMatchObject({ code: 'EFILETYPE' });
    });
    await withTempDir(async (dir) => {
      await recorded(dir);
      unlinkSync(join(dir, 'dumpfile'));
      symlinkSync('/dev/zero', join(dir, 'dumpfile'));
      await expect(OPENERS.reader(dir)).rejects.toMatchObject({ code: 'EFILETYPE', message: /block devices only in partition mode|symbolic link/ });
    });
  });
});

describe('limits before anything touches the disk', () => {
  it('a blocksize above the maximum, too many or too few blocks: refused, no directory made', async () => {
    await withTempDir(async (base) => {
      const dirname = join(base, 'new');
      const cases: Array<[{ blocksize: number; nBlocks?: number; deviceSize?: number }, RegExp]> = [
        [{ blocksize: 3 * 2 ** 30, nBlocks: 4 }, new RegExp(`blocksize 3221225472 is larger than the maximum ${MAX_BLOCKSIZE}`)],
        [{ blocksize: 2 ** 31, nBlocks: 4 }, /larger than the maximum/],
        [{ blocksize: 4096, nBlocks: 2 ** 32 }, new RegExp(`n_blocks 4294967296 \\(requested\\) is more than the maximum ${MAX_BLOCKS}`)],
        [{ blocksize: 4096, nBlocks: MAX_BLOCKS + 1 }, /more than the maximum/],
        [{ blocksize: 4096, nBlocks: 1 }, /n_blocks must be an integer >= 2/],
        [{ blocksize: 4096, deviceSize: 2 ** 50 }, /more than the maximum/],
      ];
      for (const [geometry, message] of cases) {
        await expect(ValkkaSingleFS.newFromDirectory({ dirname, ...geometry })).rejects.toMatchObject({ code: 'EARGUMENT', message });
        expect(existsSync(dirname)).toBe(false);
      }
    });
  });

  it('an init that fails on the disk leaves no half-made directory, and names the file', async () => {
    await withTempDir(async (base) => {
      const dirname = join(base, 'deep', 'new');
      // 1 PiB: within the limits, beyond any disk here.
      await expect(ValkkaSingleFS.newFromDirectory({ dirname, blocksize: MAX_BLOCKSIZE, nBlocks: 2 ** 24 })).rejects.toMatchObject({
        message: expect.stringContaining(join(dirname, 'dumpfile')),
      });
      expect(existsSync(join(base, 'deep'))).toBe(false);
      // An existing directory keeps what it had, and gets nothing new.
      mkdirSync(dirname, { recursive: true });
      writeFileSync(join(dirname, 'notes.txt'), 'mine');
      await expect(ValkkaSingleFS.newFromDirectory({ dirname, blocksize: MAX_BLOCKSIZE, nBlocks: 2 ** 24 })).rejects.toThrow();
      expect(readdirSync(dirname)).toEqual(['notes.txt']);
    });
  });

  it('the blockfile is reserved on disk at init, not sparse', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: 4096 });
      await fs.close();
      const st = statSync(join(dir, 'blockfile'));
      expect(st.size).toBe(4096 * 16);
      expect(st.blocks * 512).toBeGreaterThanOrEqual(st.size);
    });
  });
});

describe('re-initialising a device that holds an older filesystem', () => {
  it('old blocks are foreign to the new filesystem: check is clean, nothing old is shown', async () => {
    await withTempDir(async (dir) => {
      const dev = new MemoryDevice(BS * N, { alignment: 4096, sectorSize: 512 });
      const old = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev });
      for (let i = 0; i < 80; i++) await old.write(plainFrame(1, T0 + 40 * i, 900));
      await old.close();
      expect((await check(dir, { device: dev })).blocksWritten).toBe(N);

      const fresh = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev });
      expect(fresh.getTimeRange()).toBeUndefined();
      expect((await fresh.describe()).streams).toEqual([]);
      const report = await check(fresh, { device: dev });
      expect(report).toMatchObject({ ok: true, blocksWritten: 1, frames: 0, problems: [] });
      for (let i = 0; i < 20; i++) await fresh.write(plainFrame(2, T0 + 100_000 + 40 * i, 900));
      await fresh.close();
      const again = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev, readOnly: true });
      const frames = [];
      for (const b of again.getInd([0, 2 * T0])) frames.push(...(await again.readBlock(b)).frames);
      expect(frames.map((f) => f.streamId)).toEqual(Array(20).fill(2));
      await again.close();
      expect(await check(dir, { device: dev })).toMatchObject({ ok: true, frames: 20 });
    });
  });
});

// ---- as root: a reused GPT partition on a loop device, and a full disk on a small tmpfs ----

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const noLoop = skipReason('init over a reused partition (loop device)', [
  [isRoot, 'not root'],
  [hasCommand('sgdisk') && hasCommand('sfdisk'), 'sgdisk or sfdisk not installed (apt-get install gdisk fdisk)'],
  [hasCommand('losetup', ['--version']) && hasCommand('partx', ['--version']), 'losetup or partx not installed'],
]);

describe.skipIf(noLoop)('a reused partition', () => {
  it('recordingsAt names what is there; a new filesystem on it checks clean and shows nothing old', async () => {
    await withTempDir(async (work) => {
      const img = join(work, 'disk.img');
      run('truncate', ['-s', '16M', img]);
      run('sgdisk', ['--clear', '--new=1:2048:+8M', '--typecode=1:8200', img]);
      const uuid = (JSON.parse(run('sfdisk', ['--json', img])) as { partitiontable: { partitions: Array<{ uuid: string }> } }).partitiontable.partitions[0]!.uuid;
      const loop = run('losetup', ['-f', '--show', '-P', img]).trim();
      try {
        spawnSync('partx', ['-a', loop], { stdio: 'ignore' });
        const first = join(work, 'first');
        const old = await ValkkaMultiFS.newFromDirectory({ dirname: first, blocksize: 1 << 20, partitionUuid: uuid });
        for (let i = 0; i < 400; i++) await old.write(plainFrame(5 + (i % 2), T0 + 40 * i, 30_000));
        await old.close();

        const second = join(work, 'second');
        const there = await recordingsAt(second, uuid);
        expect(there).toMatchObject({ streams: [5, 6], sampled: true });
        expect(there!.timeRange![1]).toBe(T0 + 40 * 399); // the oldest frames were overwritten by the ring
        expect(await recordingsAt(first)).toMatchObject({ where: first, streams: [5, 6], sampled: false });

        const fresh = await ValkkaMultiFS.newFromDirectory({ dirname: second, blocksize: 1 << 20, partitionUuid: uuid });
        expect(fresh.getTimeRange()).toBeUndefined();
        await fresh.close();
        expect(await check(second)).toMatchObject({ ok: true, blocksWritten: 1, frames: 0, problems: [] });
        expect((await loadValkkaFS(second, { readOnly: true }).then(async (fs) => [await fs.describe(), await fs.close()]))[0]).toMatchObject({ usedBlocks: 0, streams: [] });
        // The first directory's json now names a filesystem the partition no longer holds.
        await expect(OPENERS.reader(first)).rejects.toMatchObject({ code: 'EMETADATA', message: /fs_id is [0-9a-f]{32} in valkkafs.json but [0-9a-f]{32} on the device/ });
        expect(await recordingsAt(second, uuid)).toBeUndefined();
      } finally {
        spawnSync('losetup', ['-d', loop], { stdio: 'ignore' });
      }
    });
  }, 30_000);
});

const noTmpfs = skipReason('a full disk (tmpfs)', [
  [isRoot, 'not root'],
  [hasCommand('mount', ['--version']), 'mount not installed'],
]);

describe.skipIf(noTmpfs)('a full disk (small tmpfs)', () => {
  it('recording goes on with the disk full, the json follows in place, no tmp file is left; a failed init names its file', async () => {
    await withTempDir(async (work) => {
      const mnt = join(work, 'mnt');
      mkdirSync(mnt);
      run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
      try {
        const dir = join(mnt, 'fs');
        const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: 64 * 1024, nBlocks: 16, flushIntervalMs: 3_600_000 });
        // Fill what is left of the disk.
        const filler = Buffer.alloc(4096, 1);
        const fd = join(mnt, 'filler');
        for (let i = 0; ; i++) {
          try {
            writeFileSync(fd, filler, { flag: i === 0 ? 'w' : 'a' });
          } catch (err) {
            expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
            break;
          }
        }
        // The fault is real: not even a one-byte file fits now (the old way to rewrite the json).
        expect(() => writeFileSync(join(mnt, 'probe'), 'x')).toThrow(/ENOSPC/);
        const jsonBefore = jsonOf(dir).current_block;
        let written = 0;
        for (let i = 0; i < 600; i++) {
          await fs.write(plainFrame(1, T0 + 40 * i, 3000)); // ~1.8 MB: around the 1 MiB ring
          written++;
          if (i % 50 === 0) await fs.flush();
        }
        await fs.close();
        expect(fs.metadataError).toBeUndefined();
        expect(readdirSync(dir).sort()).toEqual(['blockfile', 'dumpfile', 'valkkafs.json']);
        const report = await check(dir);
        expect(report).toMatchObject({ ok: true, problems: [] });
        expect(jsonOf(dir).current_block).toBe(report.newestBlock);
        expect(report.newestBlock).not.toBe(jsonBefore); // the json was rewritten while the disk was full
        const again = await ValkkaMultiFS.loadFromDirectory(dir, { readOnly: true });
        expect(again.getTimeRange()![1]).toBe(T0 + 40 * (written - 1));
        await again.close();

        const other = join(mnt, 'other');
        await expect(ValkkaMultiFS.newFromDirectory({ dirname: other, blocksize: 64 * 1024, nBlocks: 4 })).rejects.toMatchObject({
          message: expect.stringMatching(new RegExp(`${join(other, '(dumpfile|blockfile|valkkafs.json)')}.*(no space|only \\d+ bytes free)`)),
        });
        expect(existsSync(other)).toBe(false);
      } finally {
        spawnSync('umount', [mnt], { stdio: 'ignore' });
      }
    });
  }, 30_000);
});
