// Shared by the fleet suites: a JetStream cluster (or the skip reason), a logger whose lines are
// kept (to assert what is and is not logged), a recording filesystem that remembers what it wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Objm } from '@nats-io/obj';
import { Codec, MediaType, ValkkaMultiFS } from '@valkka/fs';
import { natsMissing, startNatsCluster } from '@valkka/vitest-preset/nats-cluster';
import { skipReason } from '@valkka/vitest-preset/skip';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';

import { ARCHIVE_BUCKET, Archive, type Archiver, type Fleet, connectFleet, objectName } from '../src/index.js';

export { startNatsCluster } from '@valkka/vitest-preset/nats-cluster';

/** undefined when the suite can run; otherwise prints SKIPPED <suite>: <reason>. */
export function natsSkip(suite: string): string | undefined {
  const why = natsMissing();
  return skipReason(suite, [[why === undefined, why ?? '']]);
}

export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { log, lines };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkka-fleet-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface FleetSuite {
  cluster: Awaited<ReturnType<typeof startNatsCluster>>;
  fleet: Fleet;
  tmp: Awaited<ReturnType<typeof tempDir>>;
  logs: ReturnType<typeof captureLog>;
}

/**
 * For one describe block: a NATS cluster of `nodes` servers, a fleet connection to it (to the servers
 * `servers` picks, all by default), a temporary directory and a kept log; all closed after the block.
 */
export function useFleetSuite(options: { nodes: number; name?: string; servers?: (urls: string[]) => string[]; replicas?: number }): FleetSuite {
  const suite = { logs: captureLog() } as FleetSuite;
  beforeAll(async () => {
    suite.cluster = await startNatsCluster({ nodes: options.nodes });
    const servers = options.servers?.(suite.cluster.urls) ?? suite.cluster.urls;
    suite.fleet = await connectFleet({ servers, name: options.name ?? 'rec1', log: suite.logs.log, ...(options.replicas ? { replicas: options.replicas } : {}) });
    suite.tmp = await tempDir();
  });
  afterAll(async () => {
    await suite.fleet?.close();
    await suite.cluster?.close();
    await suite.tmp?.cleanup();
  });
  return suite;
}

export interface Written {
  streamId: number;
  timestamp: number;
  /** First payload byte and length: enough to tell frames apart. */
  mark: number;
  length: number;
}

/** A recorder: a ValkkaMultiFS written with two streams at 25 fps each, frames of `frameBytes`. */
export class Recorder {
  readonly written: Written[] = [];
  private t = 1_700_000_000_000;
  private n = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  /** Seal events the writer emitted: block and seq of each sealed block. */
  readonly seals: Array<{ index: number; seq: number }> = [];

  private constructor(readonly fs: ValkkaMultiFS, readonly frameBytes: number) {
    fs.on('block', (e) => this.seals.push({ index: e.index, seq: e.seq }));
  }

  static async create(dirname: string, options: { blocksize?: number; nBlocks?: number; frameBytes?: number } = {}): Promise<Recorder> {
    const fs = await ValkkaMultiFS.newFromDirectory({ dirname, blocksize: options.blocksize ?? 65536, nBlocks: options.nBlocks ?? 64, flushIntervalMs: 100 });
    return new Recorder(fs, options.frameBytes ?? 4000);
  }

  /** Writes `count` frames at once. */
  async write(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.one();
  }

  private async one(): Promise<void> {
    const n = this.n++;
    const streamId = 1 + (n % 2);
    const payload = new Uint8Array(this.frameBytes - (n % 7) * 100);
    payload.fill((n % 251) + 1);
    payload[1] = n & 0xff;
    this.t += 20;
    await this.fs.write({ streamId, subsession: 0, timestamp: this.t, mediaType: MediaType.video, codec: Codec.none, flags: n % 50 < 2 ? 1 : 0, payload });
    this.written.push({ streamId, timestamp: this.t, mark: payload[0]!, length: payload.length });
  }

  /** Keeps writing `perTick` frames every `ms` until stopWriting(). */
  startWriting(perTick: number, ms: number): void {
    this.timer = setInterval(() => {
      this.chain = this.chain.then(() => this.write(perTick));
    }, ms);
  }

  async stopWriting(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }

