import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessUnitSplitter, findNalUnits, joinAnnexB } from '../src/codec/index.js';
import { Codec, FrameFlags, MediaType } from '../src/frame.js';
import { LegacyError, openLegacyDirectory, parseBlockRecords, recordsToFrames } from '../src/legacy/index.js';
import { getIndNeigh, getTimeRange } from '../src/search.js';
import { h264Nal, LegacyWriter } from './fixtures/legacy/legacy-writer.js';

let root = '';
let dirCount = 0;
const newDir = (): string => join(root, `fs${dirCount++}`);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'valkka-legacy-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function readBytes(file: string, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const fd = openSync(file, 'r');
  readSync(fd, buf, 0, length, offset);
  closeSync(fd);
  return buf;
}

async function expectLegacyError(p: Promise<unknown>, code: string): Promise<LegacyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LegacyError);
  expect((err as LegacyError).code).toBe(code);
  return err as LegacyError;
}

describe('§12.1 records', () => {
  it('T3: record round trip, header bytes 7B 00.. / 01 00 00 00 / E9 03 00..', async () => {
    const dir = newDir();
    const w = new LegacyWriter(dir, 2 << 20, 10, 'single');
    const payload = new Uint8Array(1 << 20).fill(0x0c);
    w.write({ id: 123, subsession: 1, ts: 1001, mediaType: MediaType.video, codecId: Codec.none, payload });
    w.stop();
    const header = readBytes(join(dir, 'dumpfile'), 0, 36);
    expect([...header.subarray(0, 8)]).toEqual([0x7b, 0, 0, 0, 0, 0, 0, 0]);
    expect([...header.subarray(8, 12)]).toEqual([1, 0, 0, 0]);
    expect([...header.subarray(12, 20)]).toEqual([0xe9, 0x03, 0, 0, 0, 0, 0, 0]);
    expect([...header.subarray(20, 28)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...header.subarray(28, 36)]).toEqual([0, 0, 0x10, 0, 0, 0, 0, 0]);

    const fs = await openLegacyDirectory(dir);
    const { records, problem } = await fs.readBlock(0);
    expect(problem).toBeUndefined();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ streamId: 123, subsession: 1, timestamp: 1001, mediaType: 0, codecId: 0, offset: 0 });
    expect(Buffer.from(records[0]?.payload ?? []).equals(Buffer.from(payload))).toBe(true);
    await fs.close();
  });

  it('T4: ten 1 MiB records (id 3, ts 100..109, subsession i%2) read back in order across blocks', async () => {
    const dir = newDir();
    const w = new LegacyWriter(dir, 4 << 20, 10, 'single');
    for (let i = 0; i < 10; i++) {
      w.write({ id: 3, subsession: i % 2, ts: 100 + i, mediaType: MediaType.video, codecId: Codec.none, payload: new Uint8Array(1 << 20).fill(i + 1) });
    }
    w.stop();
    const fs = await openLegacyDirectory(dir);
    // Three records per 4 MiB block; only subsession 0 marks the table. Block 3 holds one
    // subsession-1 record: its row copies the previous one ("keyframe"), and the JSON keeps
    // current_block 3 [B5], so the reader starts the ring after block 3.
    expect([0, 1, 2, 3, 4].map((b) => fs.table.get(b))).toEqual([[100, 102], [104, 104], [106, 108], [106, 108], [0, 0]]);
    expect(w.callbackPars).toEqual([1, 2, 3, 'keyframe']);
    expect(fs.currentBlock).toBe(3);
    expect(fs.table.timeOrder()).toEqual([0, 1, 2, 3]);
    const read = [];
    for (const b of fs.table.timeOrder()) read.push(...(await fs.readBlock(b)).records);
    expect(read.map((r) => [r.timestamp, r.subsession, r.payload.length, r.payload[0], r.payload[(1 << 20) - 1]])).toEqual(
      Array.from({ length: 10 }, (_, i) => [100 + i, i % 2, 1 << 20, i + 1, i + 1]),
    );
    await fs.close();
  });
});

