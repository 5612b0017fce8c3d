import type { NativeApi, RawFile, SectorSizes } from '@valkka/native';
import { DeviceError, errnoOf } from './errors.js';
import { checkRange } from './range.js';
import type { BlockDevice } from './types.js';

export interface RawDeviceParams {
  name: string;
  file: RawFile;
  backend: NativeApi;
  /** Bytes of the file or node; the device uses them rounded down to its alignment. */
  bytes: number;
  sectors: SectorSizes;
  readOnly: boolean;
}

/** Alignment for both buffered and O_DIRECT I/O: a page, or the sector when larger. */
export function alignmentFor(logicalSectorSize: number): number {
  return Math.max(4096, logicalSectorSize);
}

/** Opens with O_DIRECT when wanted and possible; a filesystem that refuses O_DIRECT (EINVAL) gets buffered I/O. */
export async function openRaw(backend: NativeApi, path: string, write: boolean, direct: boolean, exclusive = false): Promise<RawFile> {
  const useDirect = direct && backend.capabilities().directIO;
  try {
    return await backend.open(path, { write, direct: useDirect, exclusive });
  } catch (err) {
    if (!useDirect || errnoOf(err) !== 'EINVAL') throw err;
    return backend.open(path, { write, direct: false, exclusive });
  }
}

/**
 * A BlockDevice over one open RawFile (a regular file or a block device node): range and alignment
 * checks, one syscall per read or write, and errors that name the device, offset and length.
 */
export class RawDevice implements BlockDevice {
  readonly name: string;
  readonly size: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly alignment: number;
  readonly readOnly: boolean;
  private readonly file: RawFile;
  private readonly backend: NativeApi;
  private closed = false;

  protected constructor(params: RawDeviceParams) {
    this.name = params.name;
    this.file = params.file;
    this.backend = params.backend;
    this.logicalSectorSize = params.sectors.logical;
    this.physicalSectorSize = params.sectors.physical;
    this.alignment = alignmentFor(params.sectors.logical);
    this.size = Math.floor(params.bytes / this.alignment) * this.alignment;
    this.readOnly = params.readOnly;
  }

  /** True when the page cache is bypassed (O_DIRECT): buffers must then come from allocBuffer(). */
  get direct(): boolean {
    return this.file.direct;
  }

  /** Which @valkka/native backend does the I/O. */
  get backendName(): 'native' | 'fallback' {
    return this.backend.capabilities().backend;
  }

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this, offset, buffer.length);
    const done = await this.file.read(buffer, offset).catch((err: unknown) => {
      throw this.ioError('read', err, offset, buffer.length);
    });
    if (done !== buffer.length) {
      throw new DeviceError('EIO', this.name, `short read: ${done} bytes`, { offset, length: buffer.length });
    }
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new DeviceError('EREADONLY', this.name, 'opened read-only', { offset, length: buffer.length });
    checkRange(this, offset, buffer.length);
    const done = await this.file.write(buffer, offset).catch((err: unknown) => {
      throw this.ioError('write', err, offset, buffer.length);
    });
    if (done !== buffer.length) {
      throw new DeviceError('EIO', this.name, `short write: ${done} bytes`, { offset, length: buffer.length });
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.file.datasync().catch((err: unknown) => {
      throw this.ioError('flush', err);
    });
  }

  async lock(): Promise<void> {
    this.checkOpen();
    try {
      this.file.lock('exclusive');
    } catch (err) {
      if (errnoOf(err) === 'ELOCKED') throw new DeviceError('ELOCKED', this.name, 'locked by another writer', { cause: err });
      throw this.ioError('lock', err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  allocBuffer(size: number): Buffer {
    return this.backend.allocAligned(size, this.alignment);
  }

  private checkOpen(): void {
    if (this.closed) throw new DeviceError('ECLOSED', this.name, 'device is closed');
  }

  private ioError(operation: string, err: unknown, offset?: number, length?: number): DeviceError {
    const code = errnoOf(err);
    const where = offset === undefined ? {} : { offset, length };
    if (code === 'EINVAL' && this.direct) {
      return new DeviceError('EALIGN', this.name, `${operation} rejected by O_DIRECT (buffer not from allocBuffer()?)`, { ...where, cause: err });
    }
    return new DeviceError('EIO', this.name, `${operation} failed: ${(err as Error).message}`, { ...where, cause: err });
  }
}
