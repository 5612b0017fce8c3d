// Partition mode on a real GPT image attached to a loop device: no dumpfile in the directory, the
// json keeps the resolved node and the PARTUUID, a reload re-resolves it, and is refused once the
// partition is gone. Needs root, sgdisk, sfdisk, losetup and partx.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ValkkaMultiFS } from '../src/index.js';
import { h264Frame } from './helpers.js';

const why = skipReason('ValkkaFS on a GPT partition', [
  [isRoot, 'not root'],
  [hasCommand('sgdisk') && hasCommand('sfdisk'), 'sgdisk or sfdisk not installed (apt-get install gdisk fdisk)'],
  [hasCommand('losetup', ['--version']) && hasCommand('partx', ['--version']), 'losetup or partx not installed'],
]);

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(why)('ValkkaFS on a GPT partition (loop device)', () => {
  let loop: string | undefined;
  let uuid = '';
  let work = '';

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'valkkafs-part-'));
    const img = join(work, 'disk.img');
    run('truncate', ['-s', '64M', img]);
    run('sgdisk', ['--clear', '--new=1:2048:+48M', '--typecode=1:8200', '--change-name=1:valkka', img]);
    uuid = (JSON.parse(run('sfdisk', ['--json', img])) as { partitiontable: { partitions: Array<{ uuid: string }> } }).partitiontable.partitions[0]!.uuid;
    loop = run('losetup', ['-f', '--show', '-P', img]).trim();
    spawnSync('partx', ['-a', loop], { stdio: 'ignore' });
    if (!existsSync(`${loop}p1`)) throw new Error(`${loop}p1 did not appear`);
  });

  afterAll(() => {
    if (loop) spawnSync('losetup', ['-d', loop], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  it('formats the partition, reloads it by PARTUUID, and refuses it once gone', async () => {
    const dirname = join(work, 'fsdir');
    const fs = await ValkkaMultiFS.newFromDirectory({ dirname, blocksize: 1 << 20, partitionUuid: uuid.toUpperCase() });
    expect(fs.nBlocks).toBe(48);
    for (let i = 0; i < 50; i++) await fs.write(h264Frame(1 + (i % 2), 1000 + 40 * i, 30_000, i % 10 < 2));
    await fs.close();
    const json = JSON.parse(readFileSync(join(dirname, 'valkkafs.json'), 'utf8'));
    expect(json.dumpfile).toBe(`${loop}p1`);
    expect(json.partition_uuid).toBe(uuid.toLowerCase());
    expect(existsSync(join(dirname, 'dumpfile'))).toBe(false);

    const again = await ValkkaMultiFS.loadFromDirectory(dirname);
    const ts: number[] = [];
    for (const b of again.getInd([0, 1e9])) ts.push(...(await again.readBlock(b)).frames.map((f) => f.timestamp));
    expect(ts).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + 40 * i));
    await again.close();

    spawnSync('losetup', ['-d', loop!], { stdio: 'ignore' });
    loop = undefined;
    await expect(ValkkaMultiFS.loadFromDirectory(dirname)).rejects.toMatchObject({ name: 'ValkkaFSLoadError' });
  });
});
