/**
 * Expiry of a closed filesystem (check --repair): the blocks whose video is older than the
 * maximum age are wiped, except protected ones and valkkafs.json's current block (recovery
 * starts there; it holds the newest video once repair has run).
 */
import { join } from 'node:path';

import type { BlockDevice } from '@valkka/blockdev';

import { BlockFile } from '../blockfile.js';
import { BLOCKFILE_NAME, type Metadata, fsIdBytes } from '../metadata.js';
import { expiredAhead } from './ahead.js';
import { expiredBlocks, protectedBlocks } from './policy.js';
import { readProtections } from './store.js';
import { wipeBlocks } from './wipe.js';

export async function expireOnDevice(dirname: string, meta: Metadata, device: BlockDevice, now: number): Promise<number[]> {
  const maxAge = meta.max_age_ms;
  if (maxAge === undefined) return [];
  const blockfile = await BlockFile.open(join(dirname, BLOCKFILE_NAME), meta.n_blocks, meta.current_block, { write: true });
  try {
    const held = protectedBlocks(blockfile.table, await readProtections(dirname));
    const keep = (b: number): boolean => held.has(b) || b === meta.current_block;
    const gone = expiredBlocks(blockfile.table, now - maxAge, keep);
    const geometry = { fsId: fsIdBytes(meta), blocksize: meta.blocksize, nBlocks: meta.n_blocks };
    gone.push(...(await expiredAhead(device, geometry, blockfile.table, meta.current_block, now - maxAge, keep)));
    await wipeBlocks({ device, blockfile, blocksize: meta.blocksize }, gone);
    return gone;
  } finally {
    await blockfile.close();
  }
}
