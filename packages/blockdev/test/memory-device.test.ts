import { describe, expect, it } from 'vitest';
import { DeviceError, MemoryDevice } from '../src/index.js';
import { rejection } from './helpers.js';

const KiB = 1024;

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

describe('MemoryDevice basics', () => {
  it('reads back what was written, before and after flush', async () => {
    const dev = new MemoryDevice(64 * KiB);
    await dev.write(8 * KiB, filled(4 * KiB, 7));
    const out = new Uint8Array(4 * KiB);
    await dev.read(8 * KiB, out);
    expect(out).toEqual(filled(4 * KiB, 7));
    await dev.flush();
    await dev.read(8 * KiB, out);
    expect(out).toEqual(filled(4 * KiB, 7));
  });

  it('rejects out-of-range and unaligned I/O with errors naming device, offset and length', async () => {
    const dev = new MemoryDevice(64 * KiB, { name: 'mem0' });
    const past = await rejection(dev.write(64 * KiB, filled(4 * KiB, 1)));
    expect(past.code).toBe('ERANGE');
    expect(past.message).toContain('mem0');
    expect(past.message).toContain('offset 65536, length 4096');
    const unaligned = await rejection(dev.read(100, new Uint8Array(4 * KiB)));
    expect(unaligned.code).toBe('EALIGN');
    expect(unaligned.offset).toBe(100);
    expect((await rejection(dev.read(0, new Uint8Array(100)))).code).toBe('EALIGN');
    expect((await rejection(dev.read(-4096, new Uint8Array(4096)))).code).toBe('ERANGE');
  });

  it('validates its geometry', () => {
    expect(() => new MemoryDevice(1000)).toThrow(DeviceError);
    expect(() => new MemoryDevice(8192, { sectorSize: 4096, alignment: 512 })).toThrow(/alignment/);
    expect(() => new MemoryDevice(8192, { image: new Uint8Array(10) })).toThrow(/image is 10 bytes/);
  });

  it('copies the caller buffer at write time', async () => {
    const dev = new MemoryDevice(8 * KiB);
    const buf = filled(4 * KiB, 1);
    await dev.write(0, buf);
    buf.fill(2);
    const out = new Uint8Array(4 * KiB);
    await dev.read(0, out);
    expect(out[0]).toBe(1);
  });

  it('has a single-writer lock and refuses I/O once closed', async () => {
    const dev = new MemoryDevice(8 * KiB);
    await dev.lock();
    expect((await rejection(dev.lock())).code).toBe('ELOCKED');
    await dev.close();
    expect((await rejection(dev.read(0, new Uint8Array(4 * KiB)))).code).toBe('ECLOSED');
  });
});

