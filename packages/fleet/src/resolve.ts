/**
 * What `valkka serve --fleet`'s routes call: the raw rows and blocks of a local filesystem for other
 * nodes, a block fetched from another node, an archived block rewritten into its place in a mirror's
 * virtual ring, and one function that answers the block route's query.
 */
import { timingSafeEqual } from 'node:crypto';

import { type ValkkaFS, encodeBlockHeader, selfDescribedHeader } from '@valkka/fs';

import type { Archive } from './archive.js';
import { FleetError } from './errors.js';
import { fetchBlockBytes } from './mirror-device.js';

/** The blockfile route's response header carrying the origin's current block. */
export const CURRENT_BLOCK_HEADER = 'x-valkka-current-block';
export const BLOCKFILE_ROUTE = '/api/fleet/blockfile';
export const BLOCK_ROUTE = '/api/fleet/block';

/** A local filesystem's block table as blockfile rows (n_blocks x 2 int64 LE ms) and its current block. */
export function blockfileOf(fs: ValkkaFS): { body: Buffer; currentBlock: number } {
  const rows = fs.getBlockTable();
  const body = Buffer.alloc(rows.length * 16);
  rows.forEach(([a, b], i) => {
    body.writeBigInt64LE(BigInt(a), i * 16);
    body.writeBigInt64LE(BigInt(b), i * 16 + 8);
  });
  return { body, currentBlock: fs.currentBlock };
}

/** Block `block` of a local filesystem, its bytes as on the device (the receiver verifies them). */
export async function readLocalBlock(fs: ValkkaFS, block: number): Promise<Buffer> {
  const device = fs.device;
  if (!device) throw new FleetError('ENOTFOUND', `${fs.dirname}: a libValkka directory's blocks are not served to the fleet`);
  if (!Number.isInteger(block) || block < 0 || block >= fs.nBlocks) throw new FleetError('EARGUMENT', `block ${block} is outside 0..${fs.nBlocks - 1}`);
  const buf = device.allocBuffer(fs.blocksize);
  await device.read(block * fs.blocksize, buf);
  return Buffer.from(buf.buffer, buf.byteOffset, fs.blocksize);
}

/** Raw rows and current block of another node's filesystem (GET <url>/api/fleet/blockfile?fsId=). */
export async function fetchNodeBlockfile(args: { url: string; token: string; fsId: string; nBlocks: number }): Promise<{ rows: Buffer; currentBlock: number }> {
  const url = `${args.url.replace(/\/$/, '')}${BLOCKFILE_ROUTE}?fsId=${args.fsId}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${args.token}` }, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new FleetError('EREMOTE', `blockfile of ${args.fsId}: ${new URL(url).origin} did not answer (${(err as Error).message})`, { cause: err });
  }
  if (!res.ok) throw new FleetError('EREMOTE', `blockfile of ${args.fsId}: ${new URL(url).origin} answered ${res.status}`);
  const rows = Buffer.from(await res.arrayBuffer());
  if (rows.length !== args.nBlocks * 16) throw new FleetError('EREMOTE', `blockfile of ${args.fsId}: ${rows.length} bytes, expected ${args.nBlocks * 16}`);
  const cb = Number(res.headers.get(CURRENT_BLOCK_HEADER));
  if (!Number.isInteger(cb) || cb < 0 || cb >= args.nBlocks) throw new FleetError('EREMOTE', `blockfile of ${args.fsId}: no valid ${CURRENT_BLOCK_HEADER} header`);
  return { rows, currentBlock: cb };
}

/** Block `block` of another node's filesystem (GET <url>/api/fleet/block?fsId=&block= with the fleet token). */
export async function fetchNodeBlock(args: { url: string; token: string; fsId: string; block: number; blocksize: number }): Promise<Buffer> {
  const url = `${args.url.replace(/\/$/, '')}${BLOCK_ROUTE}?fsId=${args.fsId}&block=${args.block}`;
  try {
    return await fetchBlockBytes(url, args.token, args.blocksize, `block ${args.block} of ${args.fsId}`);
  } catch (err) {
    throw new FleetError('EREMOTE', (err as Error).message, { cause: err });
  }
}

