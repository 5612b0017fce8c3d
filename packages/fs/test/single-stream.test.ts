// ValkkaSingleFS holds one stream: the first stream id written, kept in valkkafs.json across
// restarts; a frame of another stream is refused (ESTREAM) and leaves nothing behind.
// ValkkaMultiFS takes any number of streams.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { StreamMismatchError, ValkkaMultiFS, ValkkaSingleFS } from '../src/index.js';
import { h264Frame, memoryDevice, withTempDir } from './helpers.js';

const BS = 16384;
const N = 8;
const json = async (dir: string) => JSON.parse(await readFile(join(dir, 'valkkafs.json'), 'utf8')) as Record<string, unknown>;

async function streamsOnDisk(fs: ValkkaSingleFS | ValkkaMultiFS): Promise<Set<number>> {
  const ids = new Set<number>();
  for (let b = 0; b < fs.nBlocks; b++) {
    const c = await fs.readBlock(b).catch(() => undefined);
    for (const f of c?.frames ?? []) ids.add(f.streamId);
  }
  return ids;
}

describe('ValkkaSingleFS: one stream per filesystem', () => {
  it('refuses a frame of another stream, names both ids and the directory, writes nothing for it', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: memoryDevice(BS * N) });
      expect(fs.streamId).toBeUndefined();
      expect('stream_id' in (await json(dir))).toBe(false);
      // Queued together: the second frame is judged against the first one's stream at once.
      const first = fs.write(h264Frame(7, 1000, 300, true));
      const refused = fs.write(h264Frame(8, 1001, 300, true));
      await first;
      const err = await refused.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(StreamMismatchError);
      expect((err as StreamMismatchError).code).toBe('ESTREAM');
      expect((err as Error).message).toContain(dir);
      expect((err as Error).message).toMatch(/stream 7\b.*stream 8\b/);
      // Other subsessions of the same stream are fine.
      await fs.write(h264Frame(7, 1040, 200, false));
      await fs.write({ ...h264Frame(7, 1041, 100, false), subsession: 1 });
      await expect(fs.write(h264Frame(9, 1080, 200, false))).rejects.toMatchObject({ code: 'ESTREAM' });
      await fs.flush();
      expect(fs.streamId).toBe(7);
      expect((await json(dir)).stream_id).toBe(7);
      const frames = (await fs.readBlock(fs.currentBlock)).frames;
      expect(frames.map((f) => [f.streamId, f.timestamp])).toEqual([[7, 1000], [7, 1040], [7, 1041]]);
      await fs.close();
    });
  });

  it('a malformed frame of another stream is reported as malformed (EARGUMENT)', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: memoryDevice(BS * N) });
      await fs.write(h264Frame(1, 1000, 300, true));
      await expect(fs.write({ ...h264Frame(2, -5, 300, true) })).rejects.toMatchObject({ code: 'EARGUMENT' });
      await fs.close();
    });
  });

  it('a frame too large for a block does not claim the filesystem for its stream', async () => {
    await withTempDir(async (dir) => {
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: memoryDevice(BS * N) });
      await expect(fs.write(h264Frame(3, 1000, BS * 2, true))).rejects.toMatchObject({ code: 'EFRAMETOOLARGE' });
      expect(fs.streamId).toBeUndefined();
      await fs.write(h264Frame(4, 1000, 300, true));
      expect(fs.streamId).toBe(4);
      await fs.close();
    });
  });

  it('keeps the rule across a restart (and for readers), also when the first writer wrote nothing else', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      const fs = await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev });
      for (let i = 0; i < 60; i++) await fs.write(h264Frame(5, 1000 + i * 40, 900, i % 10 === 0));
      await fs.close();

      const again = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev });
      expect(again.streamId).toBe(5);
      await expect(again.write(h264Frame(6, 5000, 300, true))).rejects.toBeInstanceOf(StreamMismatchError);
      await again.write(h264Frame(5, 5000, 300, true));
      await again.close();

      const reader = await ValkkaSingleFS.loadFromDirectory(dir, { readOnly: true, device: dev });
      expect(reader.streamId).toBe(5);
      expect([...(await streamsOnDisk(reader))]).toEqual([5]);
      await reader.close();
    });
  });

  it('an empty filesystem reopened takes the first stream written after the restart', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      await (await ValkkaSingleFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev })).close();
      const fs = await ValkkaSingleFS.loadFromDirectory(dir, { device: dev });
      expect(fs.streamId).toBeUndefined();
      await fs.write(h264Frame(11, 1000, 300, true));
      await expect(fs.write(h264Frame(12, 1001, 300, true))).rejects.toMatchObject({ code: 'ESTREAM' });
      await fs.close();
      expect((await json(dir)).stream_id).toBe(11);
    });
  });
});

describe('ValkkaMultiFS: any number of streams', () => {
  it('accepts frames of several streams, also after a restart, and keeps no stream_id', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * N);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: N, device: dev });
      for (const id of [1, 2, 3]) await fs.write(h264Frame(id, 1000 + id, 300, true));
      await fs.close();
      const again = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev });
      await again.write(h264Frame(4, 2000, 300, true));
      await again.flush();
      expect(again.streamId).toBeUndefined();
      expect('stream_id' in (await json(dir))).toBe(false);
      expect([...(await streamsOnDisk(again))].sort()).toEqual([1, 2, 3, 4]);
      await again.close();
    });
  });
});
