/**
 * Expiry on the device: a block's row is zeroed and made durable first (no reader is sent to it),
 * then its bytes are overwritten with zeros and flushed, so what it held cannot be read back from
 * the device. A wiped block reads as never written.
 */
import type { BlockDevice } from '@valkka/blockdev';

import type { BlockFile } from '../blockfile.js';
import type { StreamIndex } from '../stream-index.js';

/** Zeros are written this many bytes at a time (a 64 MiB block is not held in memory twice). */
const CHUNK = 1024 * 1024;

export async function wipeBlocks(ctx: { device: BlockDevice; blockfile: BlockFile; index?: StreamIndex; blocksize: number }, blocks: readonly number[]): Promise<void> {
  if (blocks.length === 0) return;
  const { device, blockfile, blocksize } = ctx;
  for (const b of blocks) {
    await blockfile.setRow(b, [0, 0]);
    ctx.index?.forget(b);
  }
  await blockfile.sync();
  const zeros = device.allocBuffer(Math.min(blocksize, CHUNK));
  zeros.fill(0);
  for (const b of blocks) {
    for (let off = 0; off < blocksize; off += zeros.length) {
      await device.write(b * blocksize + off, zeros.subarray(0, Math.min(zeros.length, blocksize - off)));
    }
  }
  await device.flush();
}