/**
 * Archived block `seq` as virtual block `block` of a mirror ring of `nBlocks`: read and verified first
 * (digest, header, records, seal), then the header's block index and n_blocks rewritten and its CRC
 * recomputed. Record and seal CRCs are seeded by seq alone, so they stay valid.
 */
export async function readArchiveBlock(archive: Archive, args: { fsId: string; seq: number; block: number; nBlocks: number }): Promise<Buffer> {
  const { bytes } = await archive.read(args.fsId, args.seq);
  return rewriteHeader(bytes, args.block, args.nBlocks);
}

/** A copy of a verified block with its header moved to `block` of a ring of `nBlocks`. */
export function rewriteHeader(bytes: Buffer, block: number, nBlocks: number): Buffer {
  const h = selfDescribedHeader(bytes);
  if (typeof h === 'string') throw new FleetError('ECORRUPT', `block header: ${h}`);
  const out = Buffer.from(bytes);
  encodeBlockHeader(out, { ...h, block, nBlocks });
  return out;
}

export type BlockQuery =
  | { kind: 'local'; fsId: string; block: number }
  | { kind: 'node'; fsId: string; block: number }
  | { kind: 'archive'; fsId: string; block: number; seq: number; nBlocks: number };

/** The block route's query, checked: kind (absent = this node's own filesystem), fsId, block, and for the archive seq and nBlocks. */
export function parseBlockQuery(params: URLSearchParams): BlockQuery {
  const fsId = params.get('fsId') ?? '';
  if (!/^[0-9a-f]{32}$/.test(fsId)) throw new FleetError('EARGUMENT', 'fsId must be 32 lower-case hex digits');
  const int = (name: string, min: number, max: number): number => {
    const raw = params.get(name);
    const v = Number(raw);
    if (raw === null || !/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) throw new FleetError('EARGUMENT', `${name} must be an integer ${min}..${max}`);
    return v;
  };
  const block = int('block', 0, 2 ** 24 - 1);
  const kind = params.get('kind') ?? 'local';
  if (kind === 'local' || kind === 'node') return { kind, fsId, block };
  if (kind === 'archive') return { kind, fsId, block, seq: int('seq', 1, Number.MAX_SAFE_INTEGER), nBlocks: int('nBlocks', 2, 2 ** 24) };
  throw new FleetError('EARGUMENT', 'kind must be local, node or archive');
}

export interface BlockSources {
  /** This node's open filesystem with this fs id. */
  localFs(fsId: string): ValkkaFS | undefined;
  /** The node (base URL) and blocksize of a remote filesystem, from the catalog. */
  remoteFs(fsId: string): { url: string; blocksize: number } | undefined;
  archive: Archive | undefined;
  /** Sent to other nodes. */
  fleetToken: string;
}

/** Answers the block route: the bytes, or a FleetError (its httpStatus is the answer's status). */
export async function serveBlock(params: URLSearchParams, sources: BlockSources): Promise<Buffer> {
  const q = parseBlockQuery(params);
  if (q.kind === 'local') {
    const fs = sources.localFs(q.fsId);
    if (!fs) throw new FleetError('ENOTFOUND', `no local filesystem ${q.fsId}`);
    return readLocalBlock(fs, q.block);
  }
  if (q.kind === 'node') {
    const r = sources.remoteFs(q.fsId);
    if (!r) throw new FleetError('ENOTFOUND', `no online node holds filesystem ${q.fsId}`);
    return fetchNodeBlock({ url: r.url, token: sources.fleetToken, fsId: q.fsId, block: q.block, blocksize: r.blocksize });
  }
  if (!sources.archive) throw new FleetError('ENOTFOUND', 'this node has no archive');
  return readArchiveBlock(sources.archive, q);
}

/** True when an Authorization header carries `Bearer <token>` (compared in constant time). */
export function checkBearer(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
