import { join } from 'node:path';
import { type ValkkaFS, ValkkaSingleFS } from '@valkka/fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValkkaFSManager } from '../src/index.js';
import { tempDir } from './helpers.js';

// Bad arguments are refused with an error naming what was wrong, before any thread starts.
describe('ValkkaFSManager refuses bad arguments', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fs: ValkkaFS;
  let writerFs: ValkkaFS;

  beforeAll(async () => {
    tmp = await tempDir();
    await (await ValkkaSingleFS.newFromDirectory({ dirname: join(tmp.dir, 'a'), blocksize: 4096, nBlocks: 4 })).close();
    fs = await ValkkaSingleFS.loadFromDirectory(join(tmp.dir, 'a'), { readOnly: true });
    writerFs = await ValkkaSingleFS.newFromDirectory({ dirname: join(tmp.dir, 'b'), blocksize: 4096, nBlocks: 4 });
  });

  afterAll(async () => {
    await fs?.close();
    await writerFs?.close();
    await tmp?.remove();
  });

  it('needs filesystems, each once', () => {
    expect(() => new ValkkaFSManager([])).toThrow(/non-empty list of filesystems/);
    expect(() => new ValkkaFSManager([fs, fs])).toThrow(/listed twice/);
    expect(() => new ValkkaFSManager([fs], { holeMs: -1 })).toThrow(/holeMs must be a positive number/);
  });

  it('maps only its own filesystems, with sane ids and slots, one mapping per id', async () => {
    const manager = new ValkkaFSManager([fs]);
    expect(() => manager.map({ valkkafs: writerFs, id: 1, readSlot: 1, output: () => {} })).toThrow(/not one of this manager's filesystems/);
    expect(() => manager.map({ valkkafs: fs, id: -3, readSlot: 1, output: () => {} })).toThrow(/id must be a non-negative integer/);
    expect(() => manager.map({ valkkafs: fs, id: 1 })).toThrow(/readSlot .* writeSlot/);
    expect(() => manager.map({ valkkafs: fs, id: 1, readSlot: 2 })).toThrow(/needs an output/);
    await manager.map({ valkkafs: fs, id: 1, readSlot: 2, output: () => {} });
    expect(() => manager.map({ valkkafs: fs, id: 1, readSlot: 3, output: () => {} })).toThrow(/already mapped/);
    expect(() => manager.getInputFilter(writerFs)).toThrow(/not one of this manager's filesystems/);
  });

  it('records only into a filesystem opened read-only (its writer thread takes the lock)', () => {
    const manager = new ValkkaFSManager([writerFs]);
    expect(() => manager.map({ valkkafs: writerFs, id: 1, writeSlot: 1 })).toThrow(/open it read-only/);
  });

  it('plays only after start, at rates it can play', async () => {
    const manager = new ValkkaFSManager([fs]);
    await expect(manager.seek(1000)).rejects.toThrow(/call start\(\) first/);
    await manager.start();
    try {
      await expect(manager.seek(Number.NaN)).rejects.toThrow(/finite number/);
      await expect(manager.play({ rate: 64 })).rejects.toThrow(/rate must be/);
      await expect(manager.setRate(-16)).rejects.toThrow(/rate must be/);
      await expect(manager.step(2 as 1)).rejects.toThrow(/direction must be 1 or -1/);
      expect(manager.getTimeRange()).toBeUndefined(); // empty filesystem
      const result = await manager.seek(1_700_000_000_000); // nothing recorded: resolves, no data
      expect(result.streams).toEqual([]);
    } finally {
      await manager.close();
    }
  });
});
