// Pure-JS implementation of NativeApi on node:fs/promises: buffered I/O (O_DIRECT is
// ignored), fallocate emulated with zero writes, sysfs instead of ioctls, lock files
// instead of OFD locks.
import { accessSync, constants as fsConstants } from 'node:fs';
import { type FileHandle, open as openFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkAlloc, checkPath } from './arguments.js';
import { NativeError, toNativeError } from './errors.js';
import { LockFile } from './lock-file.js';
import { RawFileBase } from './raw-file.js';
import { blockDeviceName, blockDeviceSectorSizes, blockDeviceSize } from './sysfs.js';
import type { Capabilities, NativeApi, OpenOptions, RawFile, SectorSizes } from './types.js';

/** Largest single fs read/write (Node refuses more than 2 GiB - 1 at once). */
const MAX_IO = 1 << 30;
/** Zeros written per step when emulating fallocate: bounded memory whatever the length. */
const ZERO_CHUNK = 1 << 20;

/** Lock files of block devices live in /run/lock when writable, else in the temp dir. */
function blockLockDir(): string {
  try {
    accessSync('/run/lock', fsConstants.W_OK);
    return '/run/lock';
  } catch {
    return tmpdir();
  }
}

class FallbackFile extends RawFileBase {
  readonly #lock: LockFile;

  constructor(
    private readonly handle: FileHandle,
    path: string,
    private readonly rdev: bigint | undefined,
    lockPath: string,
    writable: boolean,
  ) {
    super(path, handle.fd, false, writable);
    this.#lock = new LockFile(path, lockPath);
  }

  protected async readAt(buffer: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, done, Math.min(buffer.length - done, MAX_IO), position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  protected async writeAt(buffer: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await this.handle.write(buffer, done, Math.min(buffer.length - done, MAX_IO), position + done);
      done += bytesWritten;
    }
    return done;
  }

  /** Mode 0 keeps existing bytes, so only the part past the end of file is written (with zeros, never sparse). */
  protected async reserve(offset: number, length: number): Promise<void> {
    if (this.rdev !== undefined) {
      throw new NativeError('ENOTSUP', 'fallocate', this.path, 'not supported on a block device (as fallocate(2) says)');
    }
    const end = offset + length;
    const { size } = await this.handle.stat();
    if (end <= size) return;
    const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, end - Math.max(offset, size)));
    for (let position = Math.max(offset, size); position < end; position += zeros.length) {
      await this.writeAt(zeros.subarray(0, Math.min(zeros.length, end - position)), position);
    }
  }

  protected syncData(): Promise<void> {
    return this.handle.datasync();
  }

  protected async sizeInBytes(): Promise<number> {
    if (this.rdev !== undefined) return blockDeviceSize(this.rdev);
    return (await this.handle.stat()).size;
  }

  protected async sectors(): Promise<SectorSizes> {
    if (this.rdev !== undefined) return blockDeviceSectorSizes(this.rdev);
    const { blksize } = await this.handle.stat();
    return { logical: 512, physical: Math.max(512, blksize) };
  }

  protected lockFile(mode: 'exclusive' | 'shared'): void {
    this.#lock.acquire(mode);
  }

  protected unlockFile(): void {
    this.#lock.release();
  }

  protected async closeFile(): Promise<void> {
    try {
      this.#lock.release();
    } finally {
      await this.handle.close();
    }
  }
}

async function openFallback(path: string, options: OpenOptions): Promise<RawFile> {
  const { write = false, create = false, exclusive = false } = options;
  const before = await stat(path, { bigint: true }).catch(() => undefined);
  const isBlock = before?.isBlockDevice() ?? false;
  let flags = write ? fsConstants.O_RDWR : fsConstants.O_RDONLY;
  if (create) flags |= fsConstants.O_CREAT;
  // O_EXCL without O_CREAT only means something for block devices (refuse when in use).
  if (exclusive && isBlock) flags |= fsConstants.O_EXCL;
  const handle = await openFile(path, flags, 0o666);
  try {
    const info = await handle.stat({ bigint: true });
    const rdev = info.isBlockDevice() ? info.rdev : undefined;
    const lockPath = rdev !== undefined ? join(blockLockDir(), `valkka-${blockDeviceName(rdev)}.lock`) : `${path}.lock`;
    return new FallbackFile(handle, path, rdev, lockPath, write);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export function createFallbackBackend(reason: string): NativeApi {
  return {
    capabilities(): Capabilities {
      return { backend: 'fallback', directIO: false, fallocate: false, blockIoctls: false, ofdLocks: false, fallbackReason: reason };
    },
    allocAligned(size: number, alignment = 4096): Buffer {
      checkAlloc(size, alignment);
      // Plain JS cannot choose an address: a zero-filled, unpooled Buffer is the best it can do.
      return Buffer.alloc(size);
    },
    async open(path: string, options: OpenOptions = {}): Promise<RawFile> {
      checkPath(path);
      try {
        return await openFallback(path, options);
      } catch (error) {
        throw toNativeError(error, 'open', path);
      }
    },
  };
}
