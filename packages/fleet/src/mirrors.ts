/**
 * Mirror directories (see @valkka/fs mirror.ts): a read-only ValkkaFS directory on local disk whose
 * blocks come from elsewhere, so remote and archived cameras play through the same code as local ones.
 *  - kind `node`: a remote node's filesystem: its geometry, fs id and variant, its blockfile rows and
 *    current block (fetched from the node), blocks fetched through the local server from the node;
 *  - kind `archive`: a virtual ring of the archived blocks of one fs id, in seq order (virtual block i =
 *    the i-th archived seq, listed in archive-seqs.json), blocks read from the archive with their
 *    header moved to the virtual place. New blocks are appended to free slots; when the archive no
 *    longer starts with what the ring holds (objects aged out) or it is full, the ring is rebuilt.
 * Readers follow updates with refresh() as they follow a writer. A rebuilt mirror has a new geometry:
 * close the handles of the old one and open it again.
 */
import { mkdir, open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { BLOCKFILE_NAME, JSON_NAME, MIRROR_NAME, type Metadata, allowMirrorModule, newMetadata, writeMetadata } from '@valkka/fs';

import type { ArchivedBlock } from './archive.js';
import { FleetError } from './errors.js';
import { ARCHIVE_SEQS_NAME, type MirrorOptions } from './mirror-device.js';
import { fetchNodeBlockfile } from './resolve.js';

interface Common {
  fsId: string;
  variant: 'single' | 'multi';
  blocksize: number;
  /** The local server's block route (http://127.0.0.1:PORT/api/fleet/block) and the token it takes. */
  blockUrl: string;
  token: string;
  /** A ValkkaSingleFS's stream id (from the catalog), written into valkkafs.json. */
  streamId?: number;
}

export type MirrorSyncSpec =
  | (Common & {
      kind: 'node';
      nBlocks: number;
      /** The origin node's base URL and the fleet token its routes take. */
      nodeUrl: string;
      fleetToken: string;
    })
  | (Common & {
      kind: 'archive';
      /** archive.list(fsId) (sorted by seq). */
      blocks: ArchivedBlock[];
      /** Free slots added when the ring is (re)built; default max(16, a quarter of the blocks). */
      slack?: number;
    });

export interface MirrorSyncResult {
  dir: string;
  nBlocks: number;
  /** The directory was made anew (first sync, or its geometry changed): reopen handles of it. */
  rebuilt: boolean;
  /** Rows or current block changed (readers see it on refresh()). */
  changed: boolean;
}

/**
 * This package's built mirror-device module, as mirror.json names it (dist/, also when this file runs
 * from src/ under vitest: worker threads load plain JavaScript).
 */
export const MIRROR_DEVICE_MODULE = pathToFileURL(join(import.meta.dirname, basename(import.meta.dirname) === 'src' ? '../dist' : '.', 'mirror-device.js')).href;
// Importing this package lets this process, and the reader threads it starts, open its mirrors.
allowMirrorModule(MIRROR_DEVICE_MODULE);

/** Writes or updates the mirror directory `dir` for `spec`. */
export async function syncMirror(dir: string, spec: MirrorSyncSpec): Promise<MirrorSyncResult> {
  if (spec.kind === 'archive' && spec.blocks.length === 0) throw new FleetError('ENOTFOUND', `no archived blocks of ${spec.fsId}: no archive mirror to make`);
  const existing = await readExisting(dir);
  if (spec.kind === 'node') {
    const { rows, currentBlock } = await fetchNodeBlockfile({ url: spec.nodeUrl, token: spec.fleetToken, fsId: spec.fsId, nBlocks: spec.nBlocks });
    const rebuild = !existing || !sameShape(existing.meta, spec, spec.nBlocks) || existing.kind !== 'node';
    return write(dir, spec, spec.nBlocks, rows, currentBlock, undefined, rebuild, existing);
  }
  const seqs = spec.blocks.map((b) => b.seq);
  const old = existing?.kind === 'archive' ? existing.seqs : undefined;
  const n = existing?.meta.n_blocks ?? 0;
  // Append-only while it fits and the archive still starts with what the ring holds.
  const appendable = old !== undefined && seqs.length <= n && old.filter((s) => s !== 0).every((s, i) => seqs[i] === s);
  const rebuild = !existing || !appendable || !sameShape(existing.meta, spec, n);
  const nBlocks = rebuild ? Math.max(2, seqs.length + (spec.slack ?? Math.max(16, Math.ceil(seqs.length / 4)))) : n;
  const rows = Buffer.alloc(nBlocks * 16);
  spec.blocks.forEach((b, i) => {
    rows.writeBigInt64LE(BigInt(b.mstime1), i * 16);
    rows.writeBigInt64LE(BigInt(b.mstime2), i * 16 + 8);
  });
  const slots = [...seqs, ...Array<number>(nBlocks - seqs.length).fill(0)];
  return write(dir, spec, nBlocks, rows, seqs.length - 1, slots, rebuild, existing);
}

function sameShape(meta: Metadata, spec: Common, nBlocks: number): boolean {
  return meta.fs_id === spec.fsId && meta.blocksize === spec.blocksize && meta.variant === spec.variant && meta.n_blocks === nBlocks;
}

interface Existing {
  meta: Metadata;
  kind: 'node' | 'archive' | undefined;
  seqs: number[] | undefined;
}

/** What a previous sync left in dir, or undefined when it holds nothing usable. */
async function readExisting(dir: string): Promise<Existing | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, JSON_NAME), 'utf8')) as Metadata;
    const mirror = JSON.parse(await readFile(join(dir, MIRROR_NAME), 'utf8')) as { options?: { kind?: 'node' | 'archive' } };
    const kind = mirror.options?.kind;
    const seqs = kind === 'archive' ? (JSON.parse(await readFile(join(dir, ARCHIVE_SEQS_NAME), 'utf8')) as { seqs: number[] }).seqs : undefined;
    return { meta, kind, seqs };
  } catch {
    return undefined;
  }
}

