// The N-API addon behind the NativeApi interface. The .node file is looked up relative
// to the package root, which is one level above both src/ (vitest) and dist/ (built).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { checkAlloc, checkPath } from './arguments.js';
import { NativeError, toNativeError } from './errors.js';
import { RawFileBase } from './raw-file.js';
import type { Capabilities, NativeApi, OpenOptions, RawFile, SectorSizes } from './types.js';

/** The addon's exports (src/addon/addon.cc). */
interface Addon {
  allocAligned(size: number, alignment: number): Buffer;
  addressOf(bytes: Uint8Array): number;
  open(path: string, write: boolean, create: boolean, direct: boolean, exclusive: boolean): Promise<number>;
  pread(fd: number, buffer: Uint8Array, position: number, direct: boolean): Promise<number>;
  pwrite(fd: number, buffer: Uint8Array, position: number, direct: boolean): Promise<number>;
  fallocate(fd: number, offset: number, length: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  size(fd: number): Promise<number>;
  sectorSizes(fd: number): Promise<[number, number]>;
  lock(fd: number, exclusive: boolean): void;
  unlock(fd: number): void;
  close(fd: number): Promise<void>;
}

/** The native backend, plus a helper only it can offer. */
export interface NativeBackend extends NativeApi {
  /** The memory address of the first byte of `bytes` (to check alignment). */
  addressOf(bytes: Uint8Array): number;
}

const ADDON_PATH = fileURLToPath(new URL('../build/Release/valkka_native.node', import.meta.url));
/** Written by scripts/build-native.mjs when it could not build the addon: why. */
const NOT_BUILT_PATH = fileURLToPath(new URL('../build/NOT_BUILT', import.meta.url));

function loadAddon(): { addon: Addon } | { reason: string } {
  if (process.env.VALKKA_NO_NATIVE === '1') return { reason: 'VALKKA_NO_NATIVE=1 is set' };
  try {
    return { addon: createRequire(import.meta.url)(ADDON_PATH) as Addon };
  } catch (error) {
    const reason = `the addon ${ADDON_PATH} did not load: ${(error as Error).message.split('\n')[0]}`;
    const notBuilt = buildFailure();
    return { reason: notBuilt ? `${reason} (the install could not build it: ${notBuilt})` : reason };
  }
}

function buildFailure(): string | undefined {
  try {
    return readFileSync(NOT_BUILT_PATH, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** EAGAIN / EACCES from F_OFD_SETLK: another open file description holds the lock. */
const LOCK_HELD_ERRNOS = new Set([11, 13]);

class NativeFile extends RawFileBase {
  constructor(
    private readonly addon: Addon,
    path: string,
    fd: number,
    direct: boolean,
    writable: boolean,
  ) {
    super(path, fd, direct, writable);
  }

  protected readAt(buffer: Uint8Array, position: number): Promise<number> {
    return this.addon.pread(this.fd, buffer, position, this.direct);
  }

  protected writeAt(buffer: Uint8Array, position: number): Promise<number> {
    return this.addon.pwrite(this.fd, buffer, position, this.direct);
  }

  protected reserve(offset: number, length: number): Promise<void> {
    return this.addon.fallocate(this.fd, offset, length);
  }

  protected syncData(): Promise<void> {
    return this.addon.fdatasync(this.fd);
  }

  protected sizeInBytes(): Promise<number> {
    return this.addon.size(this.fd);
  }

  protected async sectors(): Promise<SectorSizes> {
    const [logical, physical] = await this.addon.sectorSizes(this.fd);
    return { logical, physical };
  }

  protected lockFile(mode: 'exclusive' | 'shared'): void {
    try {
      this.addon.lock(this.fd, mode === 'exclusive');
    } catch (error) {
      const errno = (error as { errno?: unknown }).errno;
      if (typeof errno === 'number' && LOCK_HELD_ERRNOS.has(errno)) {
        throw new NativeError('ELOCKED', `lock ${mode}`, this.path, 'held by another open file description (fcntl F_OFD_SETLK)', { cause: error });
      }
      throw error;
    }
  }

  protected unlockFile(): void {
    this.addon.unlock(this.fd);
  }

  protected closeFile(): Promise<void> {
    return this.addon.close(this.fd);
  }
}

function createNativeBackend(addon: Addon): NativeBackend {
  return {
    capabilities(): Capabilities {
      return { backend: 'native', directIO: true, fallocate: true, blockIoctls: true, ofdLocks: true };
    },
    allocAligned(size: number, alignment = 4096): Buffer {
      checkAlloc(size, alignment);
      try {
        return addon.allocAligned(size, alignment);
      } catch (error) {
        throw toNativeError(error, 'allocAligned', `(${size} bytes)`);
      }
    },
    addressOf(bytes: Uint8Array): number {
      return addon.addressOf(bytes);
    },
    async open(path: string, options: OpenOptions = {}): Promise<RawFile> {
      checkPath(path);
      const { write = false, create = false, direct = false, exclusive = false } = options;
      try {
        const fd = await addon.open(path, write, create, direct, exclusive);
        return new NativeFile(addon, path, fd, direct, write);
      } catch (error) {
        throw toNativeError(error, 'open', path);
      }
    },
  };
}

const loaded = loadAddon();

/** The addon-backed implementation, or undefined when the addon is not available. */
export const nativeBackend: NativeBackend | undefined = 'addon' in loaded ? createNativeBackend(loaded.addon) : undefined;

/** Why nativeBackend is undefined (undefined when it loaded). */
export const nativeUnavailableReason: string | undefined = 'reason' in loaded ? loaded.reason : undefined;
