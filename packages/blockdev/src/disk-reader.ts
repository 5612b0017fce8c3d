import { open } from 'node:fs/promises';
import { DeviceError, errnoOf } from './errors.js';
import type { DiskReader } from './gpt.js';

/** An open DiskReader over a file or block device (buffered reads through node:fs); close() when done. */
export interface FileDiskReader extends DiskReader {
  close(): Promise<void>;
}

/**
 * Opens `path` read-only for the GPT parser. `size` is needed for block devices (fstat says 0 there);
 * for regular files it defaults to the file size.
 */
export async function openDiskReader(path: string, size?: number): Promise<FileDiskReader> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new DeviceError(errnoOf(err) === 'ENOENT' ? 'ENOENT' : 'EIO', path, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  const fh = handle;
  const bytes = size ?? (await fh.stat()).size;
  return {
    name: path,
    size: bytes,
    async read(offset, length) {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buffer, done, length - done, offset + done).catch((err: unknown) => {
          throw new DeviceError('EIO', path, `read failed: ${(err as Error).message}`, { offset, length, cause: err });
        });
        if (bytesRead === 0) throw new DeviceError('EIO', path, 'unexpected end of file', { offset, length });
        done += bytesRead;
      }
      return buffer;
    },
    close: () => fh.close(),
  };
}
