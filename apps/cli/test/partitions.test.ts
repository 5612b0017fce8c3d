import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/index.js';

/** Runs the CLI in-process; returns its exit code and what it printed. */
async function valkka(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const code = await main(['node', 'valkka', ...args]);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

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
  afterEach(() => vi.restoreAllMocks());

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
    expect(lines[0]).toMatch(/^DEVICE\s+PARTUUID\s+TYPE\s+NAME\s+SIZE\s+USABLE$/);
    expect(lines[1]).toContain(`${img}#1`);
    expect(lines[1]).toContain(expected[0]!.uuid.toLowerCase());
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
