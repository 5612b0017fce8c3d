/**
 * Retention operations on an open filesystem (a writer or a reader handle): protect, release, list,
 * the maximum age, and the summary `valkka info` prints. ValkkaFS's methods call these.
 */
import { ValkkaFSError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { BlockTable } from '../block-table.js';
import { getTimeRange } from '../search.js';
import type { RingWriter } from '../writer.js';
import type { RetentionKeeper } from './keeper.js';
import { DEFAULT_MAX_PROTECTED, expiredBlocks, protectedBlocks, protectionCap } from './policy.js';
import { MAX_NOTE, MAX_PROTECTIONS, type Protection, readProtections, writeProtections } from './store.js';

/** What these operations need from a handle. */
export interface RetentionHost {
  readonly dirname: string;
  readonly blocksize: number;
  readonly nBlocks: number;
  readonly isLegacy: boolean;
  readonly blockTable: BlockTable;
  /** valkkafs.json as this handle has it (undefined for a libValkka directory). */
  metadata(): Metadata | undefined;
  now(): number;
  /** Writer handles only. */
  keeper?: RetentionKeeper | undefined;
  writer?: RingWriter | undefined;
  /** Writer handles only: rewrites valkkafs.json with `patch` (on the writer's I/O chain). */
  saveMetadata?: ((patch: Partial<Metadata>) => Promise<void>) | undefined;
  /** Writer handles only: expires what is due now; the blocks wiped. */
  expireNow?: (() => Promise<number[]>) | undefined;
}

export interface ProtectRequest {
  /** ms since the epoch, inclusive. */
  from: number;
  to: number;
  /** Default: one more than the largest id in use. */
  id?: number | undefined;
  note?: string | undefined;
}

export interface ProtectionInfo extends Protection {
  /** Blocks holding its video now, and their bytes on the device. */
  blocks: number;
  bytes: number;
}

export interface RetentionSummary {
  /** The oldest instant still kept (first key frame of the oldest used block), or null when empty. */
  oldestKept: number | null;
  newest: number | null;
  /** valkkafs.json max_age_ms, or null: no maximum age. */
  maxAgeMs: number | null;
  /** The share of the ring protections may hold. */
  maxProtected: number;
  protections: ProtectionInfo[];
  /** Blocks held by any protection, and their share of the ring. */
  protectedBlocks: number;
  protectedShare: number;
}

function refuseLegacy(host: RetentionHost, what: string): Metadata {
  const meta = host.metadata();
  if (host.isLegacy || !meta) throw new ValkkaFSError('EREADONLY', `${host.dirname}: a libValkka directory is read-only: ${what} needs a filesystem made by valkka init`);
  return meta;
}

export async function listProtections(host: RetentionHost): Promise<ProtectionInfo[]> {
  if (host.isLegacy) return [];
  const list = host.keeper ? host.keeper.protections : await readProtections(host.dirname);
  return list.map((p) => withSize(host, p));
}

function withSize(host: RetentionHost, p: Protection): ProtectionInfo {
  const blocks = protectedBlocks(host.blockTable, [p]).size;
  return { ...p, blocks, bytes: blocks * host.blocksize };
}

export async function protect(host: RetentionHost, req: ProtectRequest): Promise<ProtectionInfo> {
  const meta = refuseLegacy(host, 'protect');
  const { from, to } = req;
  for (const [name, v] of [['from', from], ['to', to]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ValkkaFSError('EARGUMENT', `protect: ${name} must be a time in ms since the epoch, got ${v}`);
  }
  if (from > to) throw new ValkkaFSError('EARGUMENT', `protect: from (${iso(from)}) is after to (${iso(to)})`);
  const now = host.now();
  if (to > now) throw new ValkkaFSError('EARGUMENT', `protect: to (${iso(to)}) is in the future: only recorded video can be protected (now is ${iso(now)})`);
  const note = req.note ?? '';
  if (note.length > MAX_NOTE) throw new ValkkaFSError('EARGUMENT', `protect: the note is ${note.length} characters, at most ${MAX_NOTE}`);
  const list = await readProtections(host.dirname);
  if (list.length >= MAX_PROTECTIONS) throw new ValkkaFSError('EARGUMENT', `protect: ${host.dirname} already has ${list.length} protections, the most it may have`);
  const id = req.id ?? list.reduce((m, p) => Math.max(m, p.id), 0) + 1;
  if (!Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1) throw new ValkkaFSError('EARGUMENT', `protect: id must be an integer 1..${2 ** 31 - 1}, got ${id}`);
  if (list.some((p) => p.id === id)) throw new ValkkaFSError('EARGUMENT', `protect: id ${id} is already used in ${host.dirname}`);
  const range = getTimeRange(host.blockTable);
  const mine = range && to >= range[0] && from <= range[1] ? protectedBlocks(host.blockTable, [{ from, to }]) : new Set<number>();
  if (mine.size === 0) throw new ValkkaFSError('EARGUMENT', `protect: ${host.dirname} holds no video between ${iso(from)} and ${iso(to)}`);
  const all = protectedBlocks(host.blockTable, [...list, { from, to }]);
  const cap = protectionCap(host.nBlocks, meta.max_protected);
  if (all.size > cap) {
    const share = meta.max_protected ?? DEFAULT_MAX_PROTECTED;
    throw new ValkkaFSError(
      'EPROTECTCAP',
      `protect: protections would hold ${all.size} of ${host.nBlocks} blocks (this range ${mine.size}), more than the cap of ${cap} (${Math.round(share * 100)} % of the ring, max_protected): release a protection or raise the cap (valkka set --max-protected)`,
    );
  }
  const p: Protection = { id, from, to, note, created: now };
  await writeProtections(host.dirname, [...list, p]);
  await reloadWriter(host);
  return withSize(host, p);
}

export async function unprotect(host: RetentionHost, id: number): Promise<Protection> {
  refuseLegacy(host, 'unprotect');
  const list = await readProtections(host.dirname);
  const p = list.find((x) => x.id === id);
  if (!p) throw new ValkkaFSError('ENOTFOUND', `unprotect: ${host.dirname} has no protection ${id} (it has ${list.map((x) => x.id).join(', ') || 'none'})`);
  await writeProtections(
    host.dirname,
    list.filter((x) => x !== p),
  );
  await reloadWriter(host);
  return p;
}

/** This process's writer learns the new list at once (another process's within its poll). */
async function reloadWriter(host: RetentionHost): Promise<void> {
  if (!host.keeper || !host.writer) return;
  await host.keeper.reload(true);
  await host.writer.heldChanged();
}

/** Sets (ms) or removes (null) the maximum age; expires what is due at once. Writer handles only. */
export async function setMaxAge(host: RetentionHost, ms: number | null): Promise<number[]> {
  refuseLegacy(host, 'a maximum age');
  if (ms !== null && (!Number.isSafeInteger(ms) || ms < 60_000)) throw new ValkkaFSError('EARGUMENT', `max age must be at least one minute, got ${ms} ms`);
  if (!host.saveMetadata || !host.expireNow) throw new ValkkaFSError('EREADONLY', `${host.dirname}: setting the max age needs the writer (this handle is read-only)`);
  await host.saveMetadata({ max_age_ms: ms ?? undefined });
  return host.expireNow();
}

/** Sets the share of the ring protections may hold (0 … 0.9). Writer handles only. */
export async function setMaxProtected(host: RetentionHost, share: number): Promise<void> {
  refuseLegacy(host, 'a protection cap');
  if (!(share >= 0 && share <= 0.9)) throw new ValkkaFSError('EARGUMENT', `max protected must be a share of the ring from 0 to 0.9, got ${share}`);
  if (!host.saveMetadata) throw new ValkkaFSError('EREADONLY', `${host.dirname}: setting the protection cap needs the writer (this handle is read-only)`);
  await host.saveMetadata({ max_protected: share });
}

export async function retentionSummary(host: RetentionHost): Promise<RetentionSummary> {
  const meta = host.metadata();
  const protections = await listProtections(host);
  const held = protectedBlocks(host.blockTable, protections).size;
  const range = getTimeRange(host.blockTable);
  return {
    oldestKept: range?.[0] ?? null,
    newest: range?.[1] ?? null,
    maxAgeMs: meta?.max_age_ms ?? null,
    maxProtected: meta?.max_protected ?? DEFAULT_MAX_PROTECTED,
    protections,
    protectedBlocks: held,
    protectedShare: held / host.nBlocks,
  };
}

/**
 * Reader handles: rows whose video has expired are hidden (a writer, or check --repair, wipes
 * them on the device; until then nothing of theirs is returned). Returns the hidden blocks.
 */
export function hideExpired(table: BlockTable, meta: Metadata, protections: readonly Protection[], now: number): Set<number> {
  if (meta.max_age_ms === undefined) return new Set();
  const held = protectedBlocks(table, protections);
  const gone = expiredBlocks(table, now - meta.max_age_ms, (b) => held.has(b) || b === meta.current_block);
  for (const b of gone) table.set(b, 0, 0);
  return new Set(gone);
}

const iso = (ms: number): string => new Date(ms).toISOString();
