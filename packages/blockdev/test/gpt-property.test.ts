import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceError, MAX_ENTRY_ARRAY_BYTES, readGpt, type DiskReader } from '../src/index.js';
import { makeImage, tempDir } from './helpers.js';

const SECTOR = 512;

/** A reader over bytes that fails the test on any read outside the disk or larger than the parser's bound. */
function guardedReader(bytes: Uint8Array): DiskReader & { largestRead: number } {
  const reader = {
    name: 'fuzz.img',
    size: bytes.length,
    largestRead: 0,
    async read(offset: number, length: number) {
      if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length)) throw new Error(`read outside the disk: ${offset}+${length}`);
      if (length > MAX_ENTRY_ARRAY_BYTES) throw new Error(`unbounded read of ${length} bytes`);
      reader.largestRead = Math.max(reader.largestRead, length);
      return bytes.slice(offset, offset + length);
    },
  };
  return reader;
}

/** Parses and checks the invariants: only DeviceError escapes; a returned table is self-consistent. */
async function parseChecked(bytes: Uint8Array): Promise<boolean> {
  const reader = guardedReader(bytes);
  try {
    const table = await readGpt(reader);
    const sectors = Math.floor(bytes.length / table.sectorSize);
    expect(table.header.lastUsableLba).toBeLessThan(sectors);
    for (const e of table.entries) {
      expect(e.firstLba).toBeGreaterThanOrEqual(table.header.firstUsableLba);
      expect(e.lastLba).toBeLessThanOrEqual(table.header.lastUsableLba);
      expect(e.firstLba).toBeLessThanOrEqual(e.lastLba);
    }
    return true;
  } catch (err) {
    if (!(err instanceof DeviceError)) throw err;
    expect(['ENOGPT', 'EGPT']).toContain(err.code);
    expect(err.message.startsWith('fuzz.img: ')).toBe(true);
    return false;
  }
}

const why = skipReason('GPT parser property tests', [[hasCommand('sgdisk'), 'sgdisk (Debian gdisk) not installed']]);

describe.skipIf(why)('GPT parser on random corruptions (fast-check)', () => {
  const tmp = tempDir('blockdev-fuzz-');
  let base: Uint8Array;
  beforeAll(() => {
    const img = makeImage(join(tmp.dir, 'base.img'), 1, ['--new=1:0:+256K', '--typecode=1:8200', '--change-name=1:a', '--new=2:0:0']);
    base = new Uint8Array(readFileSync(img));
  });
  afterAll(() => tmp.remove());

  /** Offsets inside the GPT metadata: the first 34 and the last 33 sectors. */
  const metadataOffset = (size: number) =>
    fc.oneof(fc.integer({ min: 0, max: 34 * SECTOR - 1 }), fc.integer({ min: size - 33 * SECTOR, max: size - 1 }));

  it('byte flips and truncation: only DeviceError, never a read beyond the disk or the bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(metadataOffset(1024 * 1024), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 24 }),
        fc.option(fc.integer({ min: 0, max: 1024 * 1024 }), { freq: 3 }),
        async (flips, truncateTo) => {
          const bytes = Uint8Array.from(base);
          for (const [offset, xor] of flips) bytes[offset] = (bytes[offset] ?? 0) ^ xor;
          await parseChecked(truncateTo === null ? bytes : bytes.subarray(0, truncateTo));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hostile header fields behind a valid header CRC: only DeviceError, bounded allocation', async () => {
    // Each field is either its real value (so later checks get reached) or something hostile.
    const u64 = (real: bigint) => fc.oneof({ arbitrary: fc.constant(real), weight: 6 }, fc.bigInt({ min: 0n, max: 4096n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    const u32 = (real: number) => fc.oneof({ arbitrary: fc.constant(real), weight: 6 }, fc.integer({ min: 0, max: 1024 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    const outcomes = { parsed: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          headerSize: u32(92),
          myLba: u64(1n),
          alternate: u64(2047n),
          first: u64(34n),
          last: u64(2014n),
          entryLba: u64(2n),
          count: u32(128),
          size: u32(128),
        }),
        fc.boolean(),
        async (h, fixEntryCrc) => {
          const bytes = Uint8Array.from(base);
          const view = new DataView(bytes.buffer, SECTOR, SECTOR);
          view.setUint32(12, h.headerSize, true);
          view.setBigUint64(24, h.myLba, true);
          view.setBigUint64(32, h.alternate, true);
          view.setBigUint64(40, h.first, true);
          view.setBigUint64(48, h.last, true);
          view.setBigUint64(72, h.entryLba, true);
          view.setUint32(80, h.count, true);
          view.setUint32(84, h.size, true);
          const arrayBytes = h.count * h.size;
          const arrayOffset = Number(h.entryLba) * SECTOR;
          if (fixEntryCrc && arrayBytes <= MAX_ENTRY_ARRAY_BYTES && arrayOffset + arrayBytes <= bytes.length) {
            view.setUint32(88, crc32(bytes.subarray(arrayOffset, arrayOffset + arrayBytes)), true);
          }
          const headerSize = Math.min(Math.max(h.headerSize, 92), SECTOR);
          view.setUint32(16, 0, true);
          view.setUint32(16, crc32(bytes.subarray(SECTOR, SECTOR + headerSize)), true);
          // also wreck the backup, so the hostile primary is all there is
          bytes.fill(0, bytes.length - SECTOR);
          outcomes[(await parseChecked(bytes)) ? 'parsed' : 'refused']++;
        },
      ),
      { numRuns: 400 },
    );
    // the property really explored both sides
    expect(outcomes.parsed).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
