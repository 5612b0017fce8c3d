/**
 * What `valkka init` would erase: the recordings of a filesystem already in the directory, or on
 * the partition (or a dumpfile left without its json). newFromDirectory replaces them as the
 * original did; the CLI asks this first and refuses without --force.
 */
import { join } from 'node:path';

import { type BlockDevice, FileDevice, PartitionDevice } from '@valkka/blockdev';

import { checkRegular } from './files.js';
import { surveyDevice } from './identity.js';
import { DUMPFILE_NAME, JSON_NAME } from './metadata.js';
import { loadValkkaFS } from './valkkafs.js';

export interface ExistingRecordings {
  /** The directory, dumpfile or partition that holds them. */
  where: string;
  fsId: string | undefined;
  streams: number[];
  /** First and last frame, or undefined when only the json's state is known. */
  timeRange: [number, number] | undefined;
  /** Used blocks (from the blockfile), or the blocks sampled on a device without its directory. */
  blocks: number;
  /** True when streams and range come from a sample of a device's blocks (a lower bound). */
  sampled: boolean;
  /** The directory holds a valkkafs.json that cannot be opened: why (it may still hold recordings). */
  unreadable?: string;
}

/** The recordings init over `dirname` (and `partitionUuid`) would erase, or undefined when there are none. */
export async function recordingsAt(dirname: string, partitionUuid?: string): Promise<ExistingRecordings | undefined> {
  const json = join(dirname, JSON_NAME);
  if (await checkRegular(json, JSON_NAME).catch(() => true)) {
    try {
      const fs = await loadValkkaFS(dirname, { readOnly: true });
      try {
        const d = await fs.describe();
        if (d.usedBlocks > 0) {
          // The streams' own ranges: a MultiFS table's mstime1 is a block's last key frame, not its first frame.
          const ranges = d.streams.flatMap((s) => s.ranges);
          const range: [number, number] | undefined =
            ranges.length > 0 ? [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))] : (d.timeRange ?? undefined);
          return { where: dirname, fsId: fs.isLegacy ? undefined : d.fsId, streams: d.streams.map((s) => s.streamId), timeRange: range, blocks: d.usedBlocks, sampled: false };
        }
      } finally {
        await fs.close();
      }
    } catch (err) {
      return { where: dirname, fsId: undefined, streams: [], timeRange: undefined, blocks: 0, sampled: false, unreadable: (err as Error).message };
    }
  }
  let device: BlockDevice | undefined;
  try {
    if (partitionUuid) device = await PartitionDevice.open(partitionUuid, { readOnly: true });
    else if (await checkRegular(join(dirname, DUMPFILE_NAME), DUMPFILE_NAME)) device = await FileDevice.open(join(dirname, DUMPFILE_NAME), { readOnly: true });
  } catch {
    return undefined; // init itself reports why the partition or dumpfile cannot be used
  }
  if (!device) return undefined;
  try {
    const s = await surveyDevice(device);
    if (!s || s.streams.length === 0) return undefined;
    return { where: device.name, fsId: s.identity.fsId, streams: s.streams, timeRange: s.timeRange, blocks: s.sampledBlocks, sampled: true };
  } finally {
    await device.close().catch(() => undefined);
  }
}
