// Hostile input at the command line: init over recordings, sizes beyond the limits, an edited
// valkkafs.json, a FIFO in place of the json; and `blocks`/`info` on a ring of 2^24 blocks in
// bounded memory (measured in a child process running the built CLI).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FileDevice } from '@valkka/blockdev';
import { Codec, MAX_BLOCKS, MediaType, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import { hasCommand, isRoot, skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { valkka } from './run-cli.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

async function record(dirname: string, streams: number[], frames: number): Promise<void> {
  const fs = await ValkkaMultiFS.loadFromDirectory(dirname);
  for (let i = 0; i < frames; i++) {
    for (const streamId of streams) {
      await fs.write({ streamId, subsession: 0, timestamp: T0 + i * 40, mediaType: MediaType.video, codec: Codec.none, flags: 1, payload: new Uint8Array(2000).fill(i & 0xff) });
    }
  }
  await fs.close();
}

describe('valkka init, check, info against hostile input', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'valkka-cli-hostile-'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('init over a directory holding recordings refuses without --force, naming streams and time range', async () => {
    const dir = join(base, 'rec');
    expect((await valkka('init', dir, '--multi', '--blocksize', '64KiB', '--blocks', '16')).code).toBe(0);
    await record(dir, [3, 7], 50);
    const refused = await valkka('init', dir, '--blocksize', '64KiB', '--blocks', '16');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${dir} holds recordings`);
    expect(refused.stderr).toContain('streams 3, 7');
    expect(refused.stderr).toContain(`from ${new Date(T0).toISOString()} to ${new Date(T0 + 49 * 40).toISOString()}`);
    expect(refused.stderr).toContain('--force');
    // Nothing was touched: the recordings are still there.
    const info = JSON.parse((await valkka('info', dir, '--json')).stdout);
    expect(info.streams.map((s: { streamId: number }) => s.streamId)).toEqual([3, 7]);

    const forced = await valkka('init', dir, '--blocksize', '64KiB', '--blocks', '16', '--force', '--json');
    expect(forced.code).toBe(0);
    const fresh = JSON.parse((await valkka('info', dir, '--json')).stdout);
    expect(fresh).toMatchObject({ variant: 'single', usedBlocks: 0, streams: [], timeRange: null });
    expect(fresh.fsId).not.toBe(info.fsId);
    // An empty filesystem holds nothing to lose: init goes ahead.
    expect((await valkka('init', dir, '--blocksize', '64KiB', '--blocks', '8')).code).toBe(0);
  });

  it('a valkkafs.json that cannot be opened is not overwritten without --force', async () => {
    const dir = join(base, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'valkkafs.json'), '{"not": "a filesystem"');
    const refused = await valkka('init', dir, '--blocksize', '4096', '--blocks', '4');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/holds a valkkafs.json that cannot be opened \(.*not valid JSON.*\); it may hold recordings/);
    expect(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).toBe('{"not": "a filesystem"');
  });

  it('sizes beyond the limits are refused in the words of the options, before anything is made', async () => {
    const dir = join(base, 'never');
    const cases: Array<[string[], string]> = [
      [['--blocksize', '3GiB', '--blocks', '4'], '--blocksize: 3GiB (3.00 GiB) is larger than the maximum 64.0 MiB'],
      [['--blocksize', '2GiB', '--blocks', '4'], '--blocksize: 2GiB (2.00 GiB) is larger than the maximum 64.0 MiB'],
      [['--blocksize', '4096', '--blocks', '4294967296'], `--blocks: 4294967296 is out of range (2..${MAX_BLOCKS})`],
      [['--blocksize', '4096', '--blocks', '1'], `--blocks: 1 is out of range (2..${MAX_BLOCKS})`],
      [['--blocksize', '4096', '--size', '1TiB'], `--size: 1TiB is 268435456 blocks of 4.00 KiB, more than the maximum ${MAX_BLOCKS}: use a larger --blocksize`],
      [['--blocksize', '1MiB', '--size', '1MiB'], '--size: 1MiB holds 1 block(s) of 1.00 MiB; the ring needs at least 2'],
    ];
    for (const [args, message] of cases) {
      const r = await valkka('init', dir, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/nBlocks|deviceSize/);
      expect(existsSync(dir)).toBe(false);
    }
    // Within the limits but beyond the disk: the error names the file, nothing is left behind.
    const huge = await valkka('init', join(dir, 'sub'), '--blocksize', '64MiB', '--blocks', String(MAX_BLOCKS));
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain(join(dir, 'sub', 'dumpfile'));
    expect(existsSync(dir)).toBe(false);
  });

  it('check refuses an edited geometry; check --repair restores valkkafs.json from the device', async () => {
    const dir = join(base, 'edited');
    await valkka('init', dir, '--multi', '--blocksize', '64KiB', '--blocks', '16');
    await record(dir, [1], 100);
    const json = JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8'));
    writeFileSync(join(dir, 'valkkafs.json'), JSON.stringify({ ...json, blocksize: 32768, n_blocks: 32 }));
    const refused = await valkka('check', dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('blocksize is 32768 in valkkafs.json but 65536 on the device');
    expect(refused.stderr).toContain('valkka check --repair restores valkkafs.json from the device');
    expect((await valkka('info', dir)).code).toBe(1);

    const repaired = await valkka('check', dir, '--repair');
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain('IDENTITY');
    expect(repaired.stdout).toContain('valkkafs.json restored from the device');
    expect(JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8'))).toMatchObject({ blocksize: 65536, n_blocks: 16, fs_id: json.fs_id });
    const clean = await valkka('check', dir, '--json');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, frames: 100, problems: [] });
  });

  it.skipIf(skipReason('a FIFO as valkkafs.json (CLI)', [[hasCommand('mkfifo'), 'mkfifo not installed']]))('a FIFO in place of valkkafs.json: a clear error, no hang', async () => {
    const dir = join(base, 'fifo');
    await valkka('init', dir, '--blocksize', '4096', '--blocks', '4');
    unlinkSync(join(dir, 'valkkafs.json'));
    expect(spawnSync('mkfifo', [join(dir, 'valkkafs.json')]).status).toBe(0);
    for (const cmd of [['info', dir], ['blocks', dir], ['check', dir], ['init', dir, '--blocksize', '4096', '--blocks', '4']]) {
      const r = await valkka(...cmd);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${join(dir, 'valkkafs.json')}: the valkkafs.json is a FIFO, not a regular file`);
    }
  }, 20_000);
});

