/**
 * A GUID Partition Table parser (UEFI spec 2.10, §5.3): pure functions over a DiskReader.
 * Every size read from the disk is bounded before anything is allocated, and every failed check
 * becomes a DeviceError that names the device and the check.
 */
import { crc32 } from 'node:zlib';
import { DeviceError } from './errors.js';

/** Random access to the bytes of a disk or image: the parser's only input. */
export interface DiskReader {
  readonly name: string;
  /** Bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` (inside the disk). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface GptHeader {
  revision: number;
  headerSize: number;
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entryArrayLba: number;
  entryCount: number;
  entrySize: number;
}

export interface GptEntry {
  /** 1-based slot in the entry array: the N of /dev/sdaN. */
  index: number;
  typeGuid: string;
  /** The PARTUUID. */
  uniqueGuid: string;
  firstLba: number;
  lastLba: number;
  attributes: bigint;
  name: string;
}

export interface GptTable {
  device: string;
  sectorSize: number;
  /** Whether LBA 0 holds an MBR with a 0xEE (GPT protective) partition. */
  protectiveMbr: boolean;
  /** Which copy the entries come from. */
  source: 'primary' | 'backup';
  header: GptHeader;
  /** Used entries only (non-zero type GUID), in slot order. */
  entries: GptEntry[];
  /** Problems that did not stop parsing, e.g. "primary GPT header ... using the backup". */
  warnings: string[];
}

export interface ReadGptOptions {
  /** Logical sector size when known; otherwise 512 and 4096 are both tried. */
  sectorSize?: number;
}

/** The largest entry array we accept: the spec's default is 128 × 128 bytes = 16 KiB. */
export const MAX_ENTRY_ARRAY_BYTES = 1024 * 1024;
const SECTOR_SIZES = [512, 4096] as const;
export const LINUX_SWAP_GUID = '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F';

const PARTITION_TYPE_NAMES: Record<string, string> = {
  [LINUX_SWAP_GUID]: 'Linux swap',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'Linux root (x86-64)',
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': 'Linux home',
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
};

/** A readable name for well-known partition types, else 'unknown'. */
export function partitionTypeName(typeGuid: string): string {
  return PARTITION_TYPE_NAMES[typeGuid.toUpperCase()] ?? 'unknown';
}

export function sameGuid(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

/** A GUID in its text form: the first three fields little-endian, the last two as stored ("mixed-endian"), upper-case. */
export function formatGuid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0'));
    return (reverse ? part.reverse() : part).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-').toUpperCase();
}

