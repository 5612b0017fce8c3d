import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valkka } from './run-cli.js';

function flipByte(path: string, offset: number): void {
  const byte = Buffer.from([(readFileSync(path)[offset] ?? 0) ^ 0xff]);
  const fd = openSync(path, 'r+');
  writeSync(fd, byte, 0, 1, offset);
  closeSync(fd);
}

const why = skipReason('valkka partitions', [
  [hasCommand('sgdisk'), 'sgdisk (Debian gdisk) not installed'],
  [hasCommand('sfdisk'), 'sfdisk (Debian fdisk) not installed'],
]);

describe.skipIf(why)('valkka partitions --image', () => {
  let dir: string;
  let img: string;
  let expected: Array<{ uuid: string; type: string; start: number; size: number; name?: string }>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-partitions-'));
    img = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '128M', img]);
    execFileSync('sgdisk', ['--clear', '--new=1:2048:+64M', '--typecode=1:8200', '--change-name=1:valkka', '--new=2:0:0', '--typecode=2:8300', img]);
    expected = (JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as { partitiontable: { partitions: typeof expected } })
      .partitiontable.partitions;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--json lists each partition as sfdisk sees it, with usability', async () => {
    const { code, stdout } = await valkka('partitions', '--json', '--image', img);
    expect(code).toBe(0);
    const parts = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(parts.map((p) => [p.partuuid, p.typeGuid, p.firstLba, (p.size as number) / 512, p.name, p.usable])).toEqual(
      expected.map((e, i) => [e.uuid, e.type, e.start, e.size, e.name ?? '', i === 0]),
    );
    expect(parts[1]?.reason).toMatch(/not Linux swap/);
  });

  it('prints a table for people', async () => {
    const { code, stdout } = await valkka('partitions', '--image', img);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+PARTUUID\s+TYPE-GUID\s+TYPE\s+NAME\s+SIZE\s+USABLE$/);
    expect(lines[1]).toContain(`${img}#1`);
    expect(lines[1]).toContain(expected[0]!.uuid.toLowerCase());
    expect(lines[1]).toContain(expected[0]!.type.toLowerCase());
    expect(lines[1]).toMatch(/Linux swap\s+valkka\s+64(\.0+)? MiB\s+yes$/);
    expect(lines[2]).toMatch(/Linux filesystem .*no: type is Linux filesystem/);
  });

  it('warns when the backup table was used, and fails clearly when both copies are damaged', async () => {
    const copy = join(dir, 'damaged.img');
    execFileSync('cp', ['--sparse=always', img, copy]);
    flipByte(copy, 512 + 40);
    const warned = await valkka('partitions', '--image', copy);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/^valkka: warning: .*damaged\.img: primary GPT header CRC mismatch at LBA 1; using the backup header/);

    flipByte(copy, 128 * 1024 * 1024 - 512 + 40);
    const failed = await valkka('partitions', '--image', copy);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toBe(`valkka: ${copy}: GPT header CRC mismatch at LBA 1 (and backup header CRC mismatch at LBA 262143)\n`);
  });

  it('without --image scans the system disks and still prints JSON (loop devices included, unreadable disks skipped)', async () => {
    const { code, stdout } = await valkka('partitions', '--json');
    expect(code).toBe(0);
    const parts = JSON.parse(stdout) as Array<{ device: string | null; usable: boolean; reason?: string }>;
    expect(Array.isArray(parts)).toBe(true);
    for (const p of parts) expect(p.usable || typeof p.reason === 'string').toBe(true);
  });

  it('names a missing image', async () => {
    const { code, stderr } = await valkka('partitions', '--image', join(dir, 'nope.img'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^valkka: .*nope\.img: cannot open/);
  });
});

const loopMissing = skipReason('valkka partitions on a loop device', [
  [isRoot, 'not root (attaching loop devices needs root)'],
  [hasCommand('sgdisk') && hasCommand('losetup', ['--version']) && hasCommand('partx', ['--version']), 'sgdisk, losetup or partx not installed'],
]);

describe.skipIf(loopMissing)('valkka partitions on a loop device (system scan)', () => {
  let dir = '';
  let loop = '';
  let damagedLoop = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-partitions-loop-'));
    const img = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('sgdisk', ['--clear', '--new=1:2048:+16M', '--typecode=1:8200', '--change-name=1:ring', '--new=2:0:0', '--typecode=2:8300', img]);
    loop = execFileSync('losetup', ['-f', '--show', '-P', img], { encoding: 'utf8' }).trim();
    spawnSync('partx', ['-a', loop], { stdio: 'ignore' }); // no udev here: make the partition nodes ourselves
    if (!existsSync(`${loop}p1`)) throw new Error(`${loop}p1 did not appear after partx -a`);

    const damaged = join(dir, 'damaged.img');
    execFileSync('truncate', ['-s', '16M', damaged]);
    execFileSync('sgdisk', ['--clear', '--new=1:0:0', '--typecode=1:8200', damaged]);
    flipByte(damaged, 512 + 40);
    flipByte(damaged, 16 * 1024 * 1024 - 512 + 40);
    damagedLoop = execFileSync('losetup', ['-f', '--show', damaged], { encoding: 'utf8' }).trim();
  });

  afterAll(() => {
    for (const device of [loop, damagedLoop]) if (device) spawnSync('losetup', ['-d', device], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the partitions of the loop device with their nodes and which one ValkkaFS may use, and warns about a damaged disk', async () => {
    const { code, stdout, stderr } = await valkka('partitions', '--json');
    expect(code).toBe(0);
    expect(stderr).toContain(`valkka: warning: ${damagedLoop}: GPT header CRC mismatch at LBA 1 (and backup header CRC mismatch at LBA 32767); disk skipped`);
    const ours = (JSON.parse(stdout) as Array<{ device: string | null; disk: string; typeName: string; name: string; size: number; usable: boolean; reason?: string }>).filter(
      (p) => p.disk === loop,
    );
    expect(ours.map((p) => [p.device, p.typeName, p.name, p.usable])).toEqual([
      [`${loop}p1`, 'Linux swap', 'ring', true],
      [`${loop}p2`, 'Linux filesystem', '', false],
    ]);
    expect(ours[0]!.size).toBe(16 * 1024 * 1024);
    expect(ours[1]!.reason).toMatch(/not Linux swap/);

    const table = await valkka('partitions');
    expect(table.stdout).toMatch(new RegExp(`^${loop}p1\\s.*Linux swap\\s+ring\\s+16(\\.0+)? MiB\\s+yes$`, 'm'));
  });
});