describe('MemoryDevice crash semantics', () => {
  it('keeps everything flushed and, with keep none, drops every write since the last flush', async () => {
    const dev = new MemoryDevice(32 * KiB);
    await dev.write(0, filled(4 * KiB, 1));
    await dev.flush();
    await dev.write(0, filled(4 * KiB, 2)); // overwrites flushed data, unflushed
    await dev.write(4 * KiB, filled(4 * KiB, 3));
    expect(dev.pendingWrites).toBe(2);
    expect(dev.readDurable(0, 4)).toEqual(filled(4, 1));
    expect(dev.crash({ keep: 'none' })).toEqual({ pendingWrites: 2, pendingSectors: 16, keptSectors: 0, reorderedSectors: 0 });
    expect(dev.pendingWrites).toBe(0);
    const out = new Uint8Array(8 * KiB);
    await dev.read(0, out);
    expect(out.subarray(0, 4 * KiB)).toEqual(filled(4 * KiB, 1));
    expect(out.subarray(4 * KiB)).toEqual(filled(4 * KiB, 0));
  });

  it('keeps only the chosen sector prefix of a torn write, and none of the other unflushed writes', async () => {
    const dev = new MemoryDevice(32 * KiB, { sectorSize: 512 });
    await dev.write(0, filled(8 * KiB, 9));
    await dev.flush();
    await dev.write(16 * KiB, filled(4 * KiB, 5)); // unflushed, not torn: lost
    dev.tearNextWrite({ atSector: 3 });
    await dev.write(0, filled(8 * KiB, 4));
    dev.crash({ keep: 'none' });
    const image = dev.snapshot();
    expect(image.subarray(0, 3 * 512)).toEqual(filled(3 * 512, 4));
    expect(image.subarray(3 * 512, 8 * KiB)).toEqual(filled(8 * KiB - 3 * 512, 9));
    expect(image.subarray(16 * KiB, 20 * KiB)).toEqual(filled(4 * KiB, 0));
  });

  it('a random tear leaves a prefix that ends on a sector boundary', async () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const seen = new Set<number>();
    for (let round = 0; round < 40; round++) {
      const dev = new MemoryDevice(16 * KiB, { sectorSize: 512, random });
      dev.tearNextWrite();
      await dev.write(0, filled(16 * KiB, 0xff));
      dev.crash();
      const image = dev.snapshot();
      const prefix = image.indexOf(0) === -1 ? image.length : image.indexOf(0);
      expect(prefix % 512).toBe(0);
      expect(image.subarray(prefix).every((b) => b === 0)).toBe(true);
      seen.add(prefix / 512);
    }
    expect(seen.size).toBeGreaterThan(5); // the tear point really varies
  });

  it('by default a crash keeps an arbitrary subset of the pending sectors, later ones without earlier ones', async () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let reordered = 0;
    let partial = 0;
    for (let round = 0; round < 20; round++) {
      const dev = new MemoryDevice(16 * KiB, { sectorSize: 512, random });
      await dev.write(0, filled(8 * KiB, 1));
      await dev.flush();
      await dev.write(0, filled(8 * KiB, 2));
      await dev.write(8 * KiB, filled(8 * KiB, 3));
      const r = dev.crash();
      expect(r.pendingWrites).toBe(2);
      expect(r.pendingSectors).toBe(32);
      const image = dev.snapshot();
      let kept = 0;
      for (let s = 0; s < 32; s++) {
        const sector = image.subarray(s * 512, (s + 1) * 512);
        const fresh = s < 16 ? 2 : 3;
        const old = s < 16 ? 1 : 0;
        // Each sector is wholly its old or its new content.
        expect(sector.every((b) => b === fresh) || sector.every((b) => b === old)).toBe(true);
        if (sector[0] === fresh) kept++;
      }
      expect(kept).toBe(r.keptSectors);
      reordered += r.reorderedSectors;
      if (kept > 0 && kept < 32) partial++;
    }
    expect(partial).toBeGreaterThan(15);
    expect(reordered).toBeGreaterThan(0);
  });

  it('a flush covers the writes issued before it, not those issued while it runs', async () => {
    const dev = new MemoryDevice(16 * KiB);
    dev.slow(5);
    await dev.write(0, filled(4 * KiB, 1));
    const flushing = dev.flush();
    const during = dev.write(4 * KiB, filled(4 * KiB, 2));
    await Promise.all([flushing, during]);
    expect(dev.pendingWrites).toBe(1);
    dev.crash({ keep: 'none' });
    expect(dev.snapshot().subarray(0, 8 * KiB)).toEqual(Uint8Array.from([...filled(4 * KiB, 1), ...filled(4 * KiB, 0)]));
  });

  it('with writeback, pending writes reach the durable image on their own, oldest first', async () => {
    const dev = new MemoryDevice(64 * KiB, { writeback: 1, random: () => 0 });
    await dev.write(0, filled(4 * KiB, 1));
    await dev.write(4 * KiB, filled(4 * KiB, 2)); // this operation writes the first one back
    expect(dev.pendingWrites).toBe(1);
    expect(dev.readDurable(0, 4)).toEqual(filled(4, 1));
    expect(dev.readDurable(4 * KiB, 4)).toEqual(filled(4, 0));
  });

  it('a torn write that gets flushed is durable in full', async () => {
    const dev = new MemoryDevice(8 * KiB);
    dev.tearNextWrite({ atSector: 1 });
    await dev.write(0, filled(8 * KiB, 6));
    await dev.flush();
    dev.crash();
    expect(dev.snapshot()).toEqual(filled(8 * KiB, 6));
  });

  it('loses a write still in flight at the crash, which rejects with EIO', async () => {
    const dev = new MemoryDevice(8 * KiB);
    dev.slow(20);
    const inFlight = dev.write(0, filled(4 * KiB, 8));
    dev.crash();
    expect((await rejection(inFlight)).code).toBe('EIO');
    dev.slow(0);
    const out = new Uint8Array(4 * KiB);
    await dev.read(0, out);
    expect(out).toEqual(filled(4 * KiB, 0));
    expect(dev.pendingWrites).toBe(0);
  });

  it('restarts from a snapshot', async () => {
    const a = new MemoryDevice(8 * KiB);
    await a.write(4 * KiB, filled(4 * KiB, 3));
    await a.flush();
    const b = new MemoryDevice(8 * KiB, { image: a.snapshot() });
    const out = new Uint8Array(4 * KiB);
    await b.read(4 * KiB, out);
    expect(out).toEqual(filled(4 * KiB, 3));
  });
});

describe('MemoryDevice faults', () => {
  it('failRange gives EIO on the chosen direction only and changes nothing', async () => {
    const dev = new MemoryDevice(32 * KiB);
    dev.failRange(8 * KiB, 4 * KiB, 'write');
    const err = await rejection(dev.write(4 * KiB, filled(8 * KiB, 1))); // overlaps the bad range
    expect(err.code).toBe('EIO');
    expect(err.message).toContain('offset 4096');
    await dev.read(8 * KiB, new Uint8Array(4 * KiB)); // reads still work
    await dev.write(0, filled(4 * KiB, 2)); // other ranges still work
    expect(dev.pendingWrites).toBe(1);
    const out = new Uint8Array(4 * KiB);
    await dev.read(4 * KiB, out);
    expect(out).toEqual(filled(4 * KiB, 0));

    dev.failRange(16 * KiB, 4 * KiB, 'read');
    expect((await rejection(dev.read(16 * KiB, new Uint8Array(4 * KiB)))).code).toBe('EIO');
    await dev.write(16 * KiB, filled(4 * KiB, 1));
    dev.failRange(24 * KiB, 4 * KiB, 'both');
    expect((await rejection(dev.read(24 * KiB, new Uint8Array(4 * KiB)))).code).toBe('EIO');
    expect((await rejection(dev.write(24 * KiB, new Uint8Array(4 * KiB)))).code).toBe('EIO');
    dev.clearFaults();
    await dev.read(24 * KiB, new Uint8Array(4 * KiB));
  });

  it('slow() delays I/O but keeps the order of results', async () => {
    const dev = new MemoryDevice(8 * KiB);
    dev.slow(5);
    const order: string[] = [];
    let settled = false;
    const write = dev.write(0, filled(4 * KiB, 1)).then(() => {
      settled = true;
      order.push('write');
    });
    expect(settled).toBe(false); // not completed synchronously
    await write;
    await dev.flush();
    order.push('flush');
    expect(order).toEqual(['write', 'flush']);
    expect(dev.readDurable(0, 1)[0]).toBe(1);
  });
});