const noLoop = skipReason('valkka init over a reused partition (loop device)', [
  [isRoot, 'not root'],
  [hasCommand('sgdisk') && hasCommand('sfdisk'), 'sgdisk or sfdisk not installed (apt-get install gdisk fdisk)'],
  [hasCommand('losetup', ['--version']) && hasCommand('partx', ['--version']), 'losetup or partx not installed'],
]);

describe.skipIf(noLoop)('valkka init over a partition holding recordings', () => {
  it('refuses without --force, naming the partition and its streams; the new filesystem checks clean', async () => {
    const work = mkdtempSync(join(tmpdir(), 'valkka-cli-part-'));
    const img = join(work, 'disk.img');
    let loop: string | undefined;
    try {
      const sh = (cmd: string, args: string[]) => {
        const r = spawnSync(cmd, args, { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      sh('truncate', ['-s', '16M', img]);
      sh('sgdisk', ['--clear', '--new=1:2048:+8M', '--typecode=1:8200', img]);
      const uuid = (JSON.parse(sh('sfdisk', ['--json', img])) as { partitiontable: { partitions: Array<{ uuid: string }> } }).partitiontable.partitions[0]!.uuid;
      loop = sh('losetup', ['-f', '--show', '-P', img]).trim();
      spawnSync('partx', ['-a', loop], { stdio: 'ignore' });
      const first = join(work, 'first');
      expect((await valkka('init', first, '--multi', '--blocksize', '1MiB', '--partition-uuid', uuid)).code).toBe(0);
      await record(first, [4], 60);

      const second = join(work, 'second');
      const refused = await valkka('init', second, '--blocksize', '1MiB', '--partition-uuid', uuid);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`${loop}p1 (PARTUUID ${uuid.toLowerCase()}) holds recordings`);
      expect(refused.stderr).toContain(`stream 4 from ${new Date(T0).toISOString()}`);
      expect(existsSync(second)).toBe(false);

      expect((await valkka('init', second, '--blocksize', '1MiB', '--partition-uuid', uuid, '--force')).code).toBe(0);
      const checked = await valkka('check', second, '--json');
      expect(checked.code).toBe(0);
      expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true, blocksWritten: 1, frames: 0 });
      expect(JSON.parse((await valkka('info', second, '--json')).stdout)).toMatchObject({ usedBlocks: 0, streams: [] });
    } finally {
      if (loop) spawnSync('losetup', ['-d', loop], { stdio: 'ignore' });
      rmSync(work, { recursive: true, force: true });
    }
  }, 30_000);
});

