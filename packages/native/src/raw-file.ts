// What both backends' open files share: argument checks, the closed state, waiting
// for in-flight I/O before closing, and errors that name the operation and path.
import { checkBuffer, checkLockMode, checkOffset } from './arguments.js';
import { NativeError, toNativeError } from './errors.js';
import type { RawFile, SectorSizes } from './types.js';

export abstract class RawFileBase implements RawFile {
  #closed = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly path: string,
    readonly fd: number,
    readonly direct: boolean,
    /** Opened with write: true (an exclusive lock needs it, as F_WRLCK does). */
    protected readonly writable: boolean,
  ) {}

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.#run('read', () => {
      checkBuffer('read', this.path, buffer);
      checkOffset('read', this.path, 'position', position);
      return this.readAt(buffer, position);
    });
  }

  write(buffer: Uint8Array, position: number): Promise<number> {
    return this.#run('write', () => {
      checkBuffer('write', this.path, buffer);
      checkOffset('write', this.path, 'position', position);
      return this.writeAt(buffer, position);
    });
  }

  fallocate(offset: number, length: number): Promise<void> {
    return this.#run('fallocate', () => {
      checkOffset('fallocate', this.path, 'offset', offset);
      checkOffset('fallocate', this.path, 'length', length);
      if (length === 0) throw new NativeError('EINVAL', 'fallocate', this.path, 'length must be greater than 0');
      return this.reserve(offset, length);
    });
  }

  datasync(): Promise<void> {
    return this.#run('datasync', () => this.syncData());
  }

  size(): Promise<number> {
    return this.#run('size', () => this.sizeInBytes());
  }

  sectorSizes(): Promise<SectorSizes> {
    return this.#run('sectorSizes', () => this.sectors());
  }

  lock(mode: 'exclusive' | 'shared'): void {
    const operation = `lock ${String(mode)}`;
    this.#ensureOpen(operation);
    checkLockMode(this.path, mode);
    if (mode === 'exclusive' && !this.writable) {
      throw new NativeError('EBADF', operation, this.path, 'an exclusive lock needs the file opened with write: true');
    }
    try {
      this.lockFile(mode);
    } catch (error) {
      throw toNativeError(error, operation, this.path);
    }
  }

  unlock(): void {
    this.#ensureOpen('unlock');
    try {
      this.unlockFile();
    } catch (error) {
      throw toNativeError(error, 'unlock', this.path);
    }
  }

  /** Waits for in-flight I/O, then closes; closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    try {
      await this.closeFile();
    } catch (error) {
      throw toNativeError(error, 'close', this.path);
    }
  }

  protected abstract readAt(buffer: Uint8Array, position: number): Promise<number>;
  protected abstract writeAt(buffer: Uint8Array, position: number): Promise<number>;
  protected abstract reserve(offset: number, length: number): Promise<void>;
  protected abstract syncData(): Promise<void>;
  protected abstract sizeInBytes(): Promise<number>;
  protected abstract sectors(): Promise<SectorSizes>;
  protected abstract lockFile(mode: 'exclusive' | 'shared'): void;
  protected abstract unlockFile(): void;
  protected abstract closeFile(): Promise<void>;

  #ensureOpen(operation: string): void {
    if (this.#closed) throw new NativeError('EBADF', operation, this.path, 'the file is closed');
  }

  async #run<T>(operation: string, task: () => Promise<T>): Promise<T> {
    this.#ensureOpen(operation);
    const pending = (async () => task())();
    this.#inFlight.add(pending);
    try {
      return await pending;
    } catch (error) {
      throw toNativeError(error, operation, this.path);
    } finally {
      this.#inFlight.delete(pending);
    }
  }
}
