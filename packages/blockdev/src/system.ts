/**
 * What the kernel says about block devices, mounts and swaps: sysfs, /dev and /proc, read as files
 * so tests can point the roots elsewhere.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { majorMinor } from '@valkka/native';

export interface SystemRoots {
  /** Default '/sys'. */
  sysfsRoot?: string;
  /** Default '/dev'. */
  devRoot?: string;
  /** Default '/proc'. */
  procRoot?: string;
}

export interface KernelBlockDevice {
  /** Kernel name, e.g. 'loop0p1'. */
  name: string;
  /** 'major:minor'. */
  devnum: string;
  /** /dev path when a node with the right major:minor exists there. */
  devPath: string | undefined;
  /** Bytes, from the 512-byte sector count in sysfs. */
  size: number;
  /** Partitions only: first sector, in 512-byte units (sysfs always counts in 512s). */
  start?: number;
  /** Whole disks only. */
  logicalSectorSize?: number;
}

function roots(r: SystemRoots): Required<SystemRoots> {
  return { sysfsRoot: r.sysfsRoot ?? '/sys', devRoot: r.devRoot ?? '/dev', procRoot: r.procRoot ?? '/proc' };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function readInt(path: string): Promise<number | undefined> {
  const text = await readText(path);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

/** 'major:minor' of a device number from stat(). */
export function devnumOf(rdev: number | bigint): string {
  return majorMinor(BigInt(rdev)).join(':');
}

async function describe(r: Required<SystemRoots>, dir: string, name: string): Promise<KernelBlockDevice | undefined> {
  const devnum = await readText(join(dir, 'dev'));
  const sectors = await readInt(join(dir, 'size'));
  if (!devnum || sectors === undefined) return undefined;
  const uevent = (await readText(join(dir, 'uevent'))) ?? '';
  const devName = /^DEVNAME=(.+)$/m.exec(uevent)?.[1] ?? name;
  const candidate = join(r.devRoot, devName);
  let devPath: string | undefined;
  try {
    const st = await stat(candidate, { bigint: true });
    if (st.isBlockDevice() && devnumOf(st.rdev) === devnum) devPath = candidate;
  } catch {
    devPath = undefined;
  }
  const device: KernelBlockDevice = { name, devnum, devPath, size: sectors * 512 };
  const start = await readInt(join(dir, 'start'));
  if (start !== undefined) device.start = start;
  const logical = await readInt(join(dir, 'queue', 'logical_block_size'));
  if (logical !== undefined) device.logicalSectorSize = logical;
  return device;
}

/** Whole disks (no `partition` file in sysfs) with a non-zero size, loop devices included. */
export async function listDisks(rootsIn: SystemRoots = {}): Promise<KernelBlockDevice[]> {
  const r = roots(rootsIn);
  const classDir = join(r.sysfsRoot, 'class', 'block');
  let names: string[];
  try {
    names = (await readdir(classDir)).sort();
  } catch {
    return [];
  }
  const disks: KernelBlockDevice[] = [];
  for (const name of names) {
    const dir = join(classDir, name);
    if ((await readText(join(dir, 'partition'))) !== undefined) continue;
    const disk = await describe(r, dir, name);
    if (disk && disk.size > 0) disks.push(disk);
  }
  return disks;
}

/** The kernel's partitions of a disk: its sysfs children that have a `partition` file. */
export async function listKernelPartitions(disk: string, rootsIn: SystemRoots = {}): Promise<KernelBlockDevice[]> {
  const r = roots(rootsIn);
  const dir = join(r.sysfsRoot, 'class', 'block', disk);
  let children: string[];
  try {
    children = await readdir(dir);
  } catch {
    return [];
  }
  const parts: KernelBlockDevice[] = [];
  for (const child of children.sort()) {
    if ((await readText(join(dir, child, 'partition'))) === undefined) continue;
    const part = await describe(r, join(dir, child), child);
    if (part) parts.push(part);
  }
  return parts;
}

/** Devices stacked on this one (device mapper, md): non-empty means something else uses it. */
export async function holdersOf(name: string, rootsIn: SystemRoots = {}): Promise<string[]> {
  try {
    return await readdir(join(roots(rootsIn).sysfsRoot, 'class', 'block', name, 'holders'));
  } catch {
    return [];
  }
}

export interface MountInfo {
  devnum: string;
  source: string;
  mountPoint: string;
}

/** Mounts from /proc/self/mountinfo (major:minor, source device and mount point of each). */
export async function readMounts(rootsIn: SystemRoots = {}): Promise<MountInfo[]> {
  const text = (await readText(join(roots(rootsIn).procRoot, 'self', 'mountinfo'))) ?? '';
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const devnum = fields[2];
    const mountPoint = fields[4];
    const source = fields[dash + 2];
    if (dash < 0 || !devnum || !mountPoint || !source) continue;
    mounts.push({ devnum, source: unescapeOctal(source), mountPoint: unescapeOctal(mountPoint) });
  }
  return mounts;
}

/** Active swap areas from /proc/swaps: their paths. */
export async function readSwaps(rootsIn: SystemRoots = {}): Promise<string[]> {
  const text = (await readText(join(roots(rootsIn).procRoot, 'swaps'))) ?? '';
  return text
    .split('\n')
    .slice(1)
    .map((line) => unescapeOctal(line.split(/\s+/)[0] ?? ''))
    .filter((path) => path.length > 0);
}

/** /proc escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
