/**
 * Mirror directories: a read-only ValkkaFS directory (valkkafs.json + blockfile, no dumpfile) whose
 * blocks come from elsewhere (another node, an archive) through a BlockDevice that an ES module named
 * in `<dir>/mirror.json` makes. Reader worker threads open directories by name, so the device must be
 * constructible from JSON in any thread.
 */
import { join } from 'node:path';

import type { BlockDevice } from '@valkka/blockdev';
import { z } from 'zod';

import { ValkkaFSLoadError } from './errors.js';
import { checkRegular, readJsonFile } from './files.js';
import type { Metadata } from './metadata.js';

export const MIRROR_NAME = 'mirror.json';
/**
 * The mirror modules this process may load, space-separated file URLs. Opening a directory must never
 * run code the directory names (a copied or planted mirror.json), so a module is loaded only when the
 * process allowed it; an environment variable because reader worker threads inherit it.
 */
export const MIRROR_MODULES_ENV = 'VALKKA_MIRROR_MODULES';

const allowedModules = (): string[] => (process.env[MIRROR_MODULES_ENV] ?? '').split(' ').filter(Boolean);

/** Lets this process (and the worker threads it starts after this) load `moduleUrl` for mirror directories. */
export function allowMirrorModule(moduleUrl: string): void {
  const now = allowedModules();
  if (!now.includes(moduleUrl)) process.env[MIRROR_MODULES_ENV] = [...now, moduleUrl].join(' ');
}
/** mirror.json is small: a hostile file is refused before it is parsed. */
const MAX_MIRROR_BYTES = 16 * 1024;

const mirrorSchema = z.object({
  // A file: URL only: a mirror never makes the process fetch code from the network.
  module: z.string().regex(/^file:\/\//, 'module must be an absolute file: URL'),
  options: z.record(z.string(), z.unknown()),
});

export type MirrorSpec = z.infer<typeof mirrorSchema>;

/** What the module named in mirror.json exports. */
export interface MirrorModule {
  createMirrorDevice(options: Record<string, unknown>, meta: Metadata): Promise<BlockDevice>;
}

/** True when `dirname` is a mirror directory (mirror.json is a regular file there). */
export function isMirror(dirname: string): Promise<boolean> {
  return checkRegular(join(dirname, MIRROR_NAME), MIRROR_NAME);
}

/** The device of a mirror directory, made by the module its mirror.json names. */
export async function openMirrorDevice(dirname: string, meta: Metadata): Promise<BlockDevice> {
  const path = join(dirname, MIRROR_NAME);
  const spec = await readJsonFile(path, MIRROR_NAME, MAX_MIRROR_BYTES, () => mirrorSchema);
  if (!allowedModules().includes(spec.module)) {
    throw new ValkkaFSLoadError('EMETADATA', `${path}: module ${spec.module} is not an allowed mirror module (only modules the process allowed are loaded; importing @valkka/fleet allows its own)`);
  }
  let mod: Partial<MirrorModule>;
  try {
    mod = (await import(spec.module)) as Partial<MirrorModule>;
  } catch (err) {
    throw new ValkkaFSLoadError('EMETADATA', `${path}: cannot import module ${spec.module} (${(err as Error).message})`, { cause: err });
  }
  if (typeof mod.createMirrorDevice !== 'function') {
    throw new ValkkaFSLoadError('EMETADATA', `${path}: module ${spec.module} does not export createMirrorDevice()`);
  }
  try {
    return await mod.createMirrorDevice(spec.options, meta);
  } catch (err) {
    throw new ValkkaFSLoadError('EMETADATA', `${path}: the mirror device cannot be made (${(err as Error).message})`, { cause: err });
  }
}
