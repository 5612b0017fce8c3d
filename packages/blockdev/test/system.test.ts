// The kernel-facing readers against a fake sysfs and /proc tree (the loop-device suite covers the real ones).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devnumOf, holdersOf, listDisks, listKernelPartitions, readMounts, readSwaps } from '../src/system.js';
import { tempDir } from './helpers.js';

describe('sysfs and /proc readers', () => {
  const tmp = tempDir('blockdev-sys-');
  const roots = { sysfsRoot: join(tmp.dir, 'sys'), devRoot: join(tmp.dir, 'dev'), procRoot: join(tmp.dir, 'proc') };
  const file = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };

  beforeAll(() => {
    const block = join(roots.sysfsRoot, 'class', 'block');
    file(join(block, 'sdb', 'dev'), '8:16\n');
    file(join(block, 'sdb', 'size'), '2097152\n');
    file(join(block, 'sdb', 'queue', 'logical_block_size'), '4096\n');
    file(join(block, 'sdb', 'sdb1', 'partition'), '1\n');
    file(join(block, 'sdb', 'sdb1', 'dev'), '8:17\n');
    file(join(block, 'sdb', 'sdb1', 'size'), '131072\n');
    file(join(block, 'sdb', 'sdb1', 'start'), '2048\n');
    mkdirSync(join(block, 'sdb', 'sdb1', 'holders', 'dm-0'), { recursive: true });
    file(join(block, 'sdb1', 'partition'), '1\n'); // the class/block entry of the partition: not a disk
    file(join(block, 'loop7', 'dev'), '7:7\n');
    file(join(block, 'loop7', 'size'), '0\n'); // unattached loop device: skipped
    file(
      join(roots.procRoot, 'self', 'mountinfo'),
      [
        '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
        '40 22 8:17 / /mnt/with\\040space rw,relatime - ext4 /dev/sdb1 rw',
        'garbage line',
      ].join('\n'),
    );
    file(join(roots.procRoot, 'swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sdc2  partition\t1048572\t\t0\t\t-2\n');
  });
  afterAll(() => tmp.remove());

  it('lists whole disks with size and sector size, skipping partitions and empty devices', async () => {
    const disks = await listDisks(roots);
    expect(disks).toEqual([{ name: 'sdb', devnum: '8:16', devPath: undefined, size: 2097152 * 512, logicalSectorSize: 4096 }]);
  });

  it("lists a disk's partitions with their start sector, and their holders", async () => {
    expect(await listKernelPartitions('sdb', roots)).toEqual([{ name: 'sdb1', devnum: '8:17', devPath: undefined, size: 131072 * 512, start: 2048 }]);
    expect(await holdersOf('sdb/sdb1', roots)).toEqual(['dm-0']);
    expect(await listKernelPartitions('nope', roots)).toEqual([]);
  });

  it('reads mounts (with escaped paths) and swaps', async () => {
    expect(await readMounts(roots)).toEqual([
      { devnum: '254:0', source: '/dev/vda', mountPoint: '/' },
      { devnum: '8:17', source: '/dev/sdb1', mountPoint: '/mnt/with space' },
    ]);
    expect(await readSwaps(roots)).toEqual(['/dev/sdc2']);
  });

  it('decodes device numbers, including large minors', () => {
    expect(devnumOf(0x0811)).toBe('8:17');
    expect(devnumOf(259n << 8n)).toBe('259:0');
    expect(devnumOf((7n << 8n) | 0x34n | (0x12n << 20n))).toBe(`7:${0x1234}`) // glibc makedev: minor bits 8+ live at bit 20+;
  });
});
