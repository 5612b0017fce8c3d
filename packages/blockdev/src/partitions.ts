/**
 * Finding GPT partitions: reads the partition table of every whole disk the kernel lists (our own
 * parser, never sfdisk), matches each entry to the kernel's partition by start sector, and says
 * whether ValkkaFS may use it.
 */
import { constants as fsConstants } from 'node:fs';
import { open as openFs, stat } from 'node:fs/promises';
import { openDiskReader } from './disk-reader.js';
import { DeviceError, errnoOf, type DeviceErrorCode } from './errors.js';
import { LINUX_SWAP_GUID, partitionTypeName, readGpt, sameGuid, type GptEntry, type GptTable } from './gpt.js';
import {
  devnumOf,
  holdersOf,
  listDisks,
  listKernelPartitions,
  readMounts,
  readSwaps,
  type KernelBlockDevice,
  type MountInfo,
  type SystemRoots,
} from './system.js';

export interface PartitionInfo {
  /** The partition's device node, e.g. '/dev/loop0p1'; null when it has none (or for an image). */
  device: string | null;
  /** The whole disk (device node or image path). */
  disk: string;
  /** 1-based GPT slot. */
  index: number;
  /** PARTUUID, upper-case. */
  partuuid: string;
  typeGuid: string;
  typeName: string;
  name: string;
  firstLba: number;
  lastLba: number;
  sectorSize: number;
  /** Bytes: the partition's own, (lastLba - firstLba + 1) × sector size. */
  size: number;
  /** Linux swap type and, on a live system, not mounted, not an active swap, not busy. */
  usable: boolean;
  reason?: string;
  /** Problems with the disk's partition table that did not stop reading it (e.g. the backup header was used). */
  warnings: string[];
}

export interface ListPartitionsOptions extends SystemRoots {
  /** Read one disk image file instead of the system's disks (system checks then do not apply). */
  image?: string;
  /**
   * Called for each system disk that was skipped because it could not be read (e.g. EIO for a permission
   * error) or has a GPT damaged beyond use (EGPT: both copies fail a check); this is the only trace of such
   * disks. Disks without a GPT are skipped silently.
   */
  onSkippedDisk?: (error: DeviceError) => void;
}

/** What a scan of the system's disks found. */
interface Scan {
  partitions: LocatedPartition[];
  /** Why each disk that may hold a GPT was not searched (unreadable, or a damaged GPT). */
  skipped: DeviceError[];
}

/** A partition found on the system with what is needed to open it. */
export interface LocatedPartition {
  info: PartitionInfo;
  /** Why it must not be used, as a DeviceError code; undefined when usable. */
  refusal?: DeviceErrorCode;
}

/** Every GPT partition of the image, or of every readable whole disk of the system. */
export async function listPartitions(options: ListPartitionsOptions = {}): Promise<PartitionInfo[]> {
  if (options.image !== undefined) return listImagePartitions(options.image);
  const scan = await locatePartitions(options, { probeBusy: true });
  for (const error of scan.skipped) options.onSkippedDisk?.(error);
  return scan.partitions.map((p) => p.info);
}

async function listImagePartitions(image: string): Promise<PartitionInfo[]> {
  const reader = await openDiskReader(image);
  try {
    const table = await readGpt(reader);
    return table.entries.map((entry) => {
      const info = describeEntry(table, entry, image, null);
      const refusal = typeRefusal(entry);
      return refusal ? { ...info, usable: false, reason: refusal.reason } : info;
    });
  } finally {
    await reader.close();
  }
}

/** Scans the system's disks; disks without a GPT are passed over, unreadable ones and damaged GPTs reported. */
async function locatePartitions(roots: SystemRoots, options: { probeBusy: boolean }): Promise<Scan> {
  const [mounts, swaps] = await Promise.all([readMounts(roots), readSwaps(roots)]);
  const found: LocatedPartition[] = [];
  const skipped: DeviceError[] = [];
  for (const disk of await listDisks(roots)) {
    if (!disk.devPath) continue;
    const table = await readDiskTable(disk.devPath, disk.size, disk.logicalSectorSize);
    if (table instanceof DeviceError) skipped.push(table);
    if (!table || table instanceof DeviceError) continue;
    const kernelParts = await listKernelPartitions(disk.name, roots);
    for (const entry of table.entries) {
      const startIn512 = (entry.firstLba * table.sectorSize) / 512;
      const kernel = kernelParts.find((p) => p.start === startIn512);
      const info = describeEntry(table, entry, disk.devPath, kernel?.devPath ?? null);
      const refusal = typeRefusal(entry) ?? (await systemRefusal(info, kernel, roots, mounts, swaps, options.probeBusy));
      found.push(refusal ? { info: { ...info, usable: false, reason: refusal.reason }, refusal: refusal.code } : { info });
    }
  }
  return { partitions: found, skipped };
}

