/**
 * Opening the device of a directory (its dumpfile, or its partition by PARTUUID), with device
 * errors turned into load errors that name the directory.
 */
import { join } from 'node:path';

import { type BlockDevice, DeviceError, FileDevice, PartitionDevice } from '@valkka/blockdev';

import { ValkkaFSLoadError } from './errors.js';
import { checkRegular } from './files.js';
import { DUMPFILE_NAME, type Metadata } from './metadata.js';
import { isMirror, openMirrorDevice } from './mirror.js';

/**
 * The dumpfile, or the partition re-resolved by its PARTUUID (refused when it is gone). A dumpfile
 * is a regular file in the directory itself: a symlink, FIFO or device node there is refused (block
 * devices only in partition mode). A mirror directory (mirror.json) opens read-only only.
 */
export async function openDevice(dirname: string, meta: Metadata, readOnly: boolean): Promise<BlockDevice> {
  // A mirror directory's blocks come from the device its mirror.json names (mirror.ts): never written.
  if (await isMirror(dirname)) {
    if (!readOnly) throw new ValkkaFSLoadError('EMETADATA', `${dirname}: a mirror is read-only (it holds mirror.json); open it with readOnly`);
    return openMirrorDevice(dirname, meta);
  }
  if (meta.partition_uuid) return openPartition(meta.partition_uuid, readOnly, dirname);
  const path = join(dirname, DUMPFILE_NAME);
  if (!(await checkRegular(path, DUMPFILE_NAME))) throw new ValkkaFSLoadError('ENOTFOUND', `${path}: the dumpfile does not exist`);
  return wrapDevice(dirname, () => FileDevice.open(path, { readOnly }));
}

export async function openPartition(uuid: string, readOnly: boolean, dirname: string): Promise<PartitionDevice> {
  return wrapDevice(dirname, () => PartitionDevice.open(uuid, { readOnly }));
}

/** Device errors become load errors naming the directory (ELOCKED stays ELOCKED). */
export async function wrapDevice<T>(dirname: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof DeviceError) {
      const code = err.code === 'ELOCKED' ? 'ELOCKED' : err.code === 'ENOENT' || err.code === 'ENODEV' ? 'ENOTFOUND' : err.code === 'ENOSPC' ? 'EIO' : 'EMETADATA';
      throw new ValkkaFSLoadError(code, `${dirname}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