/** Reads whole-disk contents as a DiskReader. */
export function bufferReader(name: string, bytes: Uint8Array): DiskReader {
  return {
    name,
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

/** One header candidate's verdict: a table, or why not (and whether a signature was there at all). */
type Attempt =
  | { table: Omit<GptTable, 'warnings' | 'protectiveMbr'> }
  | { failure: string; lba: number; signature: boolean; alternateLba?: number };

/**
 * Reads the GPT: the primary header at LBA 1 and its entries; when they fail a check, the backup
 * header (at the primary's alternate LBA, or the last LBA) with a warning.
 * Throws DeviceError ENOGPT when there is no GPT, EGPT when both copies fail a check.
 */
export async function readGpt(reader: DiskReader, options: ReadGptOptions = {}): Promise<GptTable> {
  const sizes = options.sectorSize ? [options.sectorSize] : [...SECTOR_SIZES];
  const failuresBySize: Attempt[][] = [];
  for (const sectorSize of sizes) {
    const primary = await readCopy(reader, sectorSize, 1, 'primary');
    if ('table' in primary) return finish(reader, primary.table, await checkBackup(reader, primary.table));
    const backupLbas = new Set<number>();
    if (primary.signature && primary.alternateLba !== undefined) backupLbas.add(primary.alternateLba);
    backupLbas.add(Math.floor(reader.size / sectorSize) - 1);
    const failures: Attempt[] = [primary];
    for (const lba of backupLbas) {
      if (lba <= 1) continue;
      const backup = await readCopy(reader, sectorSize, lba, 'backup');
      if ('table' in backup) {
        const warning = `primary GPT ${primary.failure} at LBA 1; using the backup header at LBA ${lba}`;
        return finish(reader, backup.table, [warning]);
      }
      failures.push(backup);
    }
    failuresBySize.push(failures);
  }
  const withSignature = failuresBySize.find((failures) => failures.some((f) => 'failure' in f && f.signature));
  if (!withSignature) {
    throw new DeviceError('ENOGPT', reader.name, `no GPT found (no "EFI PART" signature at LBA 1 or the last LBA, for sector sizes ${sizes.join(' and ')})`);
  }
  const [first, ...rest] = withSignature.map((f) => ('failure' in f ? `${f.failure} at LBA ${f.lba}` : ''));
  const backups = rest.map((r) => `backup ${r}`).join('; ');
  throw new DeviceError('EGPT', reader.name, `GPT ${first}${backups ? ` (and ${backups})` : ''}`);
}

/** The primary is good; a damaged backup is still worth a warning (the next damage would be fatal). */
async function checkBackup(reader: DiskReader, primary: Omit<GptTable, 'warnings' | 'protectiveMbr'>): Promise<string[]> {
  const lba = primary.header.alternateLba;
  const backup = await readCopy(reader, primary.sectorSize, lba, 'backup');
  return 'table' in backup ? [] : [`backup GPT ${backup.failure} at LBA ${lba}; the primary is intact`];
}

async function finish(reader: DiskReader, table: Omit<GptTable, 'warnings' | 'protectiveMbr'>, warnings: string[]): Promise<GptTable> {
  const protectiveMbr = hasProtectiveMbr(await reader.read(0, 512));
  if (!protectiveMbr) warnings.push('no protective MBR at LBA 0');
  return { ...table, protectiveMbr, warnings };
}

function hasProtectiveMbr(sector: Uint8Array): boolean {
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return false;
  for (let slot = 0; slot < 4; slot++) if (sector[446 + slot * 16 + 4] === 0xee) return true;
  return false;
}

class CheckFailed extends Error {
  constructor(
    readonly failure: string,
    readonly signature: boolean,
    readonly alternateLba?: number,
  ) {
    super(failure);
  }
}

/** Reads and checks one header and its entry array. */
async function readCopy(
  reader: DiskReader,
  sectorSize: number,
  lba: number,
  source: 'primary' | 'backup',
): Promise<Attempt> {
  try {
    return { table: await readCopyOrThrow(reader, sectorSize, lba, source) };
  } catch (err) {
    if (!(err instanceof CheckFailed)) throw err;
    return { failure: err.failure, lba, signature: err.signature, alternateLba: err.alternateLba };
  }
}

async function readCopyOrThrow(reader: DiskReader, sectorSize: number, lba: number, source: 'primary' | 'backup') {
  const totalSectors = Math.floor(reader.size / sectorSize);
  if (lba >= totalSectors) throw new CheckFailed('header is past the end of the device', false);
  const sector = await reader.read(lba * sectorSize, sectorSize);
  const view = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  if (Buffer.from(sector.subarray(0, 8)).toString('latin1') !== 'EFI PART') {
    throw new CheckFailed('header has no "EFI PART" signature', false);
  }
  const fail = (what: string, alternate?: number): never => {
    throw new CheckFailed(what, true, alternate);
  };
  const revision = view.getUint32(8, true);
  if (revision >>> 16 !== 1) fail(`header revision 0x${revision.toString(16)} is not 1.x`);
  const headerSize = view.getUint32(12, true);
  if (headerSize < 92 || headerSize > sectorSize) fail(`header size ${headerSize} is outside 92..${sectorSize}`);
  const storedCrc = view.getUint32(16, true);
  const zeroed = Uint8Array.from(sector.subarray(0, headerSize));
  zeroed.fill(0, 16, 20);
  if (crc32(zeroed) !== storedCrc) fail('header CRC mismatch');

  const lbaAt = (pos: number, field: string): number => {
    const value = view.getBigUint64(pos, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`header ${field} ${value} is out of range`);
    return Number(value);
  };
  const header: GptHeader = {
    revision,
    headerSize,
    myLba: lbaAt(24, 'my LBA'),
    alternateLba: lbaAt(32, 'alternate LBA'),
    firstUsableLba: lbaAt(40, 'first usable LBA'),
    lastUsableLba: lbaAt(48, 'last usable LBA'),
    diskGuid: formatGuid(sector.subarray(56, 72)),
    entryArrayLba: lbaAt(72, 'entry array LBA'),
    entryCount: view.getUint32(80, true),
    entrySize: view.getUint32(84, true),
  };
  const entryArrayCrc = view.getUint32(88, true);
  // From here on the header is intact, so its alternate LBA is worth trying for the backup.
  const alternate = source === 'primary' && header.alternateLba < totalSectors ? header.alternateLba : undefined;
  const broken = (what: string): never => fail(what, alternate);

  if (header.myLba !== lba) broken(`header says it is at LBA ${header.myLba}`);
  if (header.firstUsableLba > header.lastUsableLba) broken(`header's first usable LBA ${header.firstUsableLba} is after its last ${header.lastUsableLba}`);
  if (header.lastUsableLba >= totalSectors || header.alternateLba >= totalSectors) {
    broken(`header describes a disk of ${Math.max(header.lastUsableLba, header.alternateLba) + 1}+ sectors but the device has ${totalSectors} (truncated?)`);
  }
  if (header.entrySize < 128 || header.entrySize % 8 !== 0) broken(`entry size ${header.entrySize} is not a multiple of 8 of at least 128`);
  const arrayBytes = header.entryCount * header.entrySize;
  if (arrayBytes > MAX_ENTRY_ARRAY_BYTES) broken(`entry array of ${header.entryCount} × ${header.entrySize} bytes exceeds ${MAX_ENTRY_ARRAY_BYTES}`);
  const arrayOffset = header.entryArrayLba * sectorSize;
  if (header.entryArrayLba < 1 || arrayOffset + arrayBytes > totalSectors * sectorSize) {
    broken(`entry array at LBA ${header.entryArrayLba} runs past the end of the device`);
  }
  const array = await reader.read(arrayOffset, arrayBytes);
  if (crc32(array) !== entryArrayCrc) broken(`entry array CRC mismatch (array at LBA ${header.entryArrayLba})`);

  const entries: GptEntry[] = [];
  for (let slot = 0; slot < header.entryCount; slot++) {
    const raw = array.subarray(slot * header.entrySize, (slot + 1) * header.entrySize);
    if (raw.subarray(0, 16).every((b) => b === 0)) continue;
    const entry = parseEntry(raw, slot + 1);
    if (entry.firstLba > entry.lastLba || entry.firstLba < header.firstUsableLba || entry.lastLba > header.lastUsableLba) {
      broken(`entry ${entry.index} spans LBA ${entry.firstLba}..${entry.lastLba}, outside the usable ${header.firstUsableLba}..${header.lastUsableLba}`);
    }
    entries.push(entry);
  }
  return { device: reader.name, sectorSize, source, header, entries };
}

function parseEntry(raw: Uint8Array, index: number): GptEntry {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const lba = (pos: number): number => {
    const value = view.getBigUint64(pos, true);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  };
  const nameBytes = raw.subarray(56, 56 + 72);
  let end = 0;
  while (end + 1 < nameBytes.length && (nameBytes[end] !== 0 || nameBytes[end + 1] !== 0)) end += 2;
  return {
    index,
    typeGuid: formatGuid(raw.subarray(0, 16)),
    uniqueGuid: formatGuid(raw.subarray(16, 32)),
    firstLba: lba(32),
    lastLba: lba(40),
    attributes: view.getBigUint64(48, true),
    name: Buffer.from(nameBytes.subarray(0, end)).toString('utf16le'),
  };
}
