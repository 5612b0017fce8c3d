/**
 * valkkafs.json: the original's keys (same order, same meaning) plus what our format needs.
 * Parsed with zod; replaced atomically (write tmp, fsync, rename, fsync the directory).
 */
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { z } from 'zod';

import type { Variant } from './block-stats.js';
import { ValkkaFSLoadError } from './errors.js';
import { checkRegular, ioError, isNoSpace, openRegular, readJsonFile } from './files.js';
import { FORMAT_VERSION, FS_ID_SIZE, GRAIN, MAX_BLOCKSIZE } from './format.js';

export const JSON_NAME = 'valkkafs.json';
export const BLOCKFILE_NAME = 'blockfile';
export const DUMPFILE_NAME = 'dumpfile';
/** The json is at most this big: a hostile file is refused before it is parsed. */
const MAX_JSON_BYTES = 64 * 1024;
/**
 * Most blocks a ring may have. The header holds n_blocks as a u32, but every reader keeps the block
 * table in memory (28 bytes a block: 448 MiB here) and the blockfile is 16 bytes a block (256 MiB).
 */
export const MAX_BLOCKS = 2 ** 24;
/** A json this short is rewritten in place (one sector, written whole or not at all) when the disk is full. */
const SECTOR_BYTES = 512;

const originalKeys = {
  dumpfile: z.string().min(1),
  partition_uuid: z.string().min(1).nullable(),
  blockfile: z.string().min(1),
  blocksize: z.number().int().min(GRAIN).max(MAX_BLOCKSIZE).refine((b) => b % GRAIN === 0, 'blocksize must be a multiple of 4096'),
  n_blocks: z.number().int().min(1).max(2 ** 32 - 1), // libValkka's own bound; ours below
  current_block: z.number().int().min(0),
  jsonfile: z.string().min(1),
};

const metadataSchema = z
  .object({
    ...originalKeys,
    n_blocks: z.number().int().min(2).max(MAX_BLOCKS),
    format: z.literal('valkkafs-ts'),
    format_version: z.literal(FORMAT_VERSION),
    fs_id: z.string().regex(new RegExp(`^[0-9a-f]{${FS_ID_SIZE * 2}}$`), `fs_id must be ${FS_ID_SIZE * 2} lower-case hex digits`),
    variant: z.enum(['single', 'multi']),
    // ValkkaSingleFS: the stream it holds, set before its first frame is written.
    stream_id: z.number().int().min(1).max(0xffffffff).optional(),
    // Retention (retention/): blocks whose newest frame is older expire; absent = no maximum age.
    max_age_ms: z.number().int().min(60_000).max(Number.MAX_SAFE_INTEGER).optional(),
    // The share of the ring protections may hold (default 0.5).
    max_protected: z.number().min(0).max(0.9).optional(),
    // The block the writer enters after current_block when it skips protected blocks (recovery's walk).
    next_block: z.number().int().min(0).optional(),
  })
  .refine((m) => m.current_block < m.n_blocks, { message: 'current_block must be < n_blocks', path: ['current_block'] });

/** A libValkka directory's json (no format_version): the original keys only. */
export const legacyMetadataSchema = z
  .object({ ...originalKeys, dumpfile: z.string().min(1).nullable() })
  // The original accepted current_block == n_blocks (its writer wraps there to 0).
  .refine((m) => m.current_block <= m.n_blocks, { message: 'current_block must be <= n_blocks', path: ['current_block'] });

export type Metadata = z.infer<typeof metadataSchema>;
export type LegacyMetadata = z.infer<typeof legacyMetadataSchema>;

export function newMetadata(args: {
  dirname: string;
  partitionUuid?: string | undefined;
  dumpfile: string;
  blocksize: number;
  nBlocks: number;
  fsId: Uint8Array;
  variant: Variant;
}): Metadata {
  return {
    dumpfile: args.dumpfile,
    partition_uuid: args.partitionUuid ?? null,
    blockfile: join(args.dirname, BLOCKFILE_NAME),
    blocksize: args.blocksize,
    n_blocks: args.nBlocks,
    current_block: 0,
    jsonfile: join(args.dirname, JSON_NAME),
    format: 'valkkafs-ts',
    format_version: FORMAT_VERSION,
    fs_id: Buffer.from(args.fsId).toString('hex'),
    variant: args.variant,
  };
}

export type LoadedJson = { kind: 'ours'; meta: Metadata } | { kind: 'legacy'; meta: LegacyMetadata };

/** Reads and validates <dirname>/valkkafs.json; a json without format_version is a libValkka one. */
export async function readMetadata(dirname: string): Promise<LoadedJson> {
  const isLegacy = (raw: unknown): boolean => typeof raw === 'object' && raw !== null && !('format_version' in raw);
  let legacy = false;
  const meta = await readJsonFile<Metadata | LegacyMetadata>(join(dirname, JSON_NAME), JSON_NAME, MAX_JSON_BYTES, (raw) => {
    legacy = isLegacy(raw);
    return legacy ? legacyMetadataSchema : metadataSchema;
  });
  return legacy ? { kind: 'legacy', meta: meta as LegacyMetadata } : { kind: 'ours', meta: meta as Metadata };
}

/**
 * Writes the json atomically: a reader sees the old or the new file, never a mix, even after a crash.
 * On a full disk (the new file needs a block) the tmp file is removed and the json is rewritten in
 * place when it fits in one sector (padded to its old length, so it is never a prefix of two versions);
 * otherwise the error names the file and nothing is left behind.
 */
export async function writeMetadata(dirname: string, meta: Metadata): Promise<void> {
  await replaceFile(dirname, JSON_NAME, `${toPythonStyleJson(meta)}\n`);
}

/** Replaces <dirname>/<name> atomically with `text` (as valkkafs.json: tmp, fdatasync, rename, fsync the directory). */
export async function replaceFile(dirname: string, name: string, text: string): Promise<void> {
  const path = join(dirname, name);
  const tmp = `${path}.tmp`;
  await checkRegular(path, name); // a symlink or FIFO there is not ours to replace
  try {
    // A tmp file left by a crash is replaced; 'wx' never follows a symlink planted there.
    await unlink(tmp).catch(() => undefined);
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(text);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (isNoSpace(err) && (await rewriteInPlace(path, name, text))) return;
    throw ioError(path, 'cannot write', err);
  }
  const dir = await open(dirname, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Overwrites the json's first sector in place (needs no new block); false when it cannot. */
async function rewriteInPlace(path: string, name: string, text: string): Promise<boolean> {
  const fh = await openRegular(path, name, true).catch(() => undefined);
  if (!fh) return false;
  try {
    const { size, blocks } = await fh.stat();
    const bytes = Buffer.from(text.length < size ? `${text.trimEnd().padEnd(size - 1)}\n` : text);
    if (bytes.length > SECTOR_BYTES || bytes.length > blocks * 512) return false;
    await fh.write(bytes, 0, bytes.length, 0);
    await fh.datasync();
    return true;
  } finally {
    await fh.close();
  }
}

export const fsIdBytes = (meta: Metadata): Uint8Array => Buffer.from(meta.fs_id, 'hex');

/** The original wrote json.dumps(dic): `{"key": value, ...}` with the keys in order. */
function toPythonStyleJson(meta: Metadata): string {
  return `{${Object.entries(meta)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')}}`;
}
