// Shared by the fleet suites: a JetStream cluster (or the skip reason), a logger whose lines are
// kept (to assert what is and is not logged), a recording filesystem that remembers what it wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Codec, MediaType, ValkkaMultiFS } from '@valkka/fs';
import { natsMissing } from '@valkka/vitest-preset/nats-cluster';
import { skipReason } from '@valkka/vitest-preset/skip';
import { type Logger, pino } from 'pino';

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
