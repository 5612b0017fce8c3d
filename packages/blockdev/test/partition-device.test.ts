// End to end on real loop devices: needs root and losetup; always detaches what it attached.
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionDevice, listPartitions, type DeviceError, type PartitionInfo } from '../src/index.js';
import { addPartitions, attachLoop, backendCases, detachLoop, flipByte, loopWorks, makeImage, rejection, run, sfdisk, sha256, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

const why = skipReason('PartitionDevice on loop devices', [
  [isRoot, 'not root'],
  [hasCommand('sgdisk') && hasCommand('sfdisk') && hasCommand('partx', ['--version']), 'sgdisk, sfdisk or partx not installed'],
  [isRoot && loopWorks(), 'losetup cannot attach a loop device'],
]);

/** sha256 of a byte range of a file, read in chunks. */
function hashRange(path: string, offset: number, length: number): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(MiB);
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, length - done), offset + done);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function pattern(buf: Buffer, seed: number): Buffer {
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 13 + seed) & 0xff;
  return buf;
}

describe.skipIf(why)('PartitionDevice on a loop device (512-byte sectors)', () => {
  const tmp = tempDir('blockdev-part-');
  let img: string;
  let loop: string | undefined;
  let table: ReturnType<typeof sfdisk>;
  const byIndex = (i: number) => table.partitions[i - 1]!;
  const nodeOf = (i: number) => `${loop}p${i}`;
  const regionOf = (i: number) => ({ offset: byIndex(i).start * 512, length: byIndex(i).size * 512 });

  beforeAll(() => {
    img = makeImage(join(tmp.dir, 'disk.img'), 128, [
      '--new=1:2048:+64M',
      '--typecode=1:8200',
      '--change-name=1:valkka',
      '--new=2:0:+16M',
      '--typecode=2:8300',
      '--new=3:0:+16M',
      '--typecode=3:8200',
      '--change-name=3:refusals',
    ]);
    table = sfdisk(img);
    loop = attachLoop(img, { partitions: true });
    if (!loop) throw new Error('losetup failed after the probe worked');
    addPartitions(loop);
    for (const i of [1, 2, 3]) if (!existsSync(nodeOf(i))) throw new Error(`${nodeOf(i)} did not appear after partx -a`);
  });

  afterAll(() => {
    for (const cmd of [['swapoff', nodeOf(3)], ['umount', nodeOf(3)]]) spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
    detachLoop(loop);
    tmp.remove();
  });

  async function ours(): Promise<PartitionInfo[]> {
    return (await listPartitions()).filter((p) => p.disk === loop);
  }

  it('listPartitions() finds the partitions of the loop device with their nodes, sizes and usability', async () => {
    const parts = await ours();
    expect(parts.map((p) => [p.index, p.device, p.partuuid, p.typeName, p.size, p.usable])).toEqual([
      [1, nodeOf(1), byIndex(1).uuid, 'Linux swap', 64 * MiB, true],
      [2, nodeOf(2), byIndex(2).uuid, 'Linux filesystem', 16 * MiB, false],
      [3, nodeOf(3), byIndex(3).uuid, 'Linux swap', 16 * MiB, true],
    ]);
    expect(parts[1]?.reason).toMatch(/not Linux swap/);
  });

  it.each(backendCases)('opens by PARTUUID (any case), sizes it as the partition, and round-trips bytes at the partition offset only ($label backend)', async ({ backend, seed }) => {
    const p1 = regionOf(1);
    const untouched = { head: hashRange(img, 0, p1.offset), p2: hashRange(img, regionOf(2).offset, regionOf(2).length) };
    const dev = await PartitionDevice.open(byIndex(1).uuid.toLowerCase(), { backend });
    try {
      expect(dev.backendName).toBe(backend.capabilities().backend);
      expect(dev.size).toBe(64 * MiB);
      expect(dev.logicalSectorSize).toBe(512);
      expect(dev.name).toBe(`${nodeOf(1)} (PARTUUID ${byIndex(1).uuid.toLowerCase()})`);
      expect(dev.partition.index).toBe(1);
      const first = pattern(dev.allocBuffer(MiB), seed);
      const last = pattern(dev.allocBuffer(MiB), seed + 1);
      await dev.write(0, first);
      await dev.write(dev.size - MiB, last);
      await dev.flush();
      const back = dev.allocBuffer(MiB);
      await dev.read(dev.size - MiB, back);
      expect(back.equals(last)).toBe(true);
      const past = await rejection(dev.write(dev.size, dev.allocBuffer(4096)));
      expect(past.code).toBe('ERANGE');
    } finally {
      await dev.close();
    }
    expect(readRange(img, p1.offset, MiB).equals(pattern(Buffer.alloc(MiB), seed))).toBe(true);
    expect(readRange(img, p1.offset + p1.length - MiB, MiB).equals(pattern(Buffer.alloc(MiB), seed + 1))).toBe(true);
    expect(hashRange(img, 0, p1.offset)).toBe(untouched.head);
    expect(hashRange(img, regionOf(2).offset, regionOf(2).length)).toBe(untouched.p2);

    const upper = await PartitionDevice.open(byIndex(1).uuid.toUpperCase(), { readOnly: true, backend });
    await upper.close();
  });

  it('refuses a second writer (O_EXCL gives EBUSY) but lets a reader in', async () => {
    const writer = await PartitionDevice.open(byIndex(1).uuid);
    try {
      const err = await rejection(PartitionDevice.open(byIndex(1).uuid));
      expect(err.code).toBe('EBUSY');
      expect(err.message).toContain(nodeOf(1));
      const reader = await PartitionDevice.open(byIndex(1).uuid, { readOnly: true });
      expect((await rejection(reader.write(0, reader.allocBuffer(4096)))).code).toBe('EREADONLY');
      await reader.close();
    } finally {
      await writer.close();
    }
  });

  it('refuses a partition another process holds with O_EXCL, and says so in the listing', async () => {
    const fd = openSync(nodeOf(1), constants.O_RDONLY | constants.O_EXCL);
    try {
      const err = await rejection(PartitionDevice.open(byIndex(1).uuid));
      expect(err.code).toBe('EBUSY');
      const p1 = (await ours()).find((p) => p.index === 1);
      expect(p1?.usable).toBe(false);
      expect(p1?.reason).toMatch(/opened exclusively/);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a partition of another type, a PARTUUID that does not exist, and writes nothing', async () => {
    const p2 = regionOf(2);
    const before = hashRange(img, p2.offset, p2.length);
    const wrongType = await rejection(PartitionDevice.open(byIndex(2).uuid));
    expect(wrongType.code).toBe('ENOTSWAP');
    expect(wrongType.message).toMatch(/refusing to use this partition: type is Linux filesystem/);
    expect(hashRange(img, p2.offset, p2.length)).toBe(before);
    const missing = await rejection(PartitionDevice.open('01234567-89ab-cdef-0123-456789abcdef'));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain('PARTUUID 01234567-89ab-cdef-0123-456789abcdef');
  });

  it('refuses an active swap partition', async (ctx) => {
    run('mkswap', [nodeOf(3)]);
    const swapon = spawnSync('swapon', [nodeOf(3)], { encoding: 'utf8' });
    if (swapon.status !== 0) {
      console.log(`SKIPPED refuses an active swap partition: swapon not permitted here (${swapon.stderr.trim()})`);
      ctx.skip();
      return;
    }
    try {
      const p3 = regionOf(3);
      const before = hashRange(img, p3.offset, p3.length);
      const err = await rejection(PartitionDevice.open(byIndex(3).uuid));
      expect(err.code).toBe('ESWAPACTIVE');
      expect((await ours()).find((p) => p.index === 3)?.reason).toMatch(/active swap/);
      expect(hashRange(img, p3.offset, p3.length)).toBe(before);
    } finally {
      spawnSync('swapoff', [nodeOf(3)], { stdio: 'ignore' });
    }
  });

  it('refuses a mounted partition', async (ctx) => {
    run('mkfs.ext4', ['-q', '-F', nodeOf(3)]);
    const mountPoint = join(tmp.dir, 'mnt');
    mkdirSync(mountPoint, { recursive: true });
    const mount = spawnSync('mount', [nodeOf(3), mountPoint], { encoding: 'utf8' });
    if (mount.status !== 0) {
      console.log(`SKIPPED refuses a mounted partition: mount not permitted here (${mount.stderr.trim()})`);
      ctx.skip();
      return;
    }
    try {
      const err = await rejection(PartitionDevice.open(byIndex(3).uuid));
      expect(err.code).toBe('EMOUNTED');
      expect(err.message).toContain(`mounted at ${mountPoint}`);
    } finally {
      spawnSync('umount', [mountPoint], { stdio: 'ignore' });
    }
  });
});

describe.skipIf(why)('PartitionDevice on a loop device with 4096-byte sectors', () => {
  const tmp = tempDir('blockdev-part4k-');
  let loop: string | undefined;
  afterAll(() => {
    detachLoop(loop);
    tmp.remove();
  });

  let img = '';
  let uuid = '';
  beforeAll(() => {
    img = join(tmp.dir, 'disk4k.img');
    run('truncate', ['-s', '64M', img]);
    loop = attachLoop(img, { sectorSize: 4096, partitions: true });
    if (!loop) throw new Error('losetup -b 4096 failed after the probe worked');
    run('sgdisk', ['--clear', '--new=1:256:+16M', '--typecode=1:8200', '--new=2:0:0', loop]);
    addPartitions(loop);
    uuid = sfdisk(loop).partitions[0]!.uuid;
  });

  it.each(backendCases)('finds the partition, with 4096-byte logical sectors and the partition size ($label backend)', async ({ backend, seed }) => {
    const dev = await PartitionDevice.open(uuid, { backend });
    try {
      expect(dev.logicalSectorSize).toBe(4096);
      expect(dev.size).toBe(16 * MiB);
      expect(dev.partition.firstLba).toBe(256);
      const block = pattern(dev.allocBuffer(64 * 1024), seed);
      await dev.write(0, block);
      await dev.flush();
    } finally {
      await dev.close();
    }
    expect(readRange(img, 256 * 4096, 64 * 1024).equals(pattern(Buffer.alloc(64 * 1024), seed))).toBe(true);
  });
});

describe.skipIf(why)('a loop device whose GPT is damaged (both copies)', () => {
  const tmp = tempDir('blockdev-partbad-');
  let loop: string | undefined;
  afterAll(() => {
    detachLoop(loop);
    tmp.remove();
  });

  it('is named with the failed check when its PARTUUID is asked for, reported by the listing, and left unwritten', async () => {
    const img = makeImage(join(tmp.dir, 'bad.img'), 32, ['--new=1:2048:+8M', '--typecode=1:8200']);
    const uuid = sfdisk(img).partitions[0]!.uuid;
    flipByte(img, 512 + 40); // primary header: first usable LBA, under its CRC
    flipByte(img, 32 * MiB - 512 + 40); // backup header, the same field
    const before = sha256(img);
    loop = attachLoop(img);
    expect(loop).toBeDefined();

    const err = await rejection(PartitionDevice.open(uuid));
    expect(err.code).toBe('ENOENT');
    expect(err.message).toContain(`not searched: ${loop}: GPT header CRC mismatch at LBA 1 (and backup header CRC mismatch at LBA 65535)`);

    const damaged: DeviceError[] = [];
    const listed = await listPartitions({ onSkippedDisk: (e) => damaged.push(e) });
    expect(listed.some((p) => p.disk === loop)).toBe(false);
    expect(damaged.find((e) => e.device === loop)?.code).toBe('EGPT');

    detachLoop(loop);
    loop = undefined;
    expect(sha256(img)).toBe(before);
  });
});
