// Mirror directories over real HTTP routes: the archive's virtual ring (blocks the origin ring has
// since overwritten still play, frame for frame) and a live node's filesystem, opened with
// loadValkkaFS read-only and through a reader worker thread.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { type ValkkaFS, loadValkkaFS } from '@valkka/fs';
import { ValkkaFSReaderThread } from '@valkka/threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Archiver, type Fleet, connectFleet, syncMirror } from '../src/index.js';
import { Recorder, type Written, captureLog, natsSkip, startNatsCluster, tempDir } from './helpers.js';
import { type TestNode, startTestNode } from './route.js';

const skip = natsSkip('fleet mirrors');
const TOKEN = 'fleet-token-for-tests';

/** Every frame of a directory in time order, as the recorder noted them. */
async function framesOf(fs: ValkkaFS): Promise<Written[]> {
  const out: Written[] = [];
  for (const b of fs.blockTable.timeOrder()) {
    for (const f of (await fs.readBlock(b)).frames) out.push({ streamId: f.streamId, timestamp: f.timestamp, mark: f.payload[0]!, length: f.payload.length });
  }
  return out;
}

describe.skipIf(skip)('fleet mirrors (3 NATS servers, HTTP block routes)', () => {
  let cluster: Awaited<ReturnType<typeof startNatsCluster>>;
  let fleet: Fleet;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let rec: Recorder;
  let origin: ValkkaFS;
  let node: TestNode;
  let archiver: Archiver;
  const logs = captureLog();

  beforeAll(async () => {
    cluster = await startNatsCluster({ nodes: 3 });
    fleet = await connectFleet({ servers: cluster.urls, name: 'rec1', log: logs.log });
    tmp = await tempDir();
    rec = await Recorder.create(join(tmp.dir, 'origin'), { nBlocks: 12 });
    archiver = await Archiver.start({ dirname: join(tmp.dir, 'origin'), archive: fleet.archive(), log: logs.log, pollMs: 50 });
    origin = await loadValkkaFS(join(tmp.dir, 'origin'), { readOnly: true });
    node = await startTestNode({ token: TOKEN, local: [origin], archive: fleet.archive() });
  });
  afterAll(async () => {
    await archiver?.stop();
    await node?.close();
    await origin?.close();
    await rec?.close();
    await fleet?.close();
    await cluster?.close();
    await tmp?.cleanup();
  });

  /** Writes in steps small enough for the archiver to keep up (nothing missed). */
  async function record(frames: number): Promise<void> {
    for (let i = 0; i < frames; i += 40) {
      await rec.write(40);
      await rec.fs.flush();
      await expect.poll(() => archiver.stats.uploaded + archiver.stats.pending, { timeout: 10_000 }).toBeGreaterThanOrEqual(rec.seals.length);
      await archiver.idle();
    }
  }

  it("plays the archive's virtual ring: every sealed block, frame for frame, including blocks the origin overwrote", async () => {
    await record(600); // about 36 blocks through a ring of 12: it wrapped twice
    expect(archiver.stats).toMatchObject({ missed: 0, refused: 0 });
    const blocks = await fleet.archive().list(rec.fs.fsId);
    expect(blocks.length).toBe(rec.seals.length);
    const dir = join(tmp.dir, 'mirror-archive');
    const r = await syncMirror(dir, { kind: 'archive', fsId: rec.fs.fsId, variant: 'multi', blocksize: 65536, blocks, blockUrl: node.blockUrl, token: TOKEN });
    expect(r).toMatchObject({ rebuilt: true, changed: true, nBlocks: blocks.length + 16 });
    expect((await stat(join(dir, 'mirror.json'))).mode & 0o077).toBe(0); // it holds a token
    const mirror = await loadValkkaFS(dir, { readOnly: true });
    try {
      const frames = await framesOf(mirror);
      // All frames but those of the block still open on the recorder, in order, as written.
      expect(frames.length).toBeGreaterThan(rec.written.length - 40);
      expect(frames).toEqual(rec.written.slice(0, frames.length));
      // The origin ring no longer holds the oldest of them.
      await origin.refresh();
      const originFrames = await framesOf(origin);
      expect(originFrames[0]!.timestamp).toBeGreaterThan(frames[0]!.timestamp);
      expect(mirror.getTimeRange()![0]).toBeLessThan(origin.getTimeRange()![0]);
      // Ranges and search work as on any directory.
      const ranges = await mirror.recordedRanges();
      expect([...ranges.keys()].sort()).toEqual([1, 2]);
      const t = rec.written[100]!.timestamp;
      expect((await mirror.readBlock(mirror.blockAt(t)!)).frames.some((f) => f.timestamp <= t)).toBe(true);

      // More recording: the next sync appends to the ring; an open reader sees it after refresh().
      await record(120);
      const more = await fleet.archive().list(rec.fs.fsId);
      const r2 = await syncMirror(dir, { kind: 'archive', fsId: rec.fs.fsId, variant: 'multi', blocksize: 65536, blocks: more, blockUrl: node.blockUrl, token: TOKEN });
      expect(r2).toMatchObject({ rebuilt: false, changed: true, nBlocks: r.nBlocks });
      await mirror.refresh();
      const after = await framesOf(mirror);
      expect(after.length).toBeGreaterThan(frames.length);
      expect(after).toEqual(rec.written.slice(0, after.length));
    } finally {
      await mirror.close();
    }
  });

  it('rebuilds the virtual ring when the archive no longer starts with what it holds', async () => {
    const dir = join(tmp.dir, 'mirror-archive');
    const blocks = (await fleet.archive().list(rec.fs.fsId)).slice(3); // as if the oldest aged out
    const r = await syncMirror(dir, { kind: 'archive', fsId: rec.fs.fsId, variant: 'multi', blocksize: 65536, blocks, blockUrl: node.blockUrl, token: TOKEN });
    expect(r.rebuilt).toBe(true);
    const mirror = await loadValkkaFS(dir, { readOnly: true });
    try {
      const frames = await framesOf(mirror);
      const first = rec.written.findIndex((w) => w.timestamp === frames[0]!.timestamp);
      expect(first).toBeGreaterThan(0);
      expect(frames).toEqual(rec.written.slice(first, first + frames.length));
    } finally {
      await mirror.close();
    }
  });

  it("mirrors a live node's filesystem: same frames as the origin's blocks, and it follows new recording", async () => {
    const dir = join(tmp.dir, 'mirror-node');
    const spec = { kind: 'node' as const, fsId: rec.fs.fsId, variant: 'multi' as const, blocksize: 65536, nBlocks: 12, nodeUrl: node.url, fleetToken: TOKEN, blockUrl: node.blockUrl, token: TOKEN };
    await rec.fs.flush();
    expect((await syncMirror(dir, spec)).rebuilt).toBe(true);
    const mirror = await loadValkkaFS(dir, { readOnly: true });
    try {
      await origin.refresh();
      expect(mirror.getBlockTable()).toEqual(origin.getBlockTable());
      expect(mirror.currentBlock).toBe(origin.currentBlock);
      expect(await framesOf(mirror)).toEqual(await framesOf(origin));
      await rec.write(100);
      await rec.fs.flush();
      const r = await syncMirror(dir, spec);
      expect(r).toMatchObject({ rebuilt: false, changed: true });
      await mirror.refresh();
      await origin.refresh();
      await new Promise((res) => setTimeout(res, 1100)); // past the device's cache of node blocks
      const frames = await framesOf(mirror);
      expect(frames).toEqual(await framesOf(origin));
      expect(frames.at(-1)!.timestamp).toBe(rec.written.at(-1)!.timestamp); // the open block, up to the last flush
    } finally {
      await mirror.close();
    }
  });

  it('reads a mirror through a reader worker thread (the device is made from mirror.json in the worker)', async () => {
    const dir = join(tmp.dir, 'mirror-archive');
    const mirror = await loadValkkaFS(dir, { readOnly: true });
    const blocks = mirror.blockTable.timeOrder();
    const expected = (await framesOf(mirror)).filter((f) => f.streamId === 1).length;
    await mirror.close();
    const reader = new ValkkaFSReaderThread({ dirname: dir });
    await reader.start();
    try {
      await reader.setSlotId(5, 1);
      const request = await reader.pullBlocks(blocks);
      let frames = 0;
      for await (const e of reader.output) {
        if (e.kind === 'frame') frames++;
        if (e.kind === 'marker' && e.marker.type === 'end' && e.marker.request === request) break;
      }
      expect(expected).toBeGreaterThan(100);
      expect(frames).toBe(expected);
    } finally {
      await reader.close();
    }
  });

  it('fails a read with the route\'s answer when the token is wrong, never a garbled block', async () => {
    const dir = join(tmp.dir, 'mirror-badtoken');
    const blocks = await fleet.archive().list(rec.fs.fsId);
    await syncMirror(dir, { kind: 'archive', fsId: rec.fs.fsId, variant: 'multi', blocksize: 65536, blocks, blockUrl: node.blockUrl, token: 'wrong-token' });
    const err = await loadValkkaFS(dir, { readOnly: true }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/answered 401/);
    expect((err as Error).message).not.toContain('wrong-token');
    expect(await readdir(dir)).toContain('mirror.json');
  });
});
