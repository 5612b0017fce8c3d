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
