/**
 * The Archiver copies every sealed block of one filesystem into the archive, once. It follows the
 * directory read-only (its own reader handle, refreshed every poll), remembers what is archived in
 * the object store itself (listed on start: a restarted archiver catches up), uploads one block at a
 * time (protected blocks first, then the oldest: the next to be overwritten), and waits while NATS is
 * down. A block overwritten by the ring before it was archived is counted as missed and logged.
 */
import { EventEmitter } from 'node:events';

import { type ValkkaFS, type Geometry, loadValkkaFS, readSeq, readSummary } from '@valkka/fs';
import type { Logger } from 'pino';

import type { Archive, ArchivedBlock } from './archive.js';
import { checkSealedBlock } from './block-check.js';

export interface ArchiverOptions {
  /** The filesystem's directory (opened read-only here; the recorder keeps writing it). */
  dirname: string;
  archive: Archive;
  log: Logger;
  /** How often the ring is looked at (default 1000 ms). */
  pollMs?: number;
}

export interface ArchiverStats {
  uploaded: number;
  /** Sealed blocks overwritten by the ring before they could be archived. */
  missed: number;
  /** Sealed blocks waiting for upload. */
  pending: number;
  /** Blocks that did not verify (damaged on the recorder's disk): never uploaded. */
  refused: number;
  /** Why the last upload or listing failed (NATS down...), cleared by the next success. */
  lastError: string | undefined;
}

interface Pending {
  block: number;
  seq: number;
  /** Checks failed so far, and when to try again: a block just sealed may not be on the disk whole yet. */
  failures?: number;
  notBefore?: number;
}

/** A block that fails its check this many times, a poll apart, is refused. */
const CHECK_ATTEMPTS = 5;

type Events = { uploaded: [ArchivedBlock]; missed: [Pending]; refused: [Pending & { reason: string }] };

export class Archiver extends EventEmitter<Events> {
  private readonly counts = { uploaded: 0, missed: 0, refused: 0, lastError: undefined as string | undefined };
  private readonly archived = new Set<number>();
  private listed = false;
  /** Per block: its row and seq when last looked at. */
  private readonly seen = new Map<number, { row: string; seq: number | undefined; sealedChecked?: string }>();
  private readonly pending = new Map<number, Pending>();
  /** Seqs given up on (missed or refused): never queued again. */
  private readonly done = new Set<number>();
  private lookTimer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private inFlight = false;
  private stopped = false;
  private readonly geometry: Geometry;
  private readonly pollMs: number;
  private failures = 0;
  private lookFailed = false;
  private wakeUp: (() => void) | undefined;
  /** idle() callers; `looked` once a look at the ring finished after they asked. */
  private idleWaiters: Array<{ resolve: () => void; looked: boolean }> = [];

  private constructor(
    readonly fs: ValkkaFS,
    private readonly options: ArchiverOptions,
  ) {
    super();
    this.pollMs = options.pollMs ?? 1000;
    this.geometry = { fsId: Buffer.from(fs.fsId, 'hex'), blocksize: fs.blocksize, nBlocks: fs.nBlocks };
  }

  /** Opens the directory read-only and starts following it. */
  static async start(options: ArchiverOptions): Promise<Archiver> {
    const fs = await loadValkkaFS(options.dirname, { readOnly: true });
    if (fs.isLegacy || !fs.device) {
      await fs.close();
      throw new Error(`${options.dirname}: a libValkka directory is not archived (its blocks carry no checksums to keep)`);
    }
    const a = new Archiver(fs, options);
    a.lookSoon(0);
    a.loop = a.uploadLoop();
    return a;
  }

  /** Counters as of now (pending: sealed blocks seen and not archived yet). */
  get stats(): ArchiverStats {
    return { ...this.counts, pending: this.pending.size };
  }

  get fsId(): string {
    return this.fs.fsId;
  }

  /**
   * Looking at the ring and uploading run apart: an upload stuck on a cut-off NATS server (up to its
   * timeout) does not stop the archiver from following the ring and counting what waits.
   */
  private lookSoon(ms: number): void {
    if (this.stopped) return;
    this.lookTimer = setTimeout(() => {
      this.looking = this.look()
        .then(
          () => {
            this.lookFailed = false;
            for (const w of this.idleWaiters) w.looked = true;
          },
          (err: unknown) => {
            if (!this.lookFailed) this.options.log.error({ fsId: this.fsId, err: (err as Error).message }, 'fleet: archiver cannot read the ring');
            this.lookFailed = true;
          },
        )
        .finally(() => {
          this.looking = undefined;
          this.checkIdle();
          this.wakeUp?.();
          this.lookSoon(this.pollMs);
        });
    }, ms);
  }

