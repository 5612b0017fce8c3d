/**
 * The BlockDevice of a mirror directory (see @valkka/fs mirror.ts), made from its mirror.json in any
 * thread: whole blocks fetched from the LOCAL server's block route (Bearer token), which answers from
 * the origin node (kind node) or from the archive (kind archive). A small LRU keeps the last blocks:
 * a reader reads a block and then its header again, and those two reads must agree. Never written.
 * Kept small: reader worker threads import this module by file URL.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { type BlockDevice, DeviceError } from '@valkka/blockdev';
import type { Metadata } from '@valkka/fs';
import { z } from 'zod';

/** The archive mirror's virtual ring: virtual block i holds archived seq seqs[i] (0 = empty). */
export const ARCHIVE_SEQS_NAME = 'archive-seqs.json';
const MAX_SEQS_BYTES = 64 * 2 ** 20;
const ALIGNMENT = 4096;
const LRU_BLOCKS = 8;
/** A node's block may be reused by its ring at any moment: cached this long at most. */
const NODE_TTL_MS = 1000;
const FETCH_TIMEOUT_MS = 15_000;

export const mirrorOptionsSchema = z.object({
  kind: z.enum(['node', 'archive']),
  blockUrl: z.url({ protocol: /^https?$/ }),
  token: z.string().min(1).max(4096),
  fsId: z.string().regex(/^[0-9a-f]{32}$/),
  blocksize: z.number().int().min(4096).max(2 ** 26),
  /** The mirror directory (kind archive: where archive-seqs.json is). */
  dir: z.string().min(1),
});

export type MirrorOptions = z.infer<typeof mirrorOptionsSchema>;

const seqsSchema = z.object({ fsId: z.string(), seqs: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)) });

/** The block route's query for block `block` of a mirror (seq and nBlocks: kind archive). */
export function blockQuery(o: Pick<MirrorOptions, 'kind' | 'fsId'>, block: number, extra: { seq?: number; nBlocks?: number } = {}): string {
  const q = new URLSearchParams({ kind: o.kind, fsId: o.fsId, block: String(block) });
  if (extra.seq !== undefined) q.set('seq', String(extra.seq));
  if (extra.nBlocks !== undefined) q.set('nBlocks', String(extra.nBlocks));
  return q.toString();
}

/** GETs url with the Bearer token; the body must be exactly `size` bytes (read with that bound). */
export async function fetchBlockBytes(url: string, token: string, size: number, what: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new Error(`${what}: ${new URL(url).origin} did not answer (${(err as Error).message})`, { cause: err });
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).slice(0, 300);
    throw new Error(`${what}: ${new URL(url).origin} answered ${res.status}${text ? ` (${text})` : ''}`);
  }
  const declared = Number(res.headers.get('content-length') ?? size);
  if (declared !== size) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${what}: ${declared} bytes announced, a block is ${size}`);
  }
  const out = Buffer.alloc(size);
  let at = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (at + chunk.length > size) throw new Error(`${what}: more than ${size} bytes`);
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== size) throw new Error(`${what}: ${at} bytes, a block is ${size}`);
  return out;
}

class MirrorDevice implements BlockDevice {
  readonly logicalSectorSize = 512;
  readonly physicalSectorSize = ALIGNMENT;
  readonly alignment = ALIGNMENT;
  readonly name: string;
  readonly size: number;
  private readonly cache = new Map<string, { bytes: Buffer; at: number }>();
  private seqs: { mtimeMs: number; seqs: number[] } | undefined;
  private closed = false;

  constructor(
    private readonly o: MirrorOptions,
    private readonly nBlocks: number,
  ) {
    this.name = `mirror of ${o.fsId} (${o.kind})`;
    this.size = nBlocks * o.blocksize;
  }

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    if (this.closed) throw new DeviceError('ECLOSED', this.name, 'device is closed');
    if (offset % ALIGNMENT !== 0 || buffer.length % ALIGNMENT !== 0) throw new DeviceError('EALIGN', this.name, 'unaligned read', { offset, length: buffer.length });
    if (offset < 0 || offset + buffer.length > this.size) throw new DeviceError('ERANGE', this.name, 'read outside the device', { offset, length: buffer.length });
    const bs = this.o.blocksize;
    let at = 0;
    while (at < buffer.length) {
      const pos = offset + at;
      const block = Math.floor(pos / bs);
      const within = pos - block * bs;
      const n = Math.min(bs - within, buffer.length - at);
      const bytes = await this.block(block, offset, buffer.length);
      buffer.set(bytes.subarray(within, within + n), at);
      at += n;
    }
  }

  /** Whole block `block`: from the cache, or from the local server. */
  private async block(block: number, offset: number, length: number): Promise<Buffer> {
    let seq: number | undefined;
    if (this.o.kind === 'archive') {
      seq = (await this.archiveSeqs())[block] ?? 0;
      if (seq === 0) return Buffer.alloc(this.o.blocksize); // an empty slot of the virtual ring: never written
    }
    const key = `${block}:${seq ?? ''}`;
    const hit = this.cache.get(key);
    if (hit && (this.o.kind === 'archive' || Date.now() - hit.at < NODE_TTL_MS)) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.bytes;
    }
    const url = `${this.o.blockUrl}?${blockQuery(this.o, block, seq === undefined ? {} : { seq, nBlocks: this.nBlocks })}`;
    let bytes: Buffer;
    try {
      bytes = await fetchBlockBytes(url, this.o.token, this.o.blocksize, `block ${block} of ${this.name}`);
    } catch (err) {
      throw new DeviceError('EIO', this.name, (err as Error).message, { offset, length, cause: err });
    }
    this.cache.set(key, { bytes, at: Date.now() });
    while (this.cache.size > LRU_BLOCKS) this.cache.delete(this.cache.keys().next().value!);
    return bytes;
  }

  /** The virtual ring's seqs, re-read when syncMirror replaced the file. */
  private async archiveSeqs(): Promise<number[]> {
    const path = join(this.o.dir, ARCHIVE_SEQS_NAME);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile() || st.size > MAX_SEQS_BYTES) throw new DeviceError('EIO', this.name, `${path}: missing or not a regular file of at most ${MAX_SEQS_BYTES} bytes`);
    if (this.seqs?.mtimeMs !== st.mtimeMs) {
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        raw = undefined;
      }
      const parsed = seqsSchema.safeParse(raw);
      if (!parsed.success || parsed.data.fsId !== this.o.fsId) throw new DeviceError('EIO', this.name, `${path}: not this mirror's list of archived seqs`);
      this.seqs = { mtimeMs: st.mtimeMs, seqs: parsed.data.seqs };
    }
    return this.seqs.seqs;
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    throw new DeviceError('EREADONLY', this.name, 'a mirror is read-only', { offset, length: buffer.length });
  }

  async flush(): Promise<void> {}

  async lock(): Promise<void> {
    throw new DeviceError('EREADONLY', this.name, 'a mirror is read-only: no writer lock');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cache.clear();
  }

  allocBuffer(size: number): Buffer {
    return Buffer.alloc(size);
  }
}

/** Called by @valkka/fs when it opens a mirror directory read-only (mirror.json names this module). */
export async function createMirrorDevice(options: Record<string, unknown>, meta: Metadata): Promise<BlockDevice> {
  const parsed = mirrorOptionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`mirror.json options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const o = parsed.data;
  if (o.fsId !== meta.fs_id || o.blocksize !== meta.blocksize) throw new Error(`mirror.json options (fs ${o.fsId}, blocksize ${o.blocksize}) disagree with valkkafs.json`);
  return new MirrorDevice(o, meta.n_blocks);
}
