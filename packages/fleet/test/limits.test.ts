// The archive bucket's size limit: the server drops the oldest objects, and the archive's index
// (read incrementally) forgets them; what is listed still reads, verified.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Archiver, FleetError } from '../src/index.js';
import { Recorder, natsSkip, useFleetSuite } from './helpers.js';

const skip = natsSkip('fleet archive limits');

describe.skipIf(skip)('fleet archive limits (1 NATS server)', () => {
  const s = useFleetSuite({ nodes: 1 });
  const logs = s.logs;

  it('lists only what the bucket still holds once its size limit dropped the oldest blocks', async () => {
    const archive = s.fleet.archive({ maxBytes: 6 * 65536 + 32_768 });
    const rec = await Recorder.create(join(s.tmp.dir, 'fs'), { nBlocks: 64 });
    const archiver = await Archiver.start({ dirname: join(s.tmp.dir, 'fs'), archive, log: logs.log, pollMs: 50 });
    try {
      await rec.write(40);
      await rec.fs.flush();
      await expect.poll(() => archiver.stats.uploaded, { timeout: 20_000 }).toBe(rec.seals.length);
      const early = await archive.list(rec.fs.fsId); // the index is read once here, then kept up to date
      expect(early.length).toBe(rec.seals.length);
      await rec.write(200);
      await rec.fs.flush();
      await expect.poll(() => archiver.stats.uploaded, { timeout: 30_000 }).toBe(rec.seals.length);
      const listed = await archive.list(rec.fs.fsId);
      expect(rec.seals.length).toBeGreaterThan(10);
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.length).toBeLessThanOrEqual(7); // six fit whole, a seventh may be partly dropped
      const newest = rec.seals.slice(-listed.length).map((s) => s.seq);
      expect(listed.map((a) => a.seq)).toEqual(newest);
      expect(listed.some((a) => a.seq === early[0]!.seq)).toBe(false);
      // Listed blocks read back whole, except perhaps the oldest, whose first chunk the limit may have
      // taken before its metadata: that one is refused, never returned damaged.
      for (const [i, a] of listed.entries()) {
        const r = await archive.read(a.fsId, a.seq).then((x) => x.bytes.length, (e: unknown) => e);
        if (i === 0 && r instanceof FleetError) {
          expect(r.message).toMatch(/of its \d+ chunks are left \(the bucket's size limit dropped the others\); refusing it/);
          continue;
        }
        expect(r).toBe(65536);
      }
      await expect(archive.read(rec.fs.fsId, early[0]!.seq)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      await archiver.stop();
      await rec.close();
    }
  });
});