  async close(): Promise<void> {
    await this.stopWriting();
    await this.fs.close();
  }
}

/**
 * Waits until the archive's index lists exactly the recorder's sealed seqs, then checks that a fresh
 * full listing says the same. On failure the error says what is missing: seqs sealed vs listed by the
 * (incremental) index vs a fresh Archive vs os.list(), and the archiver's own view (stats, pending
 * seqs, whether a put is in flight).
 */
export async function expectArchived(fleet: Fleet, archive: Archive, archiver: Archiver, rec: Recorder, timeoutMs = 60_000): Promise<void> {
  const fsId = rec.fs.fsId;
  const want = (): string => rec.seals.map((s) => s.seq).join(',');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await archive.list(fsId).catch(() => []);
    if (listed.map((a) => a.seq).join(',') === want()) {
      // The incremental index must agree with a listing made from scratch.
      const fresh = await new Archive(fleet.nc, { log: pino({ level: 'silent' }), replicas: 1 }).list(fsId);
      if (fresh.map((a) => a.seq).join(',') === want()) return;
      throw new Error(`a fresh listing differs from the archive's index:\n${await archiveReport(fleet, archive, archiver, rec)}`);
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`archive not caught up in ${timeoutMs} ms:\n${await archiveReport(fleet, archive, archiver, rec)}`);
}

/** Sealed vs indexed vs freshly listed seqs, and the archiver's state: what a failed catch-up prints. */
export async function archiveReport(fleet: Fleet, archive: Archive, archiver: Archiver, rec: Recorder): Promise<string> {
  const fsId = rec.fs.fsId;
  const sealed = rec.seals.map((s) => s.seq);
  const seqsOf = (a: Archive): Promise<number[] | string> =>
    a.list(fsId).then(
      (l) => l.map((b) => b.seq),
      (e: unknown) => `failed: ${(e as Error).message}`,
    );
  const indexed = await seqsOf(archive);
  const fresh = await seqsOf(new Archive(fleet.nc, { log: pino({ level: 'silent' }), replicas: 1 }));
  let stored: number[] | string;
  try {
    const os = await new Objm(fleet.nc).open(ARCHIVE_BUCKET);
    stored = (await os.list()).filter((i) => i.name.startsWith(`${fsId}/`)).map((i) => Number.parseInt(i.name.slice(fsId.length + 1), 16)).sort((x, y) => x - y);
  } catch (err) {
    stored = `os.list() failed: ${(err as Error).message}`;
  }
  const missing = (from: number[] | string): string => (typeof from === 'string' ? from : sealed.filter((s) => !from.includes(s)).join(',') || 'none');
  const inside = archiver as unknown as { pending: Map<number, unknown>; archived: Set<number>; inFlight: boolean };
  return [
    `sealed ${sealed.length}: ${sealed[0]}..${sealed.at(-1)}`,
    `index (archive.list) ${typeof indexed === 'string' ? indexed : indexed.length}, missing: ${missing(indexed)}`,
    `fresh Archive listing ${typeof fresh === 'string' ? fresh : fresh.length}, missing: ${missing(fresh)}`,
    `os.list() ${typeof stored === 'string' ? stored : stored.length}, missing: ${missing(stored)}`,
    `archiver stats ${JSON.stringify(archiver.stats)}; in flight: ${inside.inFlight}; pending seqs: ${[...inside.pending.keys()].join(',') || 'none'}`,
    `uploaded per the archiver yet not in the index: ${sealed.filter((s) => inside.archived.has(s) && typeof indexed !== 'string' && !indexed.includes(s)).join(',') || 'none'}`,
    `fleet status ${fleet.status()}`,
    `meta seqs of the missing: ${await metaSeqs(fleet, fsId, typeof indexed === 'string' ? [] : sealed.filter((s) => !indexed.includes(s)))}`,
  ].join('\n');
}

async function metaSeqs(fleet: Fleet, fsId: string, seqs: number[]): Promise<string> {
  const os = await new Objm(fleet.nc).open(ARCHIVE_BUCKET);
  const out: string[] = [];
  for (const seq of seqs) {
    const i = await os.info(objectName(fsId, seq)).catch(() => null);
    out.push(`${seq}: rev ${i?.revision} mtime ${i?.mtime}`);
  }
  return out.join('; ');
}
