import { DeviceError } from './errors.js';
import { checkRange } from './range.js';
import type { BlockDevice } from './types.js';

export interface MemoryDeviceOptions {
  /** Logical (and, unless given, physical) sector size; the unit of torn writes. Default 512. */
  sectorSize?: number;
  physicalSectorSize?: number;
  /** Offsets and lengths must be multiples of this. Default 4096. */
  alignment?: number;
  /** Starting content of the durable image (e.g. a snapshot() of another device); must be `size` bytes. */
  image?: Uint8Array;
  /** Random source for random tears, in [0, 1). Default Math.random; pass a seeded one for reproducible tests. */
  random?: () => number;
  /**
   * Chance, at each later read, write or flush, that one pending write (picked at random) reaches the
   * durable image in full without a flush: a disk writing its cache back when it likes. Default 0.
   */
  writeback?: number;
  name?: string;
}

/** What crash() can keep of the writes not yet flushed. */
export interface CrashOptions {
  /** 'subset' (default): each sector of each pending write independently, at random; 'none'; 'all'. */
  keep?: 'subset' | 'none' | 'all';
}

/** What a crash found pending and what it kept (sectors of the logical sector size). */
export interface CrashReport {
  pendingWrites: number;
  pendingSectors: number;
  keptSectors: number;
  /** Sectors kept after a lost sector of the same write: the write reached the disk out of order. */
  reorderedSectors: number;
}

export type FaultKind = 'read' | 'write' | 'both';

interface PendingWrite {
  offset: number;
  data: Uint8Array;
  /** Sectors of this write that reach the durable image on a crash (torn write); undefined: none. */
  tornSectors?: number;
}

interface FailRange {
  offset: number;
  end: number;
  kind: FaultKind;
}

/**
 * An in-memory BlockDevice for tests, with fault injection.
 *
 * It keeps two images: the durable one (what survives a crash) and the volatile one (what reads see).
 * write() changes the volatile image and queues the write (pending); flush() makes the writes queued
 * when it was called durable once it completes (writes issued meanwhile stay pending). With the
 * `writeback` option a pending write may also become durable on its own at a random later instant.
 * crash() then models power loss:
 *  - everything written before the last completed flush() is kept;
 *  - of the pending writes, an arbitrary subset of sectors survives (by default each sector at random,
 *    in any order: a later sector of a write may survive while an earlier one is lost);
 *    a write armed with tearNextWrite() keeps exactly its first k sectors instead;
 *  - writes still in flight (see slow()) are lost and reject with EIO;
 *  - the device stays usable, as after a reboot: reads see the durable image again.
 */
export class MemoryDevice implements BlockDevice {
  readonly name: string;
  readonly size: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly alignment: number;

  private durable: Uint8Array;
  private volatile: Uint8Array;
  private pending: PendingWrite[] = [];
  private faults: FailRange[] = [];
  private delayMs = 0;
  private tearArmed: { atSector?: number } | undefined;
  private readonly random: () => number;
  private readonly writeback: number;
  /** Incremented by crash(): I/O started before a crash must not touch the state after it. */
  private epoch = 0;
  private locked = false;
  private closed = false;

