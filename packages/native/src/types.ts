/** What the active backend can do. */
export interface Capabilities {
  /** 'native' when the N-API addon is loaded, 'fallback' for the pure-JS implementation. */
  backend: 'native' | 'fallback';
  /** O_DIRECT opens are honoured (page cache bypassed). */
  directIO: boolean;
  /** fallocate(2) reserves space (otherwise: a zero-filling write). */
  fallocate: boolean;
  /** BLKGETSIZE64 / BLKSSZGET / BLKPBSZGET ioctls (otherwise: sysfs). */
  blockIoctls: boolean;
  /** Open file description locks (F_OFD_SETLK) (otherwise: a lock file). */
  ofdLocks: boolean;
  /** Why the addon is not in use, when backend is 'fallback'. */
  fallbackReason?: string;
}

export interface OpenOptions {
  /** Open for writing as well as reading. Default false. */
  write?: boolean;
  /** Create a regular file when missing (O_CREAT). Default false. */
  create?: boolean;
  /** Bypass the page cache with O_DIRECT (reads and writes then need aligned buffers, offsets and lengths). Default false. */
  direct?: boolean;
  /** O_EXCL: on a block device, fail with EBUSY when it is mounted or opened exclusively elsewhere. Default false. */
  exclusive?: boolean;
}

export interface SectorSizes {
  logical: number;
  physical: number;
}

/** An open file or block device; every I/O method is one syscall for the whole range, run off the main thread. */
export interface RawFile {
  readonly path: string;
  readonly fd: number;
  /** True when opened with O_DIRECT. */
  readonly direct: boolean;
  /** Reads buffer.length bytes at position into buffer; resolves to the bytes read (short only at end of file). */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** Writes all of buffer at position; resolves to the bytes written. */
  write(buffer: Uint8Array, position: number): Promise<number>;
  /** Reserves [offset, offset+length) on disk (mode 0; the file grows when needed). */
  fallocate(offset: number, length: number): Promise<void>;
  /** fdatasync(2). */
  datasync(): Promise<void>;
  /** Bytes: the file size, or the block device's size (BLKGETSIZE64 / sysfs). */
  size(): Promise<number>;
  /** Logical and physical sector sizes (512/512 for regular files unless the filesystem says otherwise). */
  sectorSizes(): Promise<SectorSizes>;
  /** Takes an exclusive (or shared) whole-file lock without waiting; throws an error with code 'ELOCKED' naming the path when held elsewhere. */
  lock(mode: 'exclusive' | 'shared'): void;
  unlock(): void;
  close(): Promise<void>;
}

export interface NativeApi {
  capabilities(): Capabilities;
  /** A zero-filled buffer whose address is a multiple of alignment (default 4096). */
  allocAligned(size: number, alignment?: number): Buffer;
  open(path: string, options?: OpenOptions): Promise<RawFile>;
}
