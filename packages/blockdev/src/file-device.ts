import { lstat, open as openFs, statfs, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NativeApi, RawFile } from '@valkka/native';
import { defaultBackend } from './backend.js';
import { DeviceError, errnoOf } from './errors.js';
import { RawDevice, alignmentFor, openRaw } from './raw-device.js';

export interface FileDeviceOpenOptions {
  readOnly?: boolean;
  /** O_DIRECT when the backend supports it (default true); falls back to buffered I/O otherwise. */
  direct?: boolean;
  /** Which @valkka/native backend to use; default the active one. */
  backend?: NativeApi;
}

export interface FileDeviceCreateOptions extends Omit<FileDeviceOpenOptions, 'readOnly'> {
  /** Replace an existing regular file (never anything else). Default false. */
  overwrite?: boolean;
}

/** A regular file used as a device: pre-reserved to its full size (fallocate, not sparse). */
export class FileDevice extends RawDevice {
  /** Creates `path` with `size` bytes reserved on disk; refuses an existing file unless `overwrite`. */
  static async create(path: string, size: number, options: FileDeviceCreateOptions = {}): Promise<FileDevice> {
    if (!Number.isSafeInteger(size) || size <= 0 || size % alignmentFor(512) !== 0) {
      throw new DeviceError('EINVAL', path, `size ${size} must be a positive multiple of ${alignmentFor(512)}`);
    }
    await checkFreeSpace(path, size);
    if (options.overwrite) await removeRegularFile(path);
    try {
      await (await openFs(path, 'wx')).close();
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') throw new DeviceError('EEXIST', path, 'already exists (pass overwrite: true to replace it)');
      throw new DeviceError('EIO', path, `cannot create: ${(err as Error).message}`, { cause: err });
    }
    const backend = options.backend ?? defaultBackend;
    let file: RawFile | undefined;
    try {
      file = await openRaw(backend, path, true, options.direct ?? true);
      await file.fallocate(0, size);
      return await FileDevice.fromFile(path, file, backend, false);
    } catch (err) {
      await file?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      if (err instanceof DeviceError) throw err;
      const code = errnoOf(err) === 'ENOSPC' ? 'ENOSPC' : 'EIO';
      throw new DeviceError(code, path, `cannot reserve ${size} bytes: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Opens an existing device file; its usable size is the file size rounded down to the alignment. */
  static async open(path: string, options: FileDeviceOpenOptions = {}): Promise<FileDevice> {
    const backend = options.backend ?? defaultBackend;
    const readOnly = options.readOnly ?? false;
    let file: RawFile;
    try {
      file = await openRaw(backend, path, !readOnly, options.direct ?? true);
    } catch (err) {
      const code = errnoOf(err) === 'ENOENT' ? 'ENOENT' : 'EIO';
      throw new DeviceError(code, path, `cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      return await FileDevice.fromFile(path, file, backend, readOnly);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  private static async fromFile(path: string, file: RawFile, backend: NativeApi, readOnly: boolean): Promise<FileDevice> {
    const sectors = await file.sectorSizes();
    const device = new FileDevice({ name: path, file, backend, bytes: await file.size(), sectors, readOnly });
    if (device.size === 0) throw new DeviceError('EINVAL', path, `file is smaller than one ${device.alignment}-byte block`);
    return device;
  }
}

async function removeRegularFile(path: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await lstat(path)).isFile();
  } catch {
    return; // nothing to replace
  }
  if (!isFile) throw new DeviceError('EINVAL', path, 'exists and is not a regular file; refusing to overwrite it');
  await unlink(path);
}

/** Refuses up front what cannot fit (the fallback reserves by writing zeros: it would fill the disk first). */
async function checkFreeSpace(path: string, size: number): Promise<void> {
  let available: number;
  try {
    const fs = await statfs(dirname(path));
    available = fs.bavail * fs.bsize;
  } catch {
    return; // the create below reports a missing directory
  }
  if (size > available) {
    throw new DeviceError('ENOSPC', path, `cannot reserve ${size} bytes: only ${available} bytes free on its filesystem`);
  }
}