/** The disk's GPT; why it cannot be used (unreadable, damaged); undefined when the disk has no GPT. */
async function readDiskTable(path: string, size: number, sectorSize: number | undefined): Promise<GptTable | DeviceError | undefined> {
  let reader;
  try {
    reader = await openDiskReader(path, size);
  } catch (err) {
    return asDeviceError(err, path);
  }
  try {
    return await readGpt(reader, sectorSize ? { sectorSize } : {});
  } catch (err) {
    return err instanceof DeviceError && err.code === 'ENOGPT' ? undefined : asDeviceError(err, path);
  } finally {
    await reader.close();
  }
}

function asDeviceError(err: unknown, path: string): DeviceError {
  return err instanceof DeviceError ? err : new DeviceError('EIO', path, `cannot read: ${(err as Error).message}`, { cause: err });
}

function describeEntry(table: GptTable, entry: GptEntry, disk: string, device: string | null): PartitionInfo {
  return {
    device,
    disk,
    index: entry.index,
    partuuid: entry.uniqueGuid,
    typeGuid: entry.typeGuid,
    typeName: partitionTypeName(entry.typeGuid),
    name: entry.name,
    firstLba: entry.firstLba,
    lastLba: entry.lastLba,
    sectorSize: table.sectorSize,
    size: (entry.lastLba - entry.firstLba + 1) * table.sectorSize,
    usable: true,
    warnings: table.warnings.map((w) => `${disk}: ${w}`),
  };
}

interface Refusal {
  code: DeviceErrorCode;
  reason: string;
}

function typeRefusal(entry: GptEntry): Refusal | undefined {
  if (sameGuid(entry.typeGuid, LINUX_SWAP_GUID)) return undefined;
  return { code: 'ENOTSWAP', reason: `type is ${partitionTypeName(entry.typeGuid)} (${entry.typeGuid}), not Linux swap` };
}

/** The live-system checks, in order of how clearly they say "someone else uses this". */
async function systemRefusal(
  info: PartitionInfo,
  kernel: KernelBlockDevice | undefined,
  roots: SystemRoots,
  mounts: MountInfo[],
  swaps: string[],
  probeBusy: boolean,
): Promise<Refusal | undefined> {
  if (!kernel) {
    return { code: 'ENODEV', reason: `the kernel has no partition at this start sector (run partx -a ${info.disk})` };
  }
  if (!kernel.devPath) return { code: 'ENODEV', reason: `no device node for ${kernel.name} (${kernel.devnum})` };
  const device = kernel.devPath;
  if (kernel.size !== info.size) {
    return { code: 'ESIZE', reason: `the kernel says ${kernel.size} bytes, the GPT ${info.size} (stale partition table? run partx -u ${info.disk})` };
  }
  const mount = mounts.find((m) => m.devnum === kernel.devnum || m.source === device);
  if (mount) return { code: 'EMOUNTED', reason: `mounted at ${mount.mountPoint}` };
  for (const swap of swaps) {
    if (swap === device || (await devnumOfPath(swap)) === kernel.devnum) return { code: 'ESWAPACTIVE', reason: `active swap (${swap} in /proc/swaps)` };
  }
  const holders = await holdersOf(kernel.name, roots);
  if (holders.length > 0) return { code: 'EBUSY', reason: `in use by ${holders.join(', ')}` };
  if (probeBusy && (await isOpenExclusively(device))) return { code: 'EBUSY', reason: 'opened exclusively by another process' };
  return undefined;
}

async function devnumOfPath(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return st.isBlockDevice() ? devnumOf(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * O_EXCL on a block device fails with EBUSY while it is mounted or held exclusively by anyone.
 * Another lister's probe holds it for an instant too, so EBUSY is retried before it counts.
 */
async function isOpenExclusively(device: string): Promise<boolean> {
  try {
    await retryWhileBusy(async () => (await openFs(device, fsConstants.O_RDONLY | fsConstants.O_EXCL)).close());
    return false;
  } catch (err) {
    return errnoOf(err) === 'EBUSY';
  }
}

/** Runs `attempt`, retrying a few times over ~100 ms while it fails with EBUSY (a probe's instant hold). */
export async function retryWhileBusy<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (errnoOf(err) !== 'EBUSY' || tries >= 4) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25 * tries));
    }
  }
}

/** The one partition with this PARTUUID (case-insensitive); DeviceError ENOENT when none, EINVAL when several. */
export async function findPartition(partuuid: string, roots: SystemRoots, options: { probeBusy: boolean }): Promise<LocatedPartition> {
  const label = `PARTUUID ${partuuid}`;
  const scan = await locatePartitions(roots, options);
  const matches = scan.partitions.filter((p) => sameGuid(p.info.partuuid, partuuid));
  const [only, ...others] = matches;
  if (!only) {
    // It may sit on a disk that could not be searched: say which disks those are and why.
    const skipped = scan.skipped.map((err) => `; not searched: ${err.message}`).join('');
    throw new DeviceError('ENOENT', label, `no GPT partition with this PARTUUID on any readable disk${skipped}`);
  }
  if (others.length > 0) {
    throw new DeviceError('EINVAL', label, `found on several disks (${matches.map((m) => m.info.disk).join(', ')}); refusing to guess`);
  }
  return only;
}
