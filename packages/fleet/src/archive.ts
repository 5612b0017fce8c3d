/**
 * The archive: a JetStream object store bucket (valkka_archive) holding sealed blocks verbatim. One
 * object per block, named <fsId>/<seq as 16 hex digits>; the store adds its SHA-256 digest, and the
 * object's metadata says where the block was (block, n_blocks, blocksize), what it holds
 * (mstime1, mstime2, streams) and the filesystem's variant. Reads are verified twice: the digest, and
 * the block's own header, record and seal checksums.
 */
import { createHash } from 'node:crypto';

import { DiscardPolicy, type MsgRequest, jetstreamManager } from '@nats-io/jetstream';
import { type ObjectInfo, type ObjectStore, Objm, StorageType, setSha256Backend } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { selfDescribedHeader } from '@valkka/fs';
import type { Logger } from 'pino';
import { z } from 'zod';

import { checkSealedBlock } from './block-check.js';
import { FleetError } from './errors.js';
import { withTimeout } from './timeout.js';

export const ARCHIVE_BUCKET = 'valkka_archive';
/** Chunks of 1 MiB (the server's default max_payload caps it): the client awaits each chunk's ack. */
const CHUNK_BYTES = 2 ** 20;
/** Longest a block read from the archive may take (64 MiB at a few MB/s). */
const READ_TIMEOUT_MS = 60_000;

// Node's own SHA-256 for the object digests (the client's default is pure JavaScript, several times slower).
setSha256Backend('native');

export interface ArchiveOptions {
  /** Default min(3, cluster size). */
  replicas?: number;
  /** The bucket's size limit (oldest objects go first); default none. */
  maxBytes?: number;
  /** Objects older than this are removed by the server; default none. */
  maxAgeMs?: number;
}

/** What the archive knows of one archived block (its object's metadata, checked). */
export interface ArchivedBlock {
  fsId: string;
  seq: number;
  /** Where it was in its ring, and that ring's geometry. */
  block: number;
  nBlocks: number;
  blocksize: number;
  variant: 'single' | 'multi';
  mstime1: number;
  mstime2: number;
  /** [stream id, first ms, last ms] of each stream in the block. */
  streams: Array<[number, number, number]>;
  /** The store's digest, "SHA-256=<base64url>". */
  digest: string;
  size: number;
}

const int = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const metaSchema = z.object({
  fsId: z.string().regex(/^[0-9a-f]{32}$/),
  seq: int.min(1),
  block: int,
  nBlocks: int.min(2),
  blocksize: int.min(4096),
  variant: z.enum(['single', 'multi']),
  mstime1: int,
  mstime2: int,
  streams: z.string().transform((s, ctx) => {
    try {
      return z.array(z.tuple([int, int, int])).max(4096).parse(JSON.parse(s));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'streams is not a list of [id, t0, t1]' });
      return z.NEVER;
    }
  }),
});

export const objectName = (fsId: string, seq: number): string => `${fsId}/${seq.toString(16).padStart(16, '0')}`;

/** The ArchivedBlock an object describes, or why it does not. */
export function archivedBlockOf(info: ObjectInfo): ArchivedBlock | string {
  const parsed = metaSchema.safeParse(info.metadata ?? {});
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  const m = parsed.data;
  if (info.name !== objectName(m.fsId, m.seq)) return `name ${info.name} does not match its metadata (fs ${m.fsId}, seq ${m.seq})`;
  if (info.size !== m.blocksize) return `${info.size} bytes, its blocksize is ${m.blocksize}`;
  return { ...m, digest: info.digest, size: info.size };
}

/** "SHA-256=<base64url>" of bytes, as the object store writes digests. */
export const digestOf = (bytes: Uint8Array): string => `SHA-256=${createHash('sha256').update(bytes).digest('base64url')}`;

/**
 * Checks archived bytes against what the archive says of them: digest, header (valid, same fs id, seq,
 * block and geometry) and every record and the seal. Throws ECORRUPT naming the object and the reason.
 */
export function verifyArchived(bytes: Buffer, a: ArchivedBlock): void {
  const name = objectName(a.fsId, a.seq);
  const bad = (why: string): never => {
    throw new FleetError('ECORRUPT', `archive object ${name}: ${why}; refusing it`);
  };
  if (bytes.length !== a.blocksize) bad(`${bytes.length} bytes, expected ${a.blocksize}`);
  if (a.digest.replace(/=+$/, '') !== digestOf(bytes)) bad('SHA-256 digest mismatch');
  const h = selfDescribedHeader(bytes);
  if (typeof h === 'string') bad(`block header: ${h}`);
  const header = h as Exclude<typeof h, string>;
  if (Buffer.from(header.fsId).toString('hex') !== a.fsId || header.seq !== a.seq || header.block !== a.block || header.nBlocks !== a.nBlocks || header.blocksize !== a.blocksize) {
    bad(`block header (fs ${Buffer.from(header.fsId).toString('hex')}, block ${header.block}, seq ${header.seq}) differs from the object's metadata`);
  }
  const checked = checkSealedBlock(bytes, a.block, { fsId: header.fsId, blocksize: a.blocksize, nBlocks: a.nBlocks });
  if (typeof checked === 'string') bad(checked);
}