describe('§12.2 writer layout and wrap', () => {
  const run = (variant: 'single' | 'multi', frames: Array<{ ts: number; sps: boolean }>, blocksize: number, nBlocks: number, payload = 1024) => {
    const dir = newDir();
    const w = new LegacyWriter(dir, blocksize, nBlocks, variant);
    for (const f of frames) {
      w.write({ id: 123, subsession: 0, ts: f.ts, mediaType: MediaType.video, codecId: Codec.h264, payload: h264Nal(f.sps ? 7 : 1, payload) });
    }
    w.stop();
    return { dir, w };
  };

  it('#8 the fixture rounds blocksize like the original: 10240 → 8192, 300 → 4096', () => {
    expect(new LegacyWriter(newDir(), 10240, 2, 'single').blocksize).toBe(8192);
    expect(new LegacyWriter(newDir(), 300, 2, 'single').blocksize).toBe(4096);
  });

  it.each([
    [1024, 8192, 7],
    [20, 4096, 73],
  ])('#9 capacity: payload %i in a %i block → %i records, terminator, zero fill, zeroed next grain', async (payload, blocksize, perBlock) => {
    const frames = Array.from({ length: perBlock + 1 }, (_, i) => ({ ts: 1000 + i, sps: i === 0 || i === perBlock }));
    const { dir } = run('single', frames, blocksize, 10, payload);
    const fs = await openLegacyDirectory(dir);
    const block0 = await fs.readBlock(0);
    expect(block0.records).toHaveLength(perBlock);
    expect((await fs.readBlock(1)).records).toHaveLength(1);
    const raw = readBytes(join(dir, 'dumpfile'), 0, blocksize * 3);
    const end = perBlock * (36 + payload);
    expect(raw.subarray(end, blocksize).every((b) => b === 0)).toBe(true); // terminator + zero fill
    expect(end + 8).toBeLessThanOrEqual(blocksize);
    expect(raw.subarray(2 * blocksize, 2 * blocksize + 4096).every((b) => b === 0)).toBe(true); // first grain of current block 2
    expect(fs.currentBlock).toBe(2);
    expect((await fs.readBlock(2)).records).toEqual([]);
    await fs.close();
  });

  const t1Frames = Array.from({ length: 8 }, (_, j) => Array.from({ length: 5 }, (_, i) => ({ ts: 1000 * (j + 1) + 100 * i, sps: i % 5 === 0 }))).flat();

  it.each([
    ['multi', [[2000, 2100], [3000, 3300], [5000, 5000], [6000, 6200], [7000, 7400], [8000, 8400]]],
    ['single', [[1000, 2100], [3000, 3300], [4000, 5000], [6000, 6200], [7000, 7400], [8000, 8400]]],
  ] as const)('#10 T1 (%s): the reader sees the original table and current block 6', async (variant, rows) => {
    const { dir, w } = run(variant, t1Frames, 8192, 10);
    expect(w.callbackPars).toEqual([1, 2, 3, 4, 5, 6]);
    const fs = await openLegacyDirectory(dir);
    expect(fs.currentBlock).toBe(6);
    expect([...Array(10).keys()].map((i) => fs.table.get(i))).toEqual([...rows, ...Array(4).fill([0, 0])]);
    const all = [];
    for (const b of fs.table.timeOrder()) all.push(...(await fs.readAccessUnits(b)).frames);
    expect(all.map((f) => f.timestamp)).toEqual(t1Frames.map((f) => f.ts));
    await fs.close();
  });

  const t3Frames = Array.from({ length: 71 }, (_, i) => ({ ts: 1000 * (i + 1), sps: i % 5 === 0 }));

  it.each([
    ['multi', [[71000, 71000], [0, 0], [56000, 56000], [61000, 63000], [66000, 70000]]],
    ['single', [[71000, 71000], [0, 0], [51000, 56000], [61000, 63000], [66000, 70000]]],
  ] as const)('#11 T3 wrap (%s): table, current block 1, search across the wrap', async (variant, rows) => {
    const { dir, w } = run(variant, t3Frames, 8192, 5);
    expect(w.callbackPars).toEqual([1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
    const fs = await openLegacyDirectory(dir);
    expect(fs.currentBlock).toBe(1);
    expect(fs.json.current_block).toBe(1);
    expect([...Array(5).keys()].map((i) => fs.table.get(i))).toEqual(rows);
    expect(fs.table.timeOrder()).toEqual([2, 3, 4, 0]);
    if (variant === 'single') {
      expect(getTimeRange(fs.table)).toEqual([51000, 71000]);
      expect(getIndNeigh(fs.table, 1, 64000)).toEqual([3, 4, 0]);
    }
    // Blocks in time order hold frames 50..70 (ts 51000..71000) after two wraps.
    const ts = [];
    for (const b of fs.table.timeOrder()) ts.push(...(await fs.readAccessUnits(b)).frames.map((f) => f.timestamp));
    expect(ts).toEqual(t3Frames.slice(49).map((f) => f.ts));
    // The current block's first grain is zero: it reads as empty.
    expect((await fs.readBlock(1)).records).toEqual([]);
    await fs.close();
  });
});

describe('access units from NAL records', () => {
  it('merges SPS, PPS and IDR records of one timestamp; flags key and config; audio passes as is', async () => {
    const dir = newDir();
    const w = new LegacyWriter(dir, 8192, 4, 'multi');
    const v = (ts: number, nal: number, id = 1) => w.write({ id, subsession: 0, ts, mediaType: MediaType.video, codecId: Codec.h264, payload: h264Nal(nal, 40, nal) });
    v(1000, 7);
    w.write({ id: 1, subsession: 1, ts: 1000, mediaType: MediaType.audio, codecId: Codec.pcmMulaw, payload: new Uint8Array(16).fill(9) });
    v(1000, 8);
    v(1000, 5, 2); // another camera's frame interleaved, same timestamp
    v(1000, 5);
    v(1040, 1);
    v(1080, 1);
    w.stop();
    const fs = await openLegacyDirectory(dir);
    const { frames, unknownRecords, problem } = await fs.readAccessUnits(0);
    expect(problem).toBeUndefined();
    expect(unknownRecords).toBe(0);
    expect(frames.map((f) => [f.streamId, f.subsession, f.timestamp, f.flags, f.payload.length])).toEqual([
      [1, 0, 1000, FrameFlags.key | FrameFlags.config, 120],
      [1, 1, 1000, FrameFlags.key, 16],
      [2, 0, 1000, FrameFlags.key, 40],
      [1, 0, 1040, 0, 40],
      [1, 0, 1080, 0, 40],
    ]);
    expect(findNalUnits(Codec.h264, frames[0]?.payload ?? new Uint8Array()).map((n) => n.type)).toEqual([7, 8, 5]);
    await fs.close();
  });

  it('records of an unknown codec or media type are counted, not returned', () => {
    const block = new Uint8Array(4096);
    const view = new DataView(block.buffer);
    view.setBigUint64(0, 5n, true);
    view.setBigInt64(12, 77n, true);
    view.setInt32(24, 9999, true);
    view.setBigUint64(28, 4n, true);
    const { records, problem } = parseBlockRecords(block, 0);
    expect(problem).toBeUndefined();
    expect(records).toHaveLength(1);
    expect(recordsToFrames(records)).toEqual({ frames: [], unknownRecords: 1 });
    view.setInt32(24, Codec.pcmAlaw, true);
    view.setInt32(20, MediaType.audio, true);
    expect(recordsToFrames(parseBlockRecords(block, 0).records).frames.map((f) => [f.streamId, f.timestamp, f.flags])).toEqual([[5, 77, FrameFlags.key]]);
  });
});

const why = skipReason('legacy directory from real H.264', [[hasCommand('ffmpeg', ['-version']), 'ffmpeg not installed (apt-get install ffmpeg)']]);

describe.skipIf(why)('legacy directory from real H.264', () => {
  it('one record per NAL unit (as libValkka wrote them) reads back as the encoder\'s access units', async () => {
    const h264 = join(root, 'clip.h264');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '4', '-c:v', 'libx264', '-g', '25', '-bf', '0', '-f', 'h264', h264]);
    const splitter = new AccessUnitSplitter(Codec.h264);
    const data = readFileSync(h264);
    const units = [...splitter.push(data), ...splitter.flush()];
    const dir = newDir();
    const w = new LegacyWriter(dir, 64 * 1024, 40, 'single');
    units.forEach((u, i) => {
      for (const n of findNalUnits(Codec.h264, u.payload)) {
        w.write({ id: 7, subsession: 0, ts: 1_700_000_000_000 + 40 * i, mediaType: MediaType.video, codecId: Codec.h264, payload: joinAnnexB([u.payload.subarray(n.start, n.end)]) });
      }
    });
    w.stop();
    const fs = await openLegacyDirectory(dir);
    const frames = [];
    for (const b of fs.table.timeOrder()) frames.push(...(await fs.readAccessUnits(b)).frames);
    expect(frames).toHaveLength(units.length);
    frames.forEach((f, i) => {
      const u = units[i];
      if (!u) throw new Error('missing unit');
      const expected = joinAnnexB(findNalUnits(Codec.h264, u.payload).map((n) => u.payload.subarray(n.start, n.end)));
      expect(Buffer.from(f.payload).equals(Buffer.from(expected))).toBe(true);
      expect((f.flags & FrameFlags.key) !== 0).toBe(u.key);
    });
    // The original's seek point is the SPS record: mstime1 of every block is a key frame's time.
    for (const b of fs.table.timeOrder()) {
      const first = (await fs.readAccessUnits(b)).frames.find((f) => f.flags & FrameFlags.key);
      if (first) expect(fs.table.get(b)[0]).toBe(first.timestamp);
    }
    await fs.close();
  });
});

