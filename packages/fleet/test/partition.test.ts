// A partition on the NATS side: this recorder's server is cut off from the other two (the cluster
// majority). Recording goes on; the catalog says NATS is unreachable instead of hanging; nothing is
// archived without a quorum; once healed every block sealed meanwhile is archived.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Archiver } from '../src/index.js';
import { Recorder, expectArchived, natsSkip, useFleetSuite } from './helpers.js';

const skip = natsSkip('fleet partition');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('fleet on the minority side of a partition (3 NATS servers)', () => {
  const s = useFleetSuite({ nodes: 3, name: 'rec3', replicas: 3, servers: (urls) => [urls[2]!] });
  const logs = s.logs;

  it('records on, refuses to hang, archives nothing without a quorum, and catches up when healed', async () => {
    const dir = join(s.tmp.dir, 'fs');
    const rec = await Recorder.create(dir, { nBlocks: 256 });
    const archive = s.fleet.archive();
    s.fleet.catalog.announce(() => ({ node: 'rec3', url: 'http://127.0.0.1:9', heartbeatAt: Date.now(), startedAt: 1, filesystems: [] }));
    const archiver = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 100 });
    try {
      rec.startWriting(5, 50);
      await expect.poll(() => archiver.stats.uploaded, { timeout: 20_000 }).toBeGreaterThan(2);
      await s.cluster.stop(0);
      await s.cluster.stop(1);
      const sealed = rec.seals.length;
      const uploaded = archiver.stats.uploaded;
      await sleep(4000);
      expect(s.fleet.status()).toBe('connected'); // its own server is up: only JetStream has no quorum
      expect(rec.seals.length - sealed).toBeGreaterThan(8);
      expect(archiver.stats.uploaded - uploaded).toBeLessThanOrEqual(1); // at most the block in flight when it was cut off
      expect(archiver.stats.pending).toBeGreaterThan(5);
      // The catalog stream's leader, if it was this server, answers reads until it notices it lost its quorum
      // (nats-server steps down after about 10 s without hearing from one); from then on lists fail, clearly.
      const listError = () => s.fleet.catalog.list().then(() => 'listed', (e: unknown) => (e as Error).message);
      await expect.poll(listError, { timeout: 30_000, interval: 500 }).toMatch(/fleet catalog valkka_fleet/);
      await s.cluster.start(0, 1);
      await sleep(1000);
      await rec.stopWriting();
      await rec.fs.flush();
      await expectArchived(s.fleet, archive, archiver, rec);
      expect(archiver.stats).toMatchObject({ missed: 0, refused: 0 });
      await expect.poll(async () => (await s.fleet.catalog.list().catch(() => [])).map((n) => n.online), { timeout: 20_000 }).toEqual([true]);
    } finally {
      s.fleet.catalog.stop();
      await rec.stopWriting();
      await archiver.stop();
      await rec.close();
    }
  });
});
