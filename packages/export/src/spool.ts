/**
 * A list of 32-bit numbers that can grow to any length in constant memory: the newest entries sit
 * in one fixed chunk; a full chunk is appended to a scratch file, read back in order at the end.
 * The MP4 sample tables (a few numbers per frame) are kept this way, so a day of video costs the
 * same memory as a minute. The scratch file is removed as soon as it is opened (only its
 * descriptor holds it), so nothing is left behind whatever ends the process.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';

/** Entries per chunk unless told otherwise: 64 KiB of memory per list. */
export const SPOOL_CHUNK = 16_384;

export class U32Spool {
  /** Entries pushed so far. */
  length = 0;
  private chunk: Uint32Array;
  private held = 0;
  private fd: number | undefined;
  /** Entries in the scratch file. */
  private spooled = 0;

  constructor(
    /** Path for the scratch file (created on the first full chunk). */
    private readonly scratch: string,
    chunkEntries = SPOOL_CHUNK,
  ) {
    this.chunk = new Uint32Array(chunkEntries);
  }

  /** Bytes of entries held in memory now (at most the chunk). */
  get bytesHeld(): number {
    return this.held * 4;
  }

  push(value: number): void {
    if (this.held === this.chunk.length) this.spill();
    this.chunk[this.held++] = value;
    this.length++;
  }

  /** Every entry in order, a chunk at a time (the array passed is reused between calls). */
  *chunks(): Generator<Uint32Array> {
    if (this.fd !== undefined && this.spooled > 0) {
      const bytes = Buffer.alloc(this.chunk.length * 4);
      for (let at = 0; at < this.spooled * 4; ) {
        const n = readSync(this.fd, bytes, 0, Math.min(bytes.length, this.spooled * 4 - at), at);
        if (n <= 0 || n % 4 !== 0) throw new Error(`sample table scratch file ${this.scratch}: short read at ${at}`);
        yield new Uint32Array(bytes.buffer, bytes.byteOffset, n / 4);
        at += n;
      }
    }
    if (this.held > 0) yield this.chunk.subarray(0, this.held);
  }

  /** Closes the scratch file (already unlinked). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private spill(): void {
    if (this.fd === undefined) {
      this.fd = openSync(this.scratch, 'wx+', 0o600);
      unlinkSync(this.scratch);
    }
    const bytes = new Uint8Array(this.chunk.buffer, 0, this.held * 4);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, this.spooled * 4 + done);
    this.spooled += this.held;
    this.held = 0;
  }
}