  constructor(size: number, options: MemoryDeviceOptions = {}) {
    this.name = options.name ?? 'memory';
    this.logicalSectorSize = options.sectorSize ?? 512;
    this.physicalSectorSize = options.physicalSectorSize ?? this.logicalSectorSize;
    this.alignment = options.alignment ?? 4096;
    if (!isPowerOfTwo(this.logicalSectorSize) || !isPowerOfTwo(this.alignment) || this.alignment % this.logicalSectorSize !== 0) {
      throw new DeviceError('EINVAL', this.name, 'sector size and alignment must be powers of two, alignment a multiple of the sector size');
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % this.alignment !== 0) {
      throw new DeviceError('EINVAL', this.name, `size ${size} must be a positive multiple of the alignment ${this.alignment}`);
    }
    if (options.image && options.image.length !== size) {
      throw new DeviceError('EINVAL', this.name, `image is ${options.image.length} bytes, expected ${size}`);
    }
    this.size = size;
    this.durable = options.image ? Uint8Array.from(options.image) : new Uint8Array(size);
    this.volatile = Uint8Array.from(this.durable);
    this.random = options.random ?? Math.random;
    this.writeback = options.writeback ?? 0;
  }

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this, offset, buffer.length);
    const epoch = await this.delay();
    this.maybeWriteBack();
    this.checkFault(offset, buffer.length, 'read');
    if (epoch !== this.epoch) throw this.crashedError(offset, buffer.length);
    buffer.set(this.volatile.subarray(offset, offset + buffer.length));
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this, offset, buffer.length);
    const data = Uint8Array.from(buffer); // the caller may reuse its buffer once the promise settles
    const epoch = await this.delay();
    this.maybeWriteBack();
    this.checkFault(offset, data.length, 'write');
    if (epoch !== this.epoch) throw this.crashedError(offset, data.length);
    this.volatile.set(data, offset);
    const write: PendingWrite = { offset, data };
    if (this.tearArmed) {
      const sectors = data.length / this.logicalSectorSize;
      const at = this.tearArmed.atSector ?? Math.floor(this.random() * (sectors + 1));
      write.tornSectors = Math.min(Math.max(0, Math.floor(at)), sectors);
      this.tearArmed = undefined;
    }
    this.pending.push(write);
  }

  async flush(): Promise<void> {
    this.checkOpen();
    // fdatasync covers the writes completed before it was called, not those issued while it runs.
    const covered = new Set(this.pending);
    const epoch = await this.delay();
    if (epoch !== this.epoch) throw new DeviceError('EIO', this.name, 'device crashed during flush');
    this.maybeWriteBack();
    for (const write of this.pending) if (covered.has(write)) this.durable.set(write.data, write.offset);
    this.pending = this.pending.filter((w) => !covered.has(w));
  }

  async lock(): Promise<void> {
    this.checkOpen();
    if (this.locked) throw new DeviceError('ELOCKED', this.name, 'already locked by another writer');
    this.locked = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.locked = false;
  }

  allocBuffer(size: number): Buffer {
    return Buffer.alloc(size);
  }

  // ---- fault injection ----

  /** Power loss: keeps what was flushed plus some sectors of the pending writes; see the class comment. */
  crash(options: CrashOptions = {}): CrashReport {
    const keep = options.keep ?? 'subset';
    const sector = this.logicalSectorSize;
    const report: CrashReport = { pendingWrites: this.pending.length, pendingSectors: 0, keptSectors: 0, reorderedSectors: 0 };
    // In write order: where two pending writes cover a sector, the later one wins if it is kept.
    for (const write of this.pending) {
      const sectors = write.data.length / sector;
      report.pendingSectors += sectors;
      let lost = false;
      for (let i = 0; i < sectors; i++) {
        const kept = write.tornSectors !== undefined ? i < write.tornSectors : keep === 'all' || (keep === 'subset' && this.random() < 0.5);
        if (!kept) {
          lost = true;
          continue;
        }
        this.durable.set(write.data.subarray(i * sector, (i + 1) * sector), write.offset + i * sector);
        report.keptSectors++;
        if (lost) report.reorderedSectors++;
      }
    }
    this.pending = [];
    this.tearArmed = undefined;
    this.volatile = Uint8Array.from(this.durable);
    this.epoch++;
    this.locked = false;
    this.closed = false;
    return report;
  }

  /**
   * Arms a torn write: if the next write() is not flushed before crash(), only its first `atSector` sectors
   * survive the crash (random in 0..n when atSector is omitted). Flushed, it is durable in full.
   */
  tearNextWrite(options: { atSector?: number } = {}): void {
    this.tearArmed = { ...options };
  }

  /** I/O overlapping [offset, offset+length) rejects with EIO and changes nothing. */
  failRange(offset: number, length: number, kind: FaultKind = 'both'): void {
    this.faults.push({ offset, end: offset + length, kind });
  }

  clearFaults(): void {
    this.faults = [];
    this.delayMs = 0;
  }

  /** Every read, write and flush waits this long first (0: none). */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  /** A copy of the durable image: what a crash now would leave. */
  snapshot(): Uint8Array {
    return Uint8Array.from(this.durable);
  }

  /** Bytes of the durable image, without copying the whole device. */
  readDurable(offset: number, length: number): Uint8Array {
    return this.durable.slice(offset, offset + length);
  }

  /** Writes completed since the last flush. */
  get pendingWrites(): number {
    return this.pending.length;
  }

  // ---- internals ----

  /**
   * With the writeback option: the pending writes up to one picked at random become durable now
   * (in order, so an older write never lands over a newer one of the same sector).
   */
  private maybeWriteBack(): void {
    if (this.writeback <= 0 || this.pending.length === 0 || this.random() >= this.writeback) return;
    const upTo = Math.floor(this.random() * this.pending.length);
    for (const write of this.pending.splice(0, upTo + 1)) this.durable.set(write.data, write.offset);
  }

  private async delay(): Promise<number> {
    const epoch = this.epoch;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return epoch;
  }

  private checkFault(offset: number, length: number, kind: 'read' | 'write'): void {
    for (const fault of this.faults) {
      if ((fault.kind === kind || fault.kind === 'both') && offset < fault.end && fault.offset < offset + length) {
        throw new DeviceError('EIO', this.name, `injected ${kind} error`, { offset, length });
      }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new DeviceError('ECLOSED', this.name, 'device is closed');
  }

  private crashedError(offset: number, length: number): DeviceError {
    return new DeviceError('EIO', this.name, 'device crashed during I/O', { offset, length });
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
