// The archive on a real 3-node JetStream cluster: every sealed block uploaded verbatim, reads
// verified (a corrupted object refused), and catch-up after one server, then the whole cluster,
// stopped and came back while the recorder kept writing.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Objm } from '@nats-io/obj';
import { describe, expect, it } from 'vitest';

import { ARCHIVE_BUCKET, Archiver, digestOf, objectName } from '../src/index.js';
import { Recorder, expectArchived, natsSkip, useFleetSuite } from './helpers.js';

const skip = natsSkip('fleet archive');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('fleet archive (3 NATS servers)', () => {
  const s = useFleetSuite({ nodes: 3 });
  const logs = s.logs;

  it('uploads every sealed block once, verbatim (bytes and SHA-256 digest)', async () => {
    const dir = join(s.tmp.dir, 'fs1');
    const rec = await Recorder.create(dir, { nBlocks: 32 });
    const archive = s.fleet.archive();
    const archiver = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 100 });
    try {
      await rec.write(200); // about 12 blocks of 64 KiB
      await rec.fs.flush();
      await expect.poll(() => archiver.stats.uploaded, { timeout: 30_000 }).toBe(rec.seals.length);
      await archiver.idle();
      const listed = await archive.list(rec.fs.fsId);
      expect(rec.seals.length).toBeGreaterThanOrEqual(10);
      expect(listed.map((a) => a.seq)).toEqual(rec.seals.map((s) => s.seq));
      const dump = await readFile(join(dir, 'dumpfile'));
      for (const a of listed) {
        const original = dump.subarray(a.block * 65536, (a.block + 1) * 65536);
        const { bytes } = await archive.read(a.fsId, a.seq);
        expect(bytes.equals(original)).toBe(true);
        expect(a.digest.replace(/=+$/, '')).toBe(digestOf(original));
        expect([a.mstime1, a.mstime2]).toEqual(rec.fs.blockTable.get(a.block));
        expect(a.streams.map((s) => s[0]).sort()).toEqual([1, 2]);
      }
      expect(archiver.stats).toMatchObject({ missed: 0, refused: 0 });
      // A restarted archiver lists what is archived and uploads nothing twice.
      await archiver.stop();
      const again = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 100 });
      await sleep(500);
      await again.idle();
      expect(again.stats.uploaded).toBe(0);
      await again.stop();
    } finally {
      await archiver.stop();
      await rec.close();
    }
  });

  it('refuses a corrupted object with an error naming it', async () => {
    const archive = s.fleet.archive();
    const fsId = (await archive.listAll()).byFs.keys().next().value!;
    const [first] = await archive.list(fsId);
    const { bytes } = await archive.read(fsId, first!.seq);
    // Bit rot inside a frame record: the digest of what is stored matches, the block's own CRC does not.
    const os = await new Objm(s.fleet.nc).open(ARCHIVE_BUCKET);
    const info = (await os.info(objectName(fsId, first!.seq)))!;
    const bad = Buffer.from(bytes);
    bad[200] = bad[200]! ^ 0xff;
    await os.putBlob({ name: info.name, metadata: info.metadata!, description: info.description! }, bad);
    await expect(archive.read(fsId, first!.seq)).rejects.toThrow(new RegExp(`archive object ${objectName(fsId, first!.seq)}: block 0: \\d+ valid frame records, its seal counts \\d+ \\(a record fails its checksum\\); refusing it`));
    // A header that no longer matches: refused as well.
    bad.set(bytes.subarray(0, 256), 0);
    bad[44] = bad[44]! ^ 0xff; // the n_blocks field (the header CRC now fails)
    await os.putBlob({ name: info.name, metadata: info.metadata!, description: info.description! }, bad);
    await expect(archive.read(fsId, first!.seq)).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringMatching(/block header: header checksum mismatch; refusing it/) });
    await expect(archive.read(fsId, 0x7fffffff)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    // Put the original back for the following tests.
    await os.putBlob({ name: info.name, metadata: info.metadata!, description: info.description! }, bytes);
    expect((await archive.read(fsId, first!.seq)).bytes.equals(bytes)).toBe(true);
  });

  it('catches up after one NATS server and then the whole cluster stopped while the recorder kept writing', async () => {
    const dir = join(s.tmp.dir, 'fs2');
    const rec = await Recorder.create(dir, { nBlocks: 256 });
    const archive = s.fleet.archive();
    const archiver = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 100 });
    try {
      rec.startWriting(5, 50); // ~400 KB/s: about 6 blocks a second
      await sleep(1000);
      // One server down: the cluster keeps a quorum (R3), uploads go on.
      let sealed = rec.seals.length;
      await s.cluster.stop(1);
      await sleep(2000);
      expect(rec.seals.length - sealed).toBeGreaterThan(5);
      await s.cluster.start(1);
      // The whole cluster down: recording goes on, uploads wait.
      await sleep(500);
      const uploadedBefore = archiver.stats.uploaded;
      sealed = rec.seals.length;
      await s.cluster.stopAll();
      await sleep(3000);
      const sealedDuringOutage = rec.seals.length - sealed;
      expect(sealedDuringOutage).toBeGreaterThan(8);
      expect(s.fleet.status()).toBe('disconnected');
      expect(archiver.stats.pending).toBeGreaterThan(0);
      // Uploads that were in flight when the cluster stopped may complete; nothing sealed during the outage can.
      expect(archiver.stats.uploaded - uploadedBefore).toBeLessThan(sealedDuringOutage);
      await s.cluster.start(0, 1, 2);
      await sleep(1000);
      await rec.stopWriting();
      await rec.fs.flush();
      await expect.poll(() => s.fleet.status(), { timeout: 30_000 }).toBe('connected');
      await expectArchived(s.fleet, archive, archiver, rec);
      expect(archiver.stats).toMatchObject({ missed: 0, refused: 0 });
    } finally {
      await rec.stopWriting();
      await archiver.stop();
      await rec.close();
    }
  });

  it('never uploads a block that fails its checksums on the recorder (refused, logged)', async () => {
    const dir = join(s.tmp.dir, 'fs4');
    const rec = await Recorder.create(dir, { nBlocks: 16 });
    await rec.write(60);
    await rec.close();
    const damaged = rec.seals[1]!;
    const fh = await open(join(dir, 'dumpfile'), 'r+');
    await fh.write(Buffer.from([0xee, 0xee]), 0, 2, damaged.index * 65536 + 300); // inside its first frame record
    await fh.close();
    const archive = s.fleet.archive();
    const archiver = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 20 });
    try {
      await expect.poll(() => archiver.stats.refused, { timeout: 30_000 }).toBe(1);
      await archiver.idle();
      const listed = (await archive.list(archiver.fsId)).map((a) => a.seq);
      expect(listed).toEqual(rec.seals.filter((s) => s !== damaged).map((s) => s.seq));
      expect(logs.lines.some((l) => l.includes('does not verify; not archived') && l.includes(`"seq":${damaged.seq}`))).toBe(true);
    } finally {
      await archiver.stop();
    }
  });

  it('uploads protected blocks before the others', async () => {
    const dir = join(s.tmp.dir, 'fs5');
    const rec = await Recorder.create(dir, { nBlocks: 32 });
    await rec.write(300);
    await rec.fs.flush();
    // Protect the video of two blocks in the middle of the recording.
    const mid = rec.seals[10]!;
    const [from, to] = rec.fs.blockTable.get(mid.index);
    await rec.fs.protect({ from, to: to + 1, note: 'incident' });
    const held = rec.seals.filter((s) => {
      const [m1, m2] = rec.fs.blockTable.get(s.index);
      return m2 >= from && m1 <= to + 1;
    });
    await rec.close();
    const order: number[] = [];
    const archiver = await Archiver.start({ dirname: dir, archive: s.fleet.archive(), log: logs.log, pollMs: 50 });
    archiver.on('uploaded', (a) => order.push(a.seq));
    try {
      await expect.poll(() => order.length, { timeout: 30_000 }).toBe(rec.seals.length);
      expect(held.length).toBeGreaterThanOrEqual(1);
      expect(order.slice(0, held.length).sort()).toEqual(held.map((s) => s.seq).sort());
      expect(order.slice(held.length)).toEqual(rec.seals.filter((s) => !held.includes(s)).map((s) => s.seq)); // then the oldest first
    } finally {
      await archiver.stop();
    }
  });

  it('counts and logs a block the ring overwrote before it could be archived', async () => {
    const dir = join(s.tmp.dir, 'fs3');
    const rec = await Recorder.create(dir, { nBlocks: 4 });
    const archive = s.fleet.archive();
    await rec.write(40);
    await rec.fs.flush();
    // NATS down from the start: nothing can be uploaded while the small ring wraps.
    await s.cluster.stopAll();
    const archiver = await Archiver.start({ dirname: dir, archive, log: logs.log, pollMs: 50 });
    try {
      await sleep(500);
      const seen = rec.seals.length;
      await rec.write(120);
      await rec.fs.flush();
      await sleep(500);
      await s.cluster.start(0, 1, 2);
      await expect.poll(() => archiver.stats.pending, { timeout: 60_000, interval: 200 }).toBe(0);
      await archiver.idle();
      const archived = (await archive.list(rec.fs.fsId)).length;
      expect(seen).toBeGreaterThan(0);
      expect(archiver.stats.missed).toBeGreaterThan(0);
      expect(archived + archiver.stats.missed).toBeLessThanOrEqual(rec.seals.length);
      expect(logs.lines.filter((l) => l.includes('before it was archived (missed)')).length).toBe(archiver.stats.missed);
    } finally {
      await archiver.stop();
      await rec.close();
    }
  });
});
