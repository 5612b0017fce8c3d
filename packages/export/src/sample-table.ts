/**
 * One track's sample table (stts, stss, stsc, stsz, stco/co64), built as the samples are written
 * and kept in constant memory: every list is a U32Spool, and runs collapse where they can (stts:
 * equal durations, stsc: equal chunk lengths). At the end the boxes are streamed to the output.
 */
import { endianness } from 'node:os';

import type { ByteSink } from './boxes.js';
import { boxHeader } from './boxes.js';
import { U32Spool } from './spool.js';

const LITTLE_ENDIAN = endianness() === 'LE';

/** Chunk offsets above this need the 64-bit co64 box instead of stco. */
export const STCO_LIMIT = 0xffff_ffff;

export class SampleTable {
  samples = 0;
  /** Time of the first sample and of the last (in the track's timescale). */
  firstTime: number | undefined;
  lastTime = 0;
  /** Sum of the sample durations, once finished. */
  duration = 0;
  /** Duration of the last sample, once finished. */
  lastDuration = 0;
  /** Largest number of table bytes held in memory at any time (the spools' chunks). */
  peakBytesHeld = 0;
  private readonly sizes: U32Spool;
  /** stts runs: (count, delta) pairs; the current run is open. */
  private readonly stts: U32Spool;
  private run = { count: 0, delta: -1 };
  private lastDelta: number | undefined;
  /** 1-based numbers of the key samples. */
  private readonly syncs: U32Spool;
  /** Chunk offsets as (high, low) 32-bit pairs. */
  private readonly offsets: U32Spool;
  /** stsc: (first chunk, samples per chunk, description 1) when the count changes. */
  private readonly stsc: U32Spool;
  private chunks = 0;
  private inChunk = 0;
  private lastStsc = -1;
  private nextOffset = -1;
  private lastOffset = 0;
  private finished = false;

  constructor(scratch: string, chunkEntries?: number) {
    const spool = (name: string): U32Spool => new U32Spool(`${scratch}.${name}`, chunkEntries);
    this.sizes = spool('stsz');
    this.stts = spool('stts');
    this.syncs = spool('stss');
    this.offsets = spool('stco');
    this.stsc = spool('stsc');
  }

  /** Table bytes held in memory now. */
  get bytesHeld(): number {
    return this.sizes.bytesHeld + this.stts.bytesHeld + this.syncs.bytesHeld + this.offsets.bytesHeld + this.stsc.bytesHeld;
  }

  /** True when a chunk starts beyond 4 GiB: the offsets need co64. */
  get co64(): boolean {
    return this.lastOffset > STCO_LIMIT;
  }

  /**
   * A sample of `size` bytes at file `offset`, presented at `time` (not before the previous one).
   * It starts a new chunk when it does not follow this track's previous sample in the file, or when asked.
   */
  add(offset: number, size: number, time: number, key: boolean, newChunk = false): void {
    if (this.samples === 0) this.firstTime = time;
    else this.addDelta(time - this.lastTime);
    this.lastTime = time;
    if (newChunk || offset !== this.nextOffset) {
      this.closeChunk();
      this.chunks++;
      this.offsets.push(Math.floor(offset / 2 ** 32));
      this.offsets.push(offset >>> 0);
      this.lastOffset = offset;
    }
    this.inChunk++;
    this.nextOffset = offset + size;
    this.sizes.push(size);
    this.samples++;
    if (key) this.syncs.push(this.samples);
    const held = this.bytesHeld;
    if (held > this.peakBytesHeld) this.peakBytesHeld = held;
  }

  /** Closes the runs; the last sample lasts `lastDuration` (default: as long as the one before it). */
  finish(lastDuration?: number): void {
    if (this.finished || this.samples === 0) return;
    this.finished = true;
    this.lastDuration = lastDuration ?? this.lastDelta ?? 0;
    this.addDelta(this.lastDuration);
    this.closeRun();
    this.closeChunk();
  }

  /** Bytes of the boxes write() produces. */
  get boxesSize(): number {
    const stss = this.syncs.length < this.samples ? 16 + 4 * this.syncs.length : 0;
    return 16 + 4 * this.stts.length + stss + 16 + 4 * this.stsc.length + 20 + 4 * this.samples + 16 + (this.co64 ? 8 : 4) * this.chunks;
  }

  /** stts, stss (unless every sample is key), stsc, stsz and stco or co64, streamed from the spools. */
  async write(sink: ByteSink): Promise<void> {
    if (!this.finished) throw new Error('SampleTable.write before finish');
    await writeList(sink, 'stts', this.stts, this.stts.length / 2);
    if (this.syncs.length < this.samples) await writeList(sink, 'stss', this.syncs, this.syncs.length);
    await writeList(sink, 'stsc', this.stsc, this.stsc.length / 3);
    await sink.write(boxHeader('stsz', 20 + 4 * this.samples));
    await sink.write(u32s([0, 0, this.samples]));
    for (const values of this.sizes.chunks()) await sink.write(bigEndian(values));
    if (this.co64) {
      await writeList(sink, 'co64', this.offsets, this.chunks);
    } else {
      await sink.write(boxHeader('stco', 16 + 4 * this.chunks));
      await sink.write(u32s([0, this.chunks]));
      // The low halves only.
      for (const pairs of this.offsets.chunks()) {
        const low = new Uint32Array(pairs.length / 2);
        for (let i = 0; i < low.length; i++) low[i] = pairs[2 * i + 1]!;
        await sink.write(bigEndian(low));
      }
    }
  }

  /** Closes the scratch files. */
  close(): void {
    for (const s of [this.sizes, this.stts, this.syncs, this.offsets, this.stsc]) s.close();
  }

  private addDelta(delta: number): void {
    this.lastDelta = delta;
    if (delta === this.run.delta) {
      this.run.count++;
      return;
    }
    this.closeRun();
    this.run = { count: 1, delta };
  }

  private closeRun(): void {
    if (this.run.count === 0) return;
    this.stts.push(this.run.count);
    this.stts.push(this.run.delta);
    this.duration += this.run.count * this.run.delta;
    this.run = { count: 0, delta: -1 };
  }

  private closeChunk(): void {
    if (this.inChunk === 0) return;
    if (this.inChunk !== this.lastStsc) {
      this.stsc.push(this.chunks);
      this.stsc.push(this.inChunk);
      this.stsc.push(1);
      this.lastStsc = this.inChunk;
    }
    this.inChunk = 0;
  }
}

/** A full box (version 0) holding an entry count and the spool's entries as they are. */
async function writeList(sink: ByteSink, type: string, list: U32Spool, entries: number): Promise<void> {
  await sink.write(boxHeader(type, 16 + 4 * list.length));
  await sink.write(u32s([0, entries]));
  for (const values of list.chunks()) await sink.write(bigEndian(values));
}

function u32s(values: number[]): Uint8Array {
  return bigEndian(Uint32Array.from(values));
}

/** A copy of the values as big-endian bytes. */
function bigEndian(values: Uint32Array): Buffer {
  const bytes = Buffer.from(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return LITTLE_ENDIAN ? bytes.swap32() : bytes;
}
