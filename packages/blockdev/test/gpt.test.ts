import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceError, LINUX_SWAP_GUID, bufferReader, formatGuid, listPartitions, openDiskReader, readGpt, type GptTable } from '../src/index.js';
import { attachLoop, detachLoop, flipByte, loopWorks, makeImage, rejection, run, sfdisk, sha256, tempDir, type SfdiskTable } from './helpers.js';

async function parseFile(path: string): Promise<GptTable> {
  const reader = await openDiskReader(path);
  try {
    return await readGpt(reader);
  } finally {
    await reader.close();
  }
}

/** Our table in sfdisk's terms (its start and size are in the table's own sectors). */
function asSfdisk(table: GptTable): SfdiskTable {
  return {
    id: table.header.diskGuid,
    firstlba: table.header.firstUsableLba,
    lastlba: table.header.lastUsableLba,
    sectorsize: table.sectorSize,
    partitions: table.entries.map((e) => ({
      start: e.firstLba,
      size: e.lastLba - e.firstLba + 1,
      type: e.typeGuid,
      uuid: e.uniqueGuid,
      name: e.name,
    })),
  };
}

function sfdiskComparable(t: SfdiskTable): SfdiskTable {
  const { id, firstlba, lastlba, sectorsize, partitions } = t;
  return { id, firstlba, lastlba, sectorsize, partitions: partitions.map(({ start, size, type, uuid, name }) => ({ start, size, type, uuid, name })) };
}

describe('GUID text form', () => {
  it('is mixed-endian: the Linux swap type as stored on disk', () => {
    const onDisk = Uint8Array.from([0x6d, 0xfd, 0x57, 0x06, 0xab, 0xa4, 0xc4, 0x43, 0x84, 0xe5, 0x09, 0x33, 0xc8, 0x4b, 0x4f, 0x4f]);
    expect(formatGuid(onDisk)).toBe(LINUX_SWAP_GUID);
  });
});

describe('no GPT', () => {
  it('an all-zero buffer and an MBR-only disk give ENOGPT naming the device', async () => {
    const err = await readGpt(bufferReader('zeros.img', new Uint8Array(1024 * 1024))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).code).toBe('ENOGPT');
    expect((err as DeviceError).message).toMatch(/^zeros\.img: no GPT found/);
    const tiny = await readGpt(bufferReader('tiny.img', new Uint8Array(100))).catch((e: unknown) => e);
    expect((tiny as DeviceError).code).toBe('ENOGPT');
  });
});

const sgdiskMissing = skipReason('GPT images vs sfdisk', [
  [hasCommand('sgdisk'), 'sgdisk (Debian gdisk) not installed'],
  [hasCommand('sfdisk'), 'sfdisk (Debian fdisk) not installed'],
]);

