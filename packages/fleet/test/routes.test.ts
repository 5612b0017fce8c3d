// The helpers behind the fleet routes and the mirror device, without NATS: bad queries named, the
// token compared, an unreachable node reported, a header rewrite that keeps every record valid.
import { createServer } from 'node:http';
import { join } from 'node:path';

import { parseBlock, selfDescribedHeader } from '@valkka/fs';
import { describe, expect, it } from 'vitest';

import { FleetError, checkBearer, createMirrorDevice, parseBlockQuery, readLocalBlock, rewriteHeader, serveBlock } from '../src/index.js';
import { Recorder, tempDir } from './helpers.js';

const FS_ID = 'ab'.repeat(16);
const q = (s: string) => new URLSearchParams(s);

describe('block route query', () => {
  it.each([
    ['block=1', /fsId must be 32 lower-case hex digits/],
    [`fsId=${FS_ID}`, /block must be an integer 0\.\.16777215/],
    [`fsId=${FS_ID}&block=-1`, /block must be an integer/],
    [`fsId=${FS_ID}&block=1e3`, /block must be an integer/],
    [`fsId=${FS_ID}&block=1&kind=other`, /kind must be local, node or archive/],
    [`fsId=${FS_ID}&block=1&kind=archive`, /seq must be an integer 1\.\./],
    [`fsId=${FS_ID}&block=1&kind=archive&seq=5&nBlocks=1`, /nBlocks must be an integer 2\.\./],
  ])('refuses %s with a 400 naming the parameter', (query, message) => {
    const err = (() => {
      try {
        parseBlockQuery(q(query));
      } catch (e) {
        return e as FleetError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(FleetError);
    expect(err!.httpStatus).toBe(400);
    expect(err!.message).toMatch(message);
  });

  it('reads the three kinds', () => {
    expect(parseBlockQuery(q(`fsId=${FS_ID}&block=7`))).toEqual({ kind: 'local', fsId: FS_ID, block: 7 });
    expect(parseBlockQuery(q(`fsId=${FS_ID}&block=7&kind=node`))).toEqual({ kind: 'node', fsId: FS_ID, block: 7 });
    expect(parseBlockQuery(q(`fsId=${FS_ID}&block=7&kind=archive&seq=99&nBlocks=40`))).toEqual({ kind: 'archive', fsId: FS_ID, block: 7, seq: 99, nBlocks: 40 });
  });

  it('checks the Bearer token exactly', () => {
    expect(checkBearer('Bearer s3cret', 's3cret')).toBe(true);
    for (const h of [undefined, '', 's3cret', 'Bearer s3cre', 'Bearer s3cret2', 'Basic s3cret', 'bearer s3cret']) expect(checkBearer(h, 's3cret')).toBe(false);
  });
});

describe('serving blocks', () => {
  it('serves a local block verbatim, and moves it to another place of another ring with every record still valid', async () => {
    const tmp = await tempDir();
    const rec = await Recorder.create(join(tmp.dir, 'fs'), { nBlocks: 8 });
    try {
      await rec.write(60);
      await rec.fs.flush();
      const bytes = await readLocalBlock(rec.fs, 1);
      const original = parseBlock(bytes, 1, { fsId: Buffer.from(rec.fs.fsId, 'hex'), blocksize: 65536, nBlocks: 8 }, true);
      expect(original.sealed).toBe(true);
      const moved = rewriteHeader(bytes, 30, 100);
      const h = selfDescribedHeader(moved);
      expect(h).toMatchObject({ block: 30, nBlocks: 100, seq: original.seq });
      const again = parseBlock(moved, 30, { fsId: Buffer.from(rec.fs.fsId, 'hex'), blocksize: 65536, nBlocks: 100 }, true);
      expect(again.sealed).toBe(true);
      expect(again.frames.map((f) => f.timestamp)).toEqual(original.frames.map((f) => f.timestamp));
      expect(moved.subarray(64).equals(bytes.subarray(64))).toBe(true); // only the header changed
      await expect(readLocalBlock(rec.fs, 8)).rejects.toThrow(/block 8 is outside 0\.\.7/);
    } finally {
      await rec.close();
      await tmp.cleanup();
    }
  });

  it('reports an unreachable or failing node as a 502 naming it, and an unknown fs as a 404', async () => {
    const dead = createServer((_req, res) => res.writeHead(500).end('disk on fire'));
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as { port: number }).port;
    const sources = (url: string) => ({ localFs: () => undefined, remoteFs: () => ({ url, blocksize: 65536 }), archive: undefined, fleetToken: 't' });
    try {
      const failing = await serveBlock(q(`fsId=${FS_ID}&block=1&kind=node`), sources(`http://127.0.0.1:${port}`)).then(() => undefined, (e: unknown) => e as FleetError);
      expect(failing).toMatchObject({ code: 'EREMOTE', httpStatus: 502 });
      expect(failing!.message).toMatch(new RegExp(`http://127.0.0.1:${port} answered 500 \\(disk on fire\\)`));
    } finally {
      await new Promise((r) => dead.close(r));
    }
    const gone = await serveBlock(q(`fsId=${FS_ID}&block=1&kind=node`), sources(`http://127.0.0.1:${port}`)).catch((e: unknown) => e as FleetError);
    expect(gone).toMatchObject({ code: 'EREMOTE', message: expect.stringMatching(/did not answer/) });
    const unknown = await serveBlock(q(`fsId=${FS_ID}&block=1`), sources('http://x')).catch((e: unknown) => e as FleetError);
    expect(unknown).toMatchObject({ code: 'ENOTFOUND', httpStatus: 404 });
    const noArchive = await serveBlock(q(`fsId=${FS_ID}&block=1&kind=archive&seq=3&nBlocks=4`), sources('http://x')).catch((e: unknown) => e as FleetError);
    expect(noArchive).toMatchObject({ code: 'ENOTFOUND', message: 'this node has no archive' });
  });

  it('refuses an oversized answer from a node without reading it all', async () => {
    const big = createServer((_req, res) => res.writeHead(200, { 'content-length': 2 ** 30 }).end());
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(big.address() as { port: number }).port}`;
    try {
      const err = await serveBlock(q(`fsId=${FS_ID}&block=1&kind=node`), { localFs: () => undefined, remoteFs: () => ({ url, blocksize: 65536 }), archive: undefined, fleetToken: 't' }).then(() => undefined, (e: unknown) => e as Error);
      expect(err!.message).toMatch(/1073741824 bytes announced, a block is 65536/);
    } finally {
      big.closeAllConnections();
      await new Promise((r) => big.close(r));
    }
  });
});

describe('mirror device', () => {
  const meta = { fs_id: FS_ID, blocksize: 65536, n_blocks: 4 } as Parameters<typeof createMirrorDevice>[1];
  const options = { kind: 'node', blockUrl: 'http://127.0.0.1:1/api/fleet/block', token: 't', fsId: FS_ID, blocksize: 65536, dir: '/nonexistent' };

  it('refuses options that do not fit, naming them', async () => {
    await expect(createMirrorDevice({ ...options, blockUrl: 'file:///etc/passwd' }, meta)).rejects.toThrow(/mirror\.json options: blockUrl/);
    await expect(createMirrorDevice({ ...options, kind: 'other' }, meta)).rejects.toThrow(/mirror\.json options: kind/);
    await expect(createMirrorDevice({ ...options, fsId: 'cd'.repeat(16) }, meta)).rejects.toThrow(/disagree with valkkafs\.json/);
  });

  it('is read-only, and a read of an unreachable node is an I/O error naming the device', async () => {
    const dev = await createMirrorDevice(options, meta);
    expect(dev.size).toBe(4 * 65536);
    await expect(dev.write(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EREADONLY' });
    await expect(dev.lock()).rejects.toMatchObject({ code: 'EREADONLY' });
    await expect(dev.read(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EIO', message: expect.stringMatching(/mirror of abab.* \(node\).*did not answer/) });
    await expect(dev.read(4 * 65536, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'ERANGE' });
    await dev.close();
  });

  it('keeps at most 8 blocks, and a node block only briefly', async () => {
    let served = 0;
    const srv = createServer((_req, res) => {
      served++;
      res.writeHead(200, { 'content-length': 65536 }).end(Buffer.alloc(65536, served));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const blockUrl = `http://127.0.0.1:${(srv.address() as { port: number }).port}/api/fleet/block`;
    const dev = await createMirrorDevice({ ...options, blockUrl }, { ...meta, n_blocks: 16 });
    try {
      const buf = Buffer.alloc(4096);
      for (let b = 0; b < 10; b++) await dev.read(b * 65536, buf);
      expect(served).toBe(10);
      await dev.read(9 * 65536, buf); // cached
      await dev.read(0, buf); // evicted: only the last 8 are kept
      expect(served).toBe(11);
      await new Promise((r) => setTimeout(r, 1100));
      await dev.read(9 * 65536, buf); // a node's block is fetched again after a second
      expect(served).toBe(12);
      expect(buf[0]).toBe(12);
    } finally {
      await dev.close();
      await new Promise((r) => srv.close(r));
    }
  });
});

