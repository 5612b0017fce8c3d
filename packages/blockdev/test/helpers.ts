// Shared test tools: temp dirs, GPT images made by sgdisk, sfdisk's view of them, hashes, loop devices.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { NativeApi } from '@valkka/native';
import { DeviceError, backends } from '../src/index.js';

/** The backends to run device tests against (native only when the addon loaded), each with its own byte pattern seed. */
export const backendCases: Array<{ label: string; backend: NativeApi; seed: number }> = [
  ...(backends.native ? [{ label: 'native', backend: backends.native, seed: 11 }] : []),
  { label: 'fallback', backend: backends.fallback, seed: 23 },
];

export function tempDir(prefix = 'blockdev-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A sparse image of `mib` MiB with the given sgdisk arguments applied (--clear is added). */
export function makeImage(path: string, mib: number, sgdiskArgs: string[]): string {
  run('truncate', ['-s', `${mib}M`, path]);
  run('sgdisk', ['--clear', ...sgdiskArgs, path]);
  return path;
}

export interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  uuid: string;
  name: string;
}

export interface SfdiskTable {
  id: string;
  firstlba: number;
  lastlba: number;
  sectorsize: number;
  partitions: SfdiskPartition[];
}

/** What `sfdisk --json` reads from an image or device. */
export function sfdisk(path: string): SfdiskTable {
  const table = (JSON.parse(run('sfdisk', ['--json', path])) as { partitiontable: SfdiskTable & { partitions?: SfdiskPartition[] } })
    .partitiontable;
  return { ...table, partitions: (table.partitions ?? []).map((p) => ({ ...p, name: p.name ?? '' })) };
}

/** Inverts one byte of a file in place (damage for the parser to find). */
export function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Attaches an image to a free loop device (optionally with partitions and a sector size); undefined when losetup fails. */
export function attachLoop(image: string, options: { partitions?: boolean; sectorSize?: number } = {}): string | undefined {
  const args = ['-f', '--show'];
  if (options.partitions) args.push('-P');
  if (options.sectorSize) args.push('-b', String(options.sectorSize));
  const result = spawnSync('losetup', [...args, image], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  return result.stdout.trim() || undefined;
}

/** Adds the kernel's partition nodes (there is no udev here); errors when they already exist are fine. */
export function addPartitions(loop: string): void {
  spawnSync('partx', ['-a', loop], { stdio: 'ignore' });
}

export function detachLoop(loop: string | undefined): void {
  if (loop) spawnSync('losetup', ['-d', loop], { stdio: 'ignore' });
}

/** Can this process set up loop devices at all? */
export function loopWorks(): boolean {
  const { dir, remove } = tempDir('blockdev-probe-');
  try {
    const img = join(dir, 'probe.img');
    run('truncate', ['-s', '1M', img]);
    const loop = attachLoop(img);
    detachLoop(loop);
    return loop !== undefined;
  } catch {
    return false;
  } finally {
    remove();
  }
}

/** The DeviceError a promise rejects with (the test fails if it resolves or rejects with something else). */
export async function rejection(promise: Promise<unknown>): Promise<DeviceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeviceError);
  return err as DeviceError;
}
