// Block-device facts from sysfs, for the fallback (no ioctls from plain JS).
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import type { SectorSizes } from './types.js';

/** Splits a Linux dev_t into major and minor (glibc's encoding). */
export function majorMinor(rdev: bigint): [number, number] {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

/** The device's sysfs directory, e.g. /sys/devices/virtual/block/loop0 (undefined when absent). */
function sysfsDirOf(rdev: bigint): string | undefined {
  const [major, minor] = majorMinor(rdev);
  try {
    return realpathSync(`/sys/dev/block/${major}:${minor}`);
  } catch {
    return undefined;
  }
}

/** The kernel's name for the device (loop0, sda1), or MAJ-MIN when sysfs does not know it. */
export function blockDeviceName(rdev: bigint): string {
  const dir = sysfsDirOf(rdev);
  return dir ? basename(dir) : majorMinor(rdev).join('-');
}

function requireSysfsDir(rdev: bigint): string {
  const dir = sysfsDirOf(rdev);
  if (!dir) throw Object.assign(new Error('no sysfs entry for the device'), { code: 'ENODEV', syscall: 'sysfs' });
  return dir;
}

async function readNumber(file: string): Promise<number> {
  const text = (await readFile(file, 'utf8')).trim();
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw Object.assign(new Error(`${file} holds ${JSON.stringify(text)}, not a number`), { code: 'EIO', syscall: 'sysfs' });
  }
  return value;
}

/** Bytes: /sys/.../size counts 512-byte sectors whatever the logical sector size. */
export async function blockDeviceSize(rdev: bigint): Promise<number> {
  return (await readNumber(join(requireSysfsDir(rdev), 'size'))) * 512;
}

/** Sector sizes from queue/; a partition has no queue/ of its own and uses its disk's. */
export async function blockDeviceSectorSizes(rdev: bigint): Promise<SectorSizes> {
  const dir = requireSysfsDir(rdev);
  const queue = existsSync(join(dir, 'queue')) ? join(dir, 'queue') : join(dirname(dir), 'queue');
  const [logical, physical] = await Promise.all([
    readNumber(join(queue, 'logical_block_size')),
    readNumber(join(queue, 'physical_block_size')),
  ]);
  return { logical, physical };
}