async function write(
  dir: string,
  spec: MirrorSyncSpec,
  nBlocks: number,
  rows: Buffer,
  currentBlock: number,
  seqs: number[] | undefined,
  rebuild: boolean,
  existing: Existing | undefined,
): Promise<MirrorSyncResult> {
  if (rebuild) {
    // The json goes first and comes back last: a half-made mirror is never opened.
    for (const name of [JSON_NAME, MIRROR_NAME, BLOCKFILE_NAME, ARCHIVE_SEQS_NAME]) await rm(join(dir, name), { force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, BLOCKFILE_NAME), rows);
    if (seqs) await replace(dir, ARCHIVE_SEQS_NAME, JSON.stringify({ fsId: spec.fsId, seqs }));
    const options: MirrorOptions = { kind: spec.kind, blockUrl: spec.blockUrl, token: spec.token, fsId: spec.fsId, blocksize: spec.blocksize, dir };
    // It holds the local server's token: readable by this user only.
    await writeFile(join(dir, MIRROR_NAME), JSON.stringify({ module: MIRROR_DEVICE_MODULE, options }), { mode: 0o600 });
    const meta = newMetadata({ dirname: dir, dumpfile: join(dir, 'dumpfile'), blocksize: spec.blocksize, nBlocks, fsId: Buffer.from(spec.fsId, 'hex'), variant: spec.variant });
    meta.current_block = currentBlock;
    if (spec.variant === 'single' && spec.streamId !== undefined) meta.stream_id = spec.streamId;
    await writeMetadata(dir, meta);
    return { dir, nBlocks, rebuilt: true, changed: true };
  }
  // Update in place (readers hold the blockfile open): the seqs of new slots first, then the rows that
  // changed, then the json's current block.
  if (seqs && JSON.stringify(seqs) !== JSON.stringify(existing?.seqs)) await replace(dir, ARCHIVE_SEQS_NAME, JSON.stringify({ fsId: spec.fsId, seqs }));
  let changed = false;
  const fh = await open(join(dir, BLOCKFILE_NAME), 'r+');
  try {
    const now = Buffer.alloc(rows.length);
    await fh.read(now, 0, now.length, 0);
    for (let i = 0; i < nBlocks; i++) {
      const a = i * 16;
      if (now.compare(rows, a, a + 16, a, a + 16) !== 0) {
        await fh.write(rows, a, 16, a);
        changed = true;
      }
    }
  } finally {
    await fh.close();
  }
  const meta = existing!.meta;
  if (meta.current_block !== currentBlock) {
    meta.current_block = currentBlock;
    await writeMetadata(dir, meta);
    changed = true;
  }
  return { dir, nBlocks, rebuilt: false, changed };
}

/** Replaces dir/name atomically (tmp, rename). */
async function replace(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  await unlink(tmp).catch(() => undefined);
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, join(dir, name));
}
