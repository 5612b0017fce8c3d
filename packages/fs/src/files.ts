/**
 * The directory's own files (valkkafs.json, blockfile, dumpfile) are regular files, never a symlink,
 * FIFO, socket or device: a FIFO would block every open, and a symlink could point writes at a file
 * that is not ours. Checked with lstat before opening, and again with fstat on what was opened
 * (opened with O_NONBLOCK, so a FIFO that appears in between cannot hang the open either).
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readFile, stat } from 'node:fs/promises';

import type { z } from 'zod';

import { ValkkaFSError, ValkkaFSLoadError } from './errors.js';

/** What kind of file this is, in words for an error message. */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function refuse(path: string, what: string, st: Stats): never {
  const hint = st.isSymbolicLink() ? ' (symlinks are refused: put the whole directory on the other disk, or use a partition)' : '';
  throw new ValkkaFSLoadError('EFILETYPE', `${path}: the ${what} is ${kindOf(st)}, not a regular file; refusing to use it${hint}`);
}

/**
 * Refuses `path` unless it is a regular file (not a symlink). Returns false when it does not exist
 * (the caller decides whether that is an error).
 */
export async function checkRegular(path: string, what: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(path, `cannot stat the ${what}`, err);
  }
  if (!st.isFile()) refuse(path, what, st);
  return true;
}

/**
 * For the read-only libValkka reader: what `path` leads to (symlinks followed: nothing is written)
 * is a regular file, or a block device when `device`; a FIFO would block its open forever.
 */
export async function checkReadable(path: string, what: string, device: boolean): Promise<void> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    return; // the reader reports a missing file itself
  }
  if (!st.isFile() && !(device && st.isBlockDevice())) refuse(path, what, st);
}

/** Opens an existing regular file without following a symlink and without blocking on a FIFO. */
export async function openRegular(path: string, what: string, write: boolean): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, (write ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') refuse(path, what, await lstat(path));
    if (code === 'ENOENT') throw new ValkkaFSLoadError('ENOTFOUND', `${path}: the ${what} does not exist`, { cause: err });
    throw ioError(path, `cannot open the ${what}`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) refuse(path, what, st);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/**
 * Reads and parses one of the directory's json files (regular, at most maxBytes) and validates it:
 * every failure is an EMETADATA error that names the file and what is wrong with it.
 */
export async function readJsonFile<T>(path: string, what: string, maxBytes: number, schema: (raw: unknown) => z.ZodType<T>): Promise<T> {
  let text: string;
  const fh = await openRegular(path, what, false);
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw new ValkkaFSLoadError('EMETADATA', `${path}: ${size} bytes, larger than a ${what} can be (${maxBytes})`);
    text = await readFile(fh, 'utf8');
  } catch (err) {
    if (err instanceof ValkkaFSLoadError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValkkaFSLoadError('EMETADATA', `${path}: cannot read (${code ?? String(err)})`, { cause: err });
  } finally {
    await fh.close();
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ValkkaFSLoadError('EMETADATA', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = schema(raw).safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ValkkaFSLoadError('EMETADATA', `${path}: invalid ${what} (${issues})`);
  }
  return parsed.data;
}

/** An I/O error that names the file and the system's code (ENOSPC, EIO, EACCES...). */
export function ioError(path: string, doing: string, err: unknown): ValkkaFSError {
  if (err instanceof ValkkaFSError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'no space left on its filesystem' : code === 'EDQUOT' ? 'disk quota exceeded' : (err as Error).message;
  return new ValkkaFSError('EIO', `${path}: ${doing}: ${why}${code && !why.includes(code) ? ` (${code})` : ''}`, { cause: err });
}

/** True for the errors of a full disk. */
export const isNoSpace = (err: unknown): boolean => {
  const code = (err as { code?: string; cause?: { code?: string } }).code;
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || cause === 'ENOSPC' || cause === 'EDQUOT';
};