export class Archive {
  private store_: Promise<ObjectStore> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: Omit<ArchiveOptions, 'replicas'> & { log: Logger; replicas: number | (() => number) },
  ) {}

  /** The bucket, created on first use (again after a failure: NATS may have been down). */
  store(): Promise<ObjectStore> {
    if (!this.store_) {
      const objm = new Objm(this.nc);
      const { maxBytes, maxAgeMs } = this.options;
      const replicas = typeof this.options.replicas === 'function' ? this.options.replicas() : this.options.replicas;
      const opts = {
        replicas,
        storage: StorageType.File,
        ...(maxBytes ? { max_bytes: maxBytes } : {}),
        ...(maxAgeMs ? { ttl: maxAgeMs * 1_000_000 } : {}),
        description: 'ValkkaFS sealed blocks, verbatim',
      };
      this.store_ = objm
        .create(ARCHIVE_BUCKET, opts)
        .catch(async (err: unknown) => {
          if (/already in use|exists/i.test(String((err as Error).message))) return objm.open(ARCHIVE_BUCKET);
          throw err;
        })
        .then(async (os) => {
          await this.discardOld();
          return os;
        });
      this.store_.catch(() => (this.store_ = undefined));
    }
    return this.store_;
  }

  /**
   * An object store refuses new objects once it reaches max_bytes (discard "new"); an archive should
   * drop its oldest blocks instead, as the ring does, so the bucket's stream is set to discard "old".
   * The oldest object may then lose chunks before its metadata: its reads fail their digest (ECORRUPT)
   * until the metadata goes too.
   */
  private async discardOld(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(`OBJ_${ARCHIVE_BUCKET}`);
    if (info.config.max_bytes > 0 && info.config.discard !== DiscardPolicy.Old) {
      await jsm.streams.update(info.config.name, { ...info.config, discard: DiscardPolicy.Old });
      this.options.log.info({ bucket: ARCHIVE_BUCKET, maxBytes: info.config.max_bytes }, 'fleet: archive drops its oldest blocks when full');
    }
  }

  private async reachable(what: string): Promise<ObjectStore> {
    try {
      return await this.store();
    } catch (err) {
      throw new FleetError('ENATS', `archive ${ARCHIVE_BUCKET}: ${what}: unreachable (${(err as Error).message})`, { cause: err });
    }
  }

  /**
   * Every archived block of every filesystem, by fsId, each list sorted by seq. Objects with bad metadata
   * are skipped and counted. Kept as an index that each call brings up to date by reading only the
   * metadata messages written since the last call (a `valkka serve` calls it every few seconds, and the
   * archive grows by several blocks a second).
   */
  async listAll(): Promise<{ byFs: Map<string, ArchivedBlock[]>; skipped: number }> {
    await this.reachable('list');
    this.updating ??= this.updateIndex().finally(() => (this.updating = undefined));
    try {
      await this.updating;
    } catch (err) {
      if (err instanceof FleetError) throw err;
      throw new FleetError('ENATS', `archive ${ARCHIVE_BUCKET}: list failed (${(err as Error).message})`, { cause: err });
    }
    const byFs = new Map<string, ArchivedBlock[]>();
    for (const { block: a } of this.index.values()) {
      let list = byFs.get(a.fsId);
      if (!list) byFs.set(a.fsId, (list = []));
      list.push(a);
    }
    for (const list of byFs.values()) list.sort((x, y) => x.seq - y.seq);
    return { byFs, skipped: this.skipped.size };
  }

  private readonly index = new Map<string, { block: ArchivedBlock; metaSeq: number }>();
  /** Objects skipped for bad metadata: name -> the meta message's stream sequence. */
  private readonly skipped = new Map<string, number>();
  private lastSeq = 0;
  private updating: Promise<void> | undefined;

  /**
   * Reads the object store's metadata messages (one per object, the newest kept per subject) after the
   * last one seen, one by one from the stream leader ("the next metadata message at or after seq");
   * then drops what the bucket's limits removed (metadata older than the stream's first message).
   * Not a consumer: on a loaded machine, after a server or cluster restart, an ordered consumer from
   * lastSeq + 1 was seen (nats-server 2.9.10, @nats-io/jetstream 3.4) to deliver later metadata while
   * skipping some before it; the index moved past the skipped ones and never listed those objects.
   * Each get here names its seq, so nothing in between can be passed over. Object store internals
   * used: stream OBJ_<bucket>, subjects $O.<bucket>.M.<name>; STREAM.MSG.GET takes next_by_subj
   * (the client types it for direct gets only).
   */
  private async updateIndex(): Promise<void> {
    const stream = `OBJ_${ARCHIVE_BUCKET}`;
    const jsm = await jetstreamManager(this.nc);
    const state = (await jsm.streams.info(stream)).state;
    if (state.last_seq < this.lastSeq) {
      // The bucket was made again: start over.
      this.index.clear();
      this.skipped.clear();
      this.lastSeq = 0;
    }
    const next_by_subj = `$O.${ARCHIVE_BUCKET}.M.>`;
    // Up to the last message as of now: objects put meanwhile wait for the next call.
    while (this.lastSeq < state.last_seq) {
      const m = await jsm.streams.getMessage(stream, { seq: this.lastSeq + 1, next_by_subj } as unknown as MsgRequest);
      if (!m) break;
      this.apply(m.json<ObjectInfo>(), m.seq);
      this.lastSeq = m.seq;
    }
    for (const [name, e] of this.index) if (e.metaSeq < state.first_seq) this.index.delete(name);
    for (const [name, seq] of this.skipped) if (seq < state.first_seq) this.skipped.delete(name);
  }

  private apply(info: ObjectInfo, metaSeq: number): void {
    this.index.delete(info.name);
    this.skipped.delete(info.name);
    if (info.deleted) return;
    const a = archivedBlockOf(info);
    if (typeof a === 'string') {
      this.skipped.set(info.name, metaSeq);
      this.options.log.warn({ object: info.name, reason: a }, 'fleet: archive object skipped');
      return;
    }
    this.index.set(info.name, { block: a, metaSeq });
  }

  /** The archived blocks of one filesystem, sorted by seq. */
  async list(fsId: string): Promise<ArchivedBlock[]> {
    return (await this.listAll()).byFs.get(fsId) ?? [];
  }

  /** One archived block's bytes, verified (digest, header, records, seal); ECORRUPT when they fail, ENOTFOUND when absent. */
  async read(fsId: string, seq: number): Promise<{ block: ArchivedBlock; bytes: Buffer }> {
    const name = objectName(fsId, seq);
    const os = await this.reachable(`read ${name}`);
    const info = await os.info(name).catch((err: unknown) => {
      throw new FleetError('ENATS', `archive object ${name}: ${(err as Error).message}`, { cause: err });
    });
    if (!info || info.deleted) throw new FleetError('ENOTFOUND', `archive object ${name} does not exist`);
    const a = archivedBlockOf(info);
    if (typeof a === 'string') throw new FleetError('ECORRUPT', `archive object ${name}: ${a}`);
    // Chunks dropped by the size limit before the metadata: the client would wait for them forever.
    const chunkSubject = `$O.${ARCHIVE_BUCKET}.C.${info.nuid}`;
    const jsm = await jetstreamManager(this.nc);
    const held = (await jsm.streams.info(`OBJ_${ARCHIVE_BUCKET}`, { subjects_filter: chunkSubject })).state.subjects?.[chunkSubject] ?? 0;
    if (held !== info.chunks) throw new FleetError('ECORRUPT', `archive object ${name}: ${held} of its ${info.chunks} chunks are left (the bucket's size limit dropped the others); refusing it`);
    let data: Uint8Array | null;
    try {
      data = await withTimeout(os.getBlob(name), READ_TIMEOUT_MS, `archive object ${name}`);
    } catch (err) {
      if (err instanceof FleetError) throw err;
      const msg = (err as Error).message;
      // The client checks the digest itself and fails the read when it differs.
      if (/digest|sha/i.test(msg)) throw new FleetError('ECORRUPT', `archive object ${name}: ${msg}; refusing it`, { cause: err });
      throw new FleetError('ENATS', `archive object ${name}: ${msg}`, { cause: err });
    }
    if (!data) throw new FleetError('ENOTFOUND', `archive object ${name} does not exist`);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    verifyArchived(bytes, a);
    return { block: a, bytes };
  }

  /** Stores one sealed block (the caller verified it); resolves when the cluster acknowledged it. */
  async put(a: Omit<ArchivedBlock, 'digest' | 'size'>, bytes: Uint8Array): Promise<ArchivedBlock> {
    const os = await this.reachable('put');
    const name = objectName(a.fsId, a.seq);
    const metadata: Record<string, string> = {
      fsId: a.fsId,
      seq: String(a.seq),
      block: String(a.block),
      nBlocks: String(a.nBlocks),
      blocksize: String(a.blocksize),
      variant: a.variant,
      mstime1: String(a.mstime1),
      mstime2: String(a.mstime2),
      streams: JSON.stringify(a.streams),
    };
    const meta = { name, description: `block ${a.block} seq ${a.seq} [${a.mstime1}, ${a.mstime2}]`, metadata, options: { max_chunk_size: CHUNK_BYTES } };
    const info = await os.putBlob(meta, bytes, { timeout: 10_000 });
    return { ...a, digest: info.digest, size: info.size };
  }
}
