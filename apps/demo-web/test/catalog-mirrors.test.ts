// The Catalog's fleet side without NATS: directories added and removed as mirrors (here plain filesystems
// opened read-only, which is what a mirror directory is to the Catalog), camera numbers kept, ranges from the
// fleet's list, an offline node's camera switched to the archive mirror of its filesystem and back, protection
// refused for a camera of another node.
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/server/catalog.js';
import { type RunningServer, startServer } from '../src/server/server.js';
import { makeRecordings, START } from './recordings.js';

let rec: Awaited<ReturnType<typeof makeRecordings>>;
beforeAll(async () => {
  rec = await makeRecordings();
});
afterAll(() => rec?.remove());

describe('Catalog mirrors', () => {
  it('adds and removes a directory with its cameras; a camera keeps its number when its directory comes back', async () => {
    const [camA, camB] = rec.dirs;
    const catalog = await Catalog.open([camA!], { node: 'n1' });
    try {
      let changes = 0;
      catalog.onCamerasChanged(() => changes++);
      expect(catalog.cameras.map((c) => catalog.info(c))).toEqual([expect.objectContaining({ id: 0, name: 'camA', source: 'local', node: 'n1', online: true })]);
      const ranges = new Map([[2, [[START + 2000, START + 5000]] as Array<[number, number]>]]);
      const info = { node: 'n2', source: 'remote' as const, streams: [{ streamId: 2, name: 'n2/camB', codec: 'h264' as const }], ranges: (id: number) => ranges.get(id) ?? [] };
      await catalog.addFilesystem(camB!, info);
      expect(changes).toBe(1);
      const remote = catalog.camera(1)!;
      expect(catalog.info(remote)).toMatchObject({ id: 1, name: 'n2/camB', source: 'remote', node: 'n2', online: true, recording: true, codec: 'h264' });
      // Its timeline ranges are the fleet's (those meeting the window, gaps joined), not read from its blocks.
      expect(await catalog.rangesOf(remote, START, START + 4000, 1500)).toEqual([[START + 2000, START + 5000]]);
      catalog.offlineNodes.add('n2');
      expect(catalog.info(remote)).toMatchObject({ online: false, recording: false });
      catalog.offlineNodes.clear();

      await catalog.removeFilesystem(camB!);
      expect(changes).toBe(2);
      expect(catalog.camera(1)).toBeUndefined();
      expect(catalog.cameras.map((c) => c.id)).toEqual([0]);
      await catalog.addFilesystem(camB!, info);
      expect(catalog.camera(1)?.name).toBe('n2/camB');
      // The same directory as an archive is another camera, with a number of its own.
      await catalog.addFilesystem(rec.dirs[2]!, { ...info, source: 'archive', streams: [{ streamId: 3, name: 'n2/camC (archive)', codec: 'h265' }] });
      expect(catalog.cameras.map((c) => [c.id, c.source])).toEqual([
        [0, 'local'],
        [1, 'remote'],
        [2, 'archive'],
      ]);
      expect(catalog.filesystems).toHaveLength(1); // mirrors are not among the local filesystems
    } finally {
      await catalog.close();
    }
  });

  it("an offline node's camera plays from the archive mirror of its filesystem, and from its node again when it is back", async () => {
    // Two directories with the same fs id, as a node mirror and the archive mirror of one filesystem are.
    const node = join(rec.base, 'as-node');
    const archive = join(rec.base, 'as-archive');
    await cp(rec.dirs[1]!, node, { recursive: true });
    await cp(rec.dirs[1]!, archive, { recursive: true });
    const catalog = await Catalog.open([rec.dirs[0]!], { node: 'n1' });
    try {
      const streams = [{ streamId: 2, name: 'n2/camB', codec: 'h264' as const }];
      await catalog.addFilesystem(node, { node: 'n2', source: 'remote', streams, ranges: () => [[START, START + 1000]] });
      await catalog.addFilesystem(archive, { node: 'n2', source: 'archive', streams: [{ ...streams[0]!, name: 'n2/camB (archive)' }], ranges: () => [[START, START + 9000]] });
      const remote = catalog.cameras.find((c) => c.source === 'remote')!;
      const home = remote.fs;
      let changes = 0;
      catalog.onCamerasChanged(() => changes++);

      catalog.setOffline(['n2']);
      expect(changes).toBe(1);
      expect(remote.fs).toBe(catalog.mirror(archive)!.fs);
      expect(catalog.info(remote)).toMatchObject({ name: 'n2/camB', online: false, fromArchive: true, recording: false });
      // Its timeline and frames are the archive's now.
      expect(await catalog.rangesOf(remote, START, START + 20_000, 1500)).toEqual([[START, START + 9000]]);
      expect((await catalog.framesOf(remote, catalog.mirror(archive)!.fs.blockTable.timeOrder()[0]!)).length).toBeGreaterThan(0);
      catalog.setOffline(['n2']);
      expect(changes, 'nothing changed: no event').toBe(1);

      catalog.setOffline([]);
      expect(remote.fs).toBe(home);
      expect(catalog.info(remote)).toMatchObject({ online: true, fromArchive: false });
      // Offline again, then the archive mirror goes away: the camera goes back to its node's mirror (still offline).
      catalog.setOffline(['n2']);
      await catalog.removeFilesystem(archive);
      expect(catalog.camera(remote.id)).toBe(remote);
      expect(catalog.info(remote)).toMatchObject({ online: false, fromArchive: false });
    } finally {
      await catalog.close();
    }
  });

  it('a camera of another node cannot be protected here (409 EREMOTE)', async () => {
    const server: RunningServer = await startServer({ dirs: [rec.dirs[0]!], port: 0, logger: pino({ level: 'silent' }) });
    try {
      await server.catalog.addFilesystem(rec.dirs[1]!, { node: 'n2', source: 'remote', streams: [{ streamId: 2, name: 'n2/camB', codec: 'h264' }], ranges: () => [] });
      const res = await fetch(new URL('/api/protections', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ camera: 1, from: START + 3000, to: START + 4000 }),
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toEqual({ code: 'EREMOTE', message: expect.stringContaining('recorded by node n2') });
      // Without --fleet the node-to-node routes do not exist.
      expect((await fetch(new URL('/api/fleet/nodes', server.url))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
