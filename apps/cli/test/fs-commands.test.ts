import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Codec, MediaType, ValkkaMultiFS } from '@valkka/fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valkka } from './run-cli.js';

const BLOCKSIZE = 64 * 1024;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** Two streams, 25 fps, 2 s each, with a 4 s hole in stream 2. */
async function record(dirname: string): Promise<number> {
  const fs = await ValkkaMultiFS.loadFromDirectory(dirname);
  let frames = 0;
  for (let i = 0; i < 50; i++) {
    for (const streamId of [1, 2]) {
      if (streamId === 2 && i >= 10 && i < 20) continue;
      const payload = new Uint8Array(3000).fill((i + streamId) & 0xff);
      await fs.write({ streamId, subsession: 0, timestamp: T0 + i * 40 + (streamId === 2 && i >= 20 ? 10000 : 0), mediaType: MediaType.video, codec: Codec.none, flags: 1, payload });
      frames += 1;
    }
  }
  await fs.close();
  return frames;
}

describe('valkka init, info, blocks, dump-block, check', () => {
  let base: string;
  let dir: string;
  let written: number;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'valkka-cli-fs-'));
    dir = join(base, 'fs');
    const init = await valkka('init', dir, '--blocksize', '64KiB', '--blocks', '32', '--multi', '--json');
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ variant: 'multi', blocksize: BLOCKSIZE, nBlocks: 32 });
    written = await record(dir);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('info reports the geometry, the time range and each stream with its holes', async () => {
    const { code, stdout } = await valkka('info', dir, '--json');
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info).toMatchObject({ format: 'valkkafs-ts', variant: 'multi', blocksize: BLOCKSIZE, nBlocks: 32 });
    // Multi: mstime1 is the last key frame of a block, so the range opens at the first block's last frame.
    expect(info.timeRange[0]).toBeGreaterThanOrEqual(T0);
    expect(info.timeRange[1]).toBe(T0 + 49 * 40 + 10000);
    expect(info.streams.map((s: { streamId: number }) => s.streamId).sort()).toEqual([1, 2]);
    const total = info.streams.reduce((n: number, s: { frames: number }) => n + s.frames, 0);
    expect(total).toBe(written);
    const s2 = info.streams.find((s: { streamId: number }) => s.streamId === 2);
    const s1 = info.streams.find((s: { streamId: number }) => s.streamId === 1);
    expect(s1.ranges).toEqual([[T0, T0 + 49 * 40]]);
    // The 10.4 s pause of stream 2 is a hole.
    expect(s2.ranges).toEqual([
      [T0, T0 + 9 * 40],
      [T0 + 20 * 40 + 10000, T0 + 49 * 40 + 10000],
    ]);
    const text = await valkka('info', dir);
    expect(text.stdout).toContain('multi ValkkaFS');
    expect(text.stdout).toContain(new Date(T0).toISOString());
  });

  it('blocks lists the used blocks in time order and dump-block their records', async () => {
    const blocks = JSON.parse((await valkka('blocks', dir, '--json')).stdout) as Array<{ index: number; mstime1: number; mstime2: number }>;
    expect(blocks.length).toBeGreaterThan(2);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]!.mstime2).toBeGreaterThanOrEqual(blocks[i - 1]!.mstime2);
    let records = 0;
    for (const b of blocks) {
      const dump = JSON.parse((await valkka('dump-block', dir, String(b.index), '--json')).stdout);
      expect(dump.index).toBe(b.index);
      records += dump.records.length;
      for (const r of dump.records) expect(r.length).toBe(3000);
    }
    expect(records).toBe(written);
  });

  it('check passes a good filesystem, then finds a flipped byte with its block and offset', async () => {
    const good = await valkka('check', dir, '--json');
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, frames: written });

    const dump = JSON.parse((await valkka('dump-block', dir, '1', '--json')).stdout);
    const victim = dump.records[3];
    const at = 1 * BLOCKSIZE + victim.offset + 100;
    const fd = openSync(join(dir, 'dumpfile'), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
    closeSync(fd);

    const bad = await valkka('check', dir, '--json');
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems.some((p: { block: number; offset: number }) => p.block === 1 && p.offset === victim.offset)).toBe(true);
    const text = await valkka('check', dir);
    expect(text.stdout).toMatch(/block 1 offset \d+/);
  });

  it('check --repair mends the damaged block, rebuilds the blockfile, says what it dropped, and exits 0 once clean', async () => {
    const blockfile = join(dir, 'blockfile');
    const fd = openSync(blockfile, 'r+');
    writeSync(fd, Buffer.alloc(32 * 16), 0, 32 * 16, 0);
    closeSync(fd);
    expect(JSON.parse((await valkka('blocks', dir, '--json')).stdout)).toEqual([]);
    const repaired = await valkka('check', dir, '--repair', '--json');
    // fsck -y: the record damaged by the previous test is dropped (and said so), and the check after repairing is clean.
    expect(repaired.code).toBe(0);
    const report = JSON.parse(repaired.stdout);
    expect(report).toMatchObject({ repaired: true, ok: true, remaining: [] });
    expect(report.dropped).toContainEqual(expect.objectContaining({ block: 1, frames: 1 }));
    expect(JSON.parse((await valkka('blocks', dir, '--json')).stdout).length).toBeGreaterThan(2);
    expect((await valkka('check', dir)).code).toBe(0);
  });

  it('bad arguments and missing filesystems give clear errors', async () => {
    const size = await valkka('init', join(base, 'x'), '--blocksize', 'lots', '--blocks', '4');
    expect(size.code).toBe(2);
    expect(size.stderr).toContain("--blocksize: 'lots' is not a size");
    const both = await valkka('init', join(base, 'x'), '--blocksize', '4096', '--blocks', '4', '--size', '1MiB');
    expect(both.stderr).toContain('not both');
    const missing = await valkka('info', join(base, 'nothing-here'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nothing-here');
    const unknown = await valkka('frobnicate');
    expect(unknown.code).toBe(2);
    const missingArg = await valkka('info');
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("missing required argument 'dir'");
    const range = await valkka('dump-block', dir, '99');
    expect(range.stderr).toContain('block: 99 is out of range (0..31)');
  });

  it('--help explains every command', async () => {
    const help = await valkka('--help');
    for (const cmd of ['init', 'info', 'blocks', 'dump-block', 'check', 'partitions', 'record']) expect(help.stdout).toContain(cmd);
  });
});
