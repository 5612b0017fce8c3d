/**
 * One writer per filesystem: an exclusive lock on the directory's blockfile (an OFD lock through
 * @valkka/native, or its lock-file fallback), held while the writer is open. A second writer, in
 * this process or another, gets ELOCKED. Readers take no lock.
 */
import { open as openRaw, type RawFile } from '@valkka/native';

import { ValkkaFSError } from './errors.js';
import { checkRegular } from './files.js';

export interface DirectoryLock {
  release(): Promise<void>;
}

export async function lockDirectory(dirname: string, blockfilePath: string): Promise<DirectoryLock> {
  let file: RawFile;
  await checkRegular(blockfilePath, 'blockfile'); // a FIFO or symlink there is refused, never opened
  try {
    file = await openRaw(blockfilePath, { write: true, create: true });
  } catch (err) {
    throw new ValkkaFSError('ENOTFOUND', `${dirname}: cannot open ${blockfilePath} to lock it (${(err as Error).message})`, { cause: err });
  }
  try {
    file.lock('exclusive');
  } catch (err) {
    await file.close().catch(() => undefined);
    if ((err as { code?: string }).code === 'ELOCKED') {
      throw new ValkkaFSError('ELOCKED', `${dirname}: another writer has this ValkkaFS open (lock on ${blockfilePath}); open it read-only or close the other writer`, { cause: err });
    }
    throw new ValkkaFSError('ELOCKED', `${dirname}: cannot lock ${blockfilePath} (${(err as Error).message})`, { cause: err });
  }
  return {
    async release() {
      try {
        file.unlock();
      } finally {
        await file.close();
      }
    },
  };
}