describe.skipIf(sgdiskMissing)('GPT images made by sgdisk, compared with sfdisk --json', () => {
  const tmp = tempDir('blockdev-gpt-');
  afterAll(() => tmp.remove());

  const layouts: Array<[string, number, string[]]> = [
    ['swap + linux', 128, ['--new=1:2048:+64M', '--typecode=1:8200', '--change-name=1:valkka', '--new=2:0:0', '--typecode=2:8300']],
    [
      'three partitions, a gap, names with non-ASCII',
      64,
      [
        '--new=1:2048:+8M',
        '--typecode=1:ef00',
        '--change-name=1:EFI system',
        '--new=3:40960:+16M',
        '--typecode=3:8200',
        '--change-name=3:kamera-ä-鏡',
        '--new=2:0:+4M',
        '--typecode=2:8e00',
      ],
    ],
    ['one partition over the whole disk', 16, ['--new=1:0:0', '--typecode=1:8200']],
    ['a small entry array (8 entries)', 16, ['--resize-table=8', '--new=1:0:+4M', '--typecode=1:8300', '--new=2:0:0', '--typecode=2:8200']],
    ['empty table', 8, []],
  ];

  for (const [label, mib, args] of layouts) {
    it(`${label}: same disk GUID, usable range, uuid, type, start, size and name as sfdisk`, async () => {
      const img = makeImage(join(tmp.dir, `${label.replace(/\W+/g, '_')}.img`), mib, args);
      const table = await parseFile(img);
      expect(table.source).toBe('primary');
      expect(table.warnings).toEqual([]);
      expect(table.protectiveMbr).toBe(true);
      expect(asSfdisk(table)).toEqual(sfdiskComparable(sfdisk(img)));
    });
  }

  describe('damaged images', () => {
    let img: string;
    let pristine: GptTable;
    beforeAll(async () => {
      img = makeImage(join(tmp.dir, 'damage.img'), 32, ['--new=1:2048:+8M', '--typecode=1:8200', '--new=2:0:0']);
      pristine = await parseFile(img);
    });
    const fresh = (name: string): string => {
      const copy = join(tmp.dir, name);
      run('cp', ['--sparse=always', img, copy]);
      return copy;
    };

    it('a flipped byte in the primary header: the backup is used, with a warning', async () => {
      const copy = fresh('hdr.img');
      flipByte(copy, 512 + 40); // first usable LBA, covered by the header CRC
      const table = await parseFile(copy);
      expect(table.source).toBe('backup');
      expect(table.warnings.join()).toMatch(/primary GPT header CRC mismatch at LBA 1; using the backup header at LBA 65535/);
      expect(table.entries).toEqual(pristine.entries);
      expect(table.header.diskGuid).toBe(pristine.header.diskGuid);
    });

    it('a flipped byte in the primary entry array: the backup is used, with a warning', async () => {
      const copy = fresh('entries.img');
      flipByte(copy, 1024 + 40); // entry 1's first LBA
      const table = await parseFile(copy);
      expect(table.source).toBe('backup');
      expect(table.warnings.join()).toMatch(/entry array CRC mismatch/);
      expect(table.entries).toEqual(pristine.entries);
    });

    it('a damaged backup with a good primary: the primary is used, with a warning about the backup', async () => {
      const copy = fresh('backup.img');
      flipByte(copy, 32 * 1024 * 1024 - 512 + 40);
      const table = await parseFile(copy);
      expect(table.source).toBe('primary');
      expect(table.warnings).toEqual(['backup GPT header CRC mismatch at LBA 65535; the primary is intact']);
      expect(table.entries).toEqual(pristine.entries);
    });

    it('both headers damaged: a clear error naming the image and both failed checks', async () => {
      const copy = fresh('both.img');
      flipByte(copy, 512 + 40);
      flipByte(copy, 32 * 1024 * 1024 - 512 + 40);
      const err = await rejection(parseFile(copy));
      expect(err.code).toBe('EGPT');
      expect(err.message).toBe(`${copy}: GPT header CRC mismatch at LBA 1 (and backup header CRC mismatch at LBA 65535)`);
    });

    it('a truncated image: a clear error that says the header describes a larger disk', async () => {
      const copy = fresh('trunc.img');
      truncateSync(copy, 16 * 1024 * 1024);
      const err = await rejection(parseFile(copy));
      expect(err.code).toBe('EGPT');
      expect(err.message).toMatch(/header describes a disk of 65536\+ sectors but the device has 32768 \(truncated\?\) at LBA 1/);
      truncateSync(copy, 700);
      expect((await rejection(parseFile(copy))).code).toBe('ENOGPT');
    });

    it('listing never writes to the image (hash unchanged), also for a damaged one', async () => {
      const good = fresh('hash.img');
      const bad = fresh('hash-bad.img');
      flipByte(bad, 512 + 40);
      const before = [sha256(good), sha256(bad)];
      await listPartitions({ image: good });
      await listPartitions({ image: bad });
      expect([sha256(good), sha256(bad)]).toEqual(before);
    });

    it('listPartitions on an image: swap usable, other types not, with the reason', async () => {
      const parts = await listPartitions({ image: img });
      expect(parts.map((p) => [p.index, p.typeName, p.usable])).toEqual([
        [1, 'Linux swap', true],
        [2, 'Linux filesystem', false],
      ]);
      expect(parts[1]?.reason).toMatch(/type is Linux filesystem \(0FC63DAF-8483-4772-8E79-3D69D8477DE4\), not Linux swap/);
      expect(parts[0]?.size).toBe(8 * 1024 * 1024);
      expect(parts[0]?.device).toBeNull();
    });
  });
});

const loopMissing = skipReason('GPT with 4096-byte sectors on a loop device', [
  [hasCommand('sgdisk') && hasCommand('sfdisk'), 'sgdisk/sfdisk not installed'],
  [isRoot, 'not root'],
  [isRoot && loopWorks(), 'losetup cannot attach a loop device'],
]);

describe.skipIf(loopMissing)('GPT with 4096-byte sectors (made through losetup -b 4096)', () => {
  const tmp = tempDir('blockdev-gpt4k-');
  let loop: string | undefined;
  afterAll(() => {
    detachLoop(loop);
    tmp.remove();
  });

  it('parses the image file the same as sfdisk reads the 4096-byte device, and its damaged primary via the backup', async () => {
    const img = join(tmp.dir, 'disk4k.img');
    run('truncate', ['-s', '64M', img]);
    loop = attachLoop(img, { sectorSize: 4096 });
    expect(loop).toBeDefined();
    run('sgdisk', ['--clear', '--new=1:256:+16M', '--typecode=1:8200', '--change-name=1:swap4k', '--new=2:0:0', '--typecode=2:8300', loop!]);
    const expected = sfdisk(loop!);
    detachLoop(loop);
    loop = undefined;
    expect(expected.sectorsize).toBe(4096);
    const table = await parseFile(img);
    expect(table.sectorSize).toBe(4096);
    expect(asSfdisk(table)).toEqual(sfdiskComparable(expected));

    flipByte(img, 4096 + 40);
    const backup = await parseFile(img);
    expect(backup.source).toBe('backup');
    expect(backup.warnings.join()).toMatch(/using the backup header at LBA 16383/);
    expect(backup.entries).toEqual(table.entries);
  });
});