describe('bad directories give LegacyError', () => {
  const good = (): string => {
    const dir = newDir();
    const w = new LegacyWriter(dir, 4096, 4, 'single');
    for (let i = 0; i < 100; i++) w.write({ id: 1, subsession: 0, ts: 1000 + i, mediaType: MediaType.video, codecId: Codec.h264, payload: h264Nal(i % 10 === 0 ? 7 : 1, 60) });
    w.stop();
    return dir;
  };
  const editJson = (dir: string, edit: (o: Record<string, unknown>) => void): void => {
    const o = JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')) as Record<string, unknown>;
    edit(o);
    writeFileSync(join(dir, 'valkkafs.json'), JSON.stringify(o));
  };

  it('missing directory or files: ENOENT', async () => {
    await expectLegacyError(openLegacyDirectory(join(root, 'nope')), 'ENOENT');
    const dir = good();
    rmSync(join(dir, 'dumpfile'));
    const err = await expectLegacyError(openLegacyDirectory(dir), 'ENOENT');
    expect(err.message).toContain('dumpfile');
  });

  it('bad JSON or keys: EJSON naming the key', async () => {
    const dir = good();
    writeFileSync(join(dir, 'valkkafs.json'), '{"blocksize": ');
    await expectLegacyError(openLegacyDirectory(dir), 'EJSON');
    const dir2 = good();
    editJson(dir2, (o) => delete o.n_blocks);
    expect((await expectLegacyError(openLegacyDirectory(dir2), 'EJSON')).message).toContain('"n_blocks"');
    editJson(dir2, (o) => {
      o.n_blocks = 4;
      o.blocksize = '4096';
    });
    expect((await expectLegacyError(openLegacyDirectory(dir2), 'EJSON')).message).toContain('"blocksize"');
  });

  it('impossible geometry: EGEOMETRY, before any allocation', async () => {
    const dir = good();
    editJson(dir, (o) => (o.blocksize = 1000));
    await expectLegacyError(openLegacyDirectory(dir), 'EGEOMETRY');
    editJson(dir, (o) => (o.blocksize = 2 ** 40));
    await expectLegacyError(openLegacyDirectory(dir), 'EGEOMETRY');
    editJson(dir, (o) => {
      o.blocksize = 4096;
      o.n_blocks = 2 ** 40;
    });
    await expectLegacyError(openLegacyDirectory(dir), 'EGEOMETRY');
    editJson(dir, (o) => (o.n_blocks = 8)); // the dumpfile holds 4 blocks
    expect((await expectLegacyError(openLegacyDirectory(dir), 'EGEOMETRY')).message).toMatch(/dumpfile .* is 16384 bytes/);
    editJson(dir, (o) => {
      o.n_blocks = 4;
      o.current_block = 5;
    });
    await expectLegacyError(openLegacyDirectory(dir), 'EGEOMETRY');
  });

  it('current_block == n_blocks (accepted by the original) reads as block 0', async () => {
    const dir = good();
    editJson(dir, (o) => (o.current_block = 4));
    const fs = await openLegacyDirectory(dir);
    expect(fs.currentBlock).toBe(0);
    await fs.close();
  });

  it('a block number outside the filesystem: EBLOCK', async () => {
    const fs = await openLegacyDirectory(good());
    await expectLegacyError(fs.readBlock(4), 'EBLOCK');
    await expectLegacyError(fs.readAccessUnits(-1), 'EBLOCK');
    await fs.close();
  });

  it('a length past the block end stops that block with ERECORD, keeping the records before it', async () => {
    const dir = good();
    const fs0 = await openLegacyDirectory(dir);
    const before = (await fs0.readBlock(0)).records;
    await fs0.close();
    const third = before[2];
    if (!third) throw new Error('fixture too small');
    const fd = openSync(join(dir, 'dumpfile'), 'r+');
    const len = new DataView(new ArrayBuffer(8));
    len.setBigUint64(0, 1n << 62n, true);
    writeSync(fd, new Uint8Array(len.buffer), 0, 8, third.offset + 28);
    closeSync(fd);
    const fs = await openLegacyDirectory(dir);
    const block = await fs.readBlock(0);
    expect(block.records).toHaveLength(2);
    expect(block.problem?.code).toBe('ERECORD');
    expect(block.problem?.message).toContain(`block 0, offset ${third.offset}: payload length 4611686018427387904 reaches past the block end`);
    const frames = await fs.readAccessUnits(0);
    expect(frames.frames).toHaveLength(2);
    expect(frames.problem?.code).toBe('ERECORD');
    await fs.close();
  });

  it('fuzz: random damage to valkkafs.json, blockfile and dumpfile gives results or LegacyError only', async () => {
    const damage = fc.record({
      json: fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.record({ field: fc.constantFrom('blocksize', 'n_blocks', 'current_block', 'dumpfile', 'blockfile', 'partition_uuid', 'jsonfile'), value: fc.jsonValue({ maxDepth: 1 }) }))),
      blockfile: fc.option(fc.uint8Array({ maxLength: 100 })),
      dumpfile: fc.array(fc.record({ at: fc.nat({ max: 4 * 4096 - 1 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), { maxLength: 12 }),
    });
    const template = good();
    const files = ['valkkafs.json', 'blockfile', 'dumpfile'].map((f) => [f, readFileSync(join(template, f))] as const);
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const dir = newDir();
        rmSync(dir, { recursive: true, force: true });
        execFileSync('mkdir', ['-p', dir]);
        for (const [f, bytes] of files) writeFileSync(join(dir, f), bytes);
        if (typeof d.json === 'string') writeFileSync(join(dir, 'valkkafs.json'), d.json);
        else if (d.json) editJson(dir, (o) => (o[d.json && typeof d.json === 'object' ? d.json.field : 'x'] = (d.json as { value: unknown }).value));
        if (d.blockfile) writeFileSync(join(dir, 'blockfile'), d.blockfile);
        const fd = openSync(join(dir, 'dumpfile'), 'r+');
        for (const { at, bytes } of d.dumpfile) writeSync(fd, bytes, 0, bytes.length, at);
        closeSync(fd);
        try {
          const fs = await openLegacyDirectory(dir);
          try {
            for (let b = 0; b < fs.nBlocks; b++) {
              const block = await fs.readBlock(b);
              for (const r of block.records) expect(r.offset + 36 + r.payload.length).toBeLessThanOrEqual(fs.blocksize);
              if (block.problem) expect(block.problem).toBeInstanceOf(LegacyError);
              await fs.readAccessUnits(b);
            }
          } finally {
            await fs.close();
          }
        } catch (e) {
          if (!(e instanceof LegacyError)) throw e;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  });
});