  /** Uploads pending blocks one at a time; backs off while NATS fails (at most 5 s). */
  private async uploadLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.listed) await this.listArchived();
        const next = await this.next();
        if (next) {
          this.inFlight = true;
          await this.upload(next);
          this.inFlight = false;
          this.failures = 0;
          this.counts.lastError = undefined;
          continue;
        }
        this.checkIdle();
        await this.nap(this.pollMs);
      } catch (err) {
        this.inFlight = false;
        const msg = (err as Error).message;
        if (this.failures++ === 0 || this.counts.lastError !== msg) this.options.log.warn({ fsId: this.fsId, err: msg }, 'fleet: archive waits (uploads resume when NATS answers)');
        this.counts.lastError = msg;
        await this.nap(Math.min(5000, this.pollMs * this.failures));
      }
    }
  }

  /** Sleeps ms, or until a look at the ring found something (or stop()). */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private checkIdle(): void {
    if (!this.listed || this.pending.size > 0 || this.inFlight) return;
    const ready = this.idleWaiters.filter((w) => w.looked);
    this.idleWaiters = this.idleWaiters.filter((w) => !w.looked);
    for (const w of ready) w.resolve();
  }

  /** What the archive already holds of this filesystem (after a restart: everything before). */
  private async listArchived(): Promise<void> {
    for (const a of await this.options.archive.list(this.fsId)) this.archived.add(a.seq);
    this.listed = true;
    for (const [seq] of this.pending) if (this.archived.has(seq)) this.pending.delete(seq);
  }

  /**
   * Follows the writer. A block is sealed once a block with a higher seq exists (the writer seals a
   * block before it enters the next one), or when its tail holds a seal; valkkafs.json's current_block
   * is only a hint that lags.
   * A block's seq is read again only when its row changes.
   */
  private async look(): Promise<void> {
    await this.fs.refresh();
    const table = this.fs.getBlockTable();
    let maxSeq = 0;
    for (let block = 0; block < table.length; block++) {
      const [m1, m2] = table[block]!;
      const row = `${m1},${m2}`;
      let entry = this.seen.get(block);
      if (!entry || entry.row !== row || entry.seq === undefined) {
        const used = m1 !== 0 || m2 !== 0;
        entry = { row, seq: used ? await readSeq(this.fs.device!, this.geometry, block) : undefined };
        this.seen.set(block, entry);
      }
      if (entry.seq !== undefined && entry.seq > maxSeq) maxSeq = entry.seq;
    }
    for (const [block, entry] of this.seen) {
      const { seq } = entry;
      if (seq === undefined || this.archived.has(seq) || this.done.has(seq) || this.pending.has(seq)) continue;
      // The newest block: sealed only when its tail says so (a writer that closed seals its last block).
      if (seq === maxSeq) {
        if (entry.sealedChecked === entry.row) continue;
        entry.sealedChecked = entry.row;
        if ((await readSummary(this.fs.device!, this.geometry, block))?.seq !== seq) continue;
      }
      this.pending.set(seq, { block, seq });
    }
  }

  /** Protected blocks first, then the oldest. Pending blocks the ring has moved past are missed. */
  private async next(): Promise<Pending | undefined> {
    const ready = this.ready();
    if (ready.length === 0) return undefined;
    const protections = await this.fs.listProtections().catch(() => []);
    const table = this.fs.blockTable;
    const isProtected = (p: Pending): boolean => {
      const [m1, m2] = table.get(p.block);
      return protections.some((x) => m2 >= x.from && m1 <= x.to);
    };
    let best: Pending | undefined;
    let bestProtected = false;
    for (const p of ready) {
      const prot = isProtected(p);
      if (!best || (prot && !bestProtected) || (prot === bestProtected && p.seq < best.seq)) {
        best = p;
        bestProtected = prot;
      }
    }
    return best;
  }

  private ready(): Pending[] {
    const now = Date.now();
    return [...this.pending.values()].filter((p) => (p.notBefore ?? 0) <= now);
  }

  /** Reads, verifies and uploads one block; a block that changed under us is missed, one that fails its checksums refused. */
  private async upload(p: Pending): Promise<void> {
    const { device } = this.fs;
    const { blocksize } = this.geometry;
    const bytes = device!.allocBuffer(blocksize);
    await device!.read(p.block * blocksize, bytes);
    const checked = checkSealedBlock(bytes, p.block, this.geometry);
    const seqNow = await readSeq(device!, this.geometry, p.block);
    // Reused since it was seen (or while it was read): its bytes are another block's now.
    if (seqNow !== p.seq || (typeof checked !== 'string' && checked.seq !== p.seq)) {
      this.giveUp(p, 'missed');
      this.options.log.warn({ fsId: this.fsId, block: p.block, seq: p.seq }, 'fleet: block overwritten by the ring before it was archived (missed)');
      this.emit('missed', p);
      return;
    }
    if (typeof checked === 'string' && (p.failures ?? 0) + 1 < CHECK_ATTEMPTS) {
      p.failures = (p.failures ?? 0) + 1;
      p.notBefore = Date.now() + this.pollMs;
      return;
    }
    if (typeof checked === 'string') {
      this.giveUp(p, 'refused');
      this.options.log.error({ fsId: this.fsId, block: p.block, seq: p.seq, reason: checked }, 'fleet: block does not verify; not archived');
      this.emit('refused', { ...p, reason: checked });
      return;
    }
    const contents = checked;
    const [mstime1, mstime2] = this.fs.blockTable.get(p.block);
    const streams = contents.summary!.filter((s) => s.subsession === 0).map((s) => [s.streamId, s.firstTs, s.lastTs] as [number, number, number]);
    const a = await this.options.archive.put(
      { fsId: this.fsId, seq: p.seq, block: p.block, nBlocks: this.geometry.nBlocks, blocksize, variant: this.fs.variant, mstime1, mstime2, streams },
      bytes,
    );
    this.archived.add(p.seq);
    this.pending.delete(p.seq);
    this.counts.uploaded++;
    this.emit('uploaded', a);
  }

  /** Settles a block that will never be archived (counted under `why`). */
  private giveUp(p: Pending, why: 'missed' | 'refused'): void {
    this.pending.delete(p.seq);
    this.done.add(p.seq);
    this.counts[why]++;
  }

  /** Resolves once, after a fresh look at the ring, nothing is pending (tests; `valkka serve` does not wait for it). */
  idle(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ resolve, looked: false }));
  }

  /** Stops after the block in flight (its upload completes or fails); closes the reader handle. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.lookTimer);
    this.wakeUp?.();
    await this.loop;
    await this.looking;
    for (const w of this.idleWaiters.splice(0)) w.resolve();
    await this.fs.close();
  }
}