/** Runs the built CLI in a child process; returns its stdout line count, stderr and peak RSS in KiB. */
function childCli(args: string[]): { lines: number; stdout: string; stderr: string; maxRssKiB: number; code: number | null } {
  const entry = join(import.meta.dirname, '../dist/index.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build @valkka/cli first (pnpm --filter @valkka/cli build)`);
  const script = `const { main } = await import(${JSON.stringify(entry)}); const code = await main(['node', 'valkka', ...process.argv.slice(1)]); process.stderr.write('MAXRSS ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = code;`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const rss = /MAXRSS (\d+)/.exec(r.stderr);
  if (!rss) throw new Error(`child CLI failed: ${r.stderr}`);
  return { lines: r.stdout.split('\n').length - 1, stdout: r.stdout, stderr: r.stderr, maxRssKiB: Number(rss[1]), code: r.status };
}

describe('a ring of 2^24 blocks (sparse dumpfile)', () => {
  const N = 2 ** 24;
  const STRIDE = 1024; // every 1024th block used: 16383 rows
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valkka-cli-huge-'));
    const dumpfile = join(dir, 'dumpfile');
    writeFileSync(dumpfile, '');
    truncateSync(dumpfile, N * 4096); // 64 GiB, sparse: only block headers are ever written
    const device = await FileDevice.open(dumpfile);
    const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: 4096, nBlocks: N, device });
    await fs.close();
    await device.close();
    const fd = openSync(join(dir, 'blockfile'), 'r+');
    const row = Buffer.alloc(16);
    for (let b = STRIDE; b < N; b += STRIDE) {
      row.writeBigInt64LE(BigInt(T0 + b * 40), 0);
      row.writeBigInt64LE(BigInt(T0 + b * 40 + 39), 8);
      writeSync(fd, row, 0, 16, b * 16);
    }
    closeSync(fd);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The block table itself takes 28 bytes a block (448 MiB here) plus the summary index slots; what
  // must not happen is a copy of the table as arrays of rows or one string of the whole output.
  const LIMIT_KIB = 1024 * 1024;

  it('blocks --json streams its rows', () => {
    const r = childCli(['blocks', dir, '--json']);
    expect(r.code).toBe(0);
    expect(r.lines).toBe(N / STRIDE - 1 + 2);
    const rows = JSON.parse(r.stdout) as Array<{ index: number; mstime1: number }>;
    expect(rows[0]).toMatchObject({ index: STRIDE, mstime1: T0 + STRIDE * 40 });
    expect(rows.at(-1)!.index).toBe(N - STRIDE);
    expect(r.maxRssKiB).toBeLessThan(LIMIT_KIB);
  }, 60_000);

  it('info walks the ring without keeping it', () => {
    const r = childCli(['info', dir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ nBlocks: N, usedBlocks: N / STRIDE - 1 });
    expect(r.maxRssKiB).toBeLessThan(LIMIT_KIB);
  }, 60_000);
});
