/**
 * A fixed-size device that ValkkaFS writes its block ring into.
 * Reads and writes take whole ranges aligned to `alignment`; offsets are bytes from the device start.
 */
export interface BlockDevice {
  /** Human-readable name for errors and logs: a path, '/dev/loop0p1 (PARTUUID …)', 'memory'. */
  readonly name: string;
  /** Usable bytes. */
  readonly size: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** Offsets, lengths and buffers passed to read/write must be multiples of this (>= 4096 is always safe). */
  readonly alignment: number;
  /** Reads buffer.length bytes at offset. Rejects with a DeviceError on I/O failure or out-of-range access. */
  read(offset: number, buffer: Uint8Array): Promise<void>;
  /** Writes all of buffer at offset (not durable until flush()). */
  write(offset: number, buffer: Uint8Array): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  flush(): Promise<void>;
  /** Takes the single-writer lock; throws DeviceError code 'ELOCKED' when another writer holds it. */
  lock(): Promise<void>;
  close(): Promise<void>;
  /** A buffer suited to this device's alignment (aligned memory for O_DIRECT devices). */
  allocBuffer(size: number): Buffer;
}
