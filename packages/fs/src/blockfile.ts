/**
 * The blockfile on disk: N rows × 2 int64 LE ms (the original's layout), held in memory as a
 * BlockTable (search.ts) and written one row at a time.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

import { open as openRaw } from '@valkka/native';

import type { Row } from './block-stats.js';
import { ValkkaFSLoadError } from './errors.js';
import { checkRegular, ioError, openRegular } from './files.js';
import { BLOCKFILE_ROW_BYTES, BlockTable } from './block-table.js';

export class BlockFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly table: BlockTable,
    /** Rows that held values no timestamp can have (read as unused). */
    readonly invalidRows: number[],
  ) {}

  /**
   * A new all-zero blockfile of nBlocks rows (replaces the rows of any existing one), reserved on disk
   * (not sparse): a full disk can never stop a row from being written later.
   */
  static async create(path: string, nBlocks: number): Promise<BlockFile> {
    await checkRegular(path, 'blockfile');
    const size = nBlocks * BLOCKFILE_ROW_BYTES;
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
      await fh.truncate(0);
      const raw = await openRaw(path, { write: true });
      try {
        await raw.fallocate(0, size);
      } finally {
        await raw.close();
      }
      await fh.datasync();
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw ioError(path, `cannot reserve the blockfile (${size} bytes)`, err);
    }
    return new BlockFile(path, fh, new BlockTable(nBlocks, 0), []);
  }

  /** Opens an existing blockfile; its size must be nBlocks × 16 bytes unless `lenient` (check/repair). */
  static async open(path: string, nBlocks: number, currentBlock: number, opts: { write: boolean; lenient?: boolean }): Promise<BlockFile> {
    let fh: FileHandle;
    try {
      fh = await openRegular(path, 'blockfile', opts.write);
    } catch (err) {
      if (err instanceof ValkkaFSLoadError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ValkkaFSLoadError('EBLOCKFILE', `${path}: cannot open blockfile (${code ?? String(err)})`, { cause: err });
    }
    try {
      const { table, invalidRows } = await readTable(fh, path, nBlocks, currentBlock, opts.lenient ?? false);
      return new BlockFile(path, fh, table, invalidRows);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Re-reads every row from disk (a reader following another process's writer). */
  async reread(currentBlock: number): Promise<BlockTable> {
    const { table } = await readTable(this.fh, this.path, this.table.n, currentBlock, true);
    return table;
  }

  row(i: number): Row {
    return this.table.get(i);
  }

  /** Sets row i in memory and writes it; durable after sync(). */
  async setRow(i: number, [mstime1, mstime2]: Row): Promise<void> {
    this.table.set(i, mstime1, mstime2);
    await this.fh.write(this.table.rowBytes(i), 0, BLOCKFILE_ROW_BYTES, i * BLOCKFILE_ROW_BYTES).catch((err: unknown) => {
      throw ioError(this.path, `cannot write row ${i}`, err);
    });
  }

  /**
   * Zeroes `count` rows from row `first` (wrapping) on disk only: the blocks are about to be
   * reused, the in-memory table keeps showing them until then. Durable after sync().
   */
  async zeroRowsOnDisk(first: number, count: number): Promise<void> {
    const n = this.table.n;
    const head = Math.min(count, n - first);
    const zeros = Buffer.alloc(Math.min(count, n) * BLOCKFILE_ROW_BYTES);
    try {
      await this.fh.write(zeros, 0, head * BLOCKFILE_ROW_BYTES, first * BLOCKFILE_ROW_BYTES);
      if (count > head) await this.fh.write(zeros, 0, (count - head) * BLOCKFILE_ROW_BYTES, 0);
    } catch (err) {
      throw ioError(this.path, `cannot zero ${count} rows from row ${first}`, err);
    }
  }

  /** Writes the whole table (repair). */
  async writeAll(): Promise<void> {
    const bytes = this.table.toBlockfile();
    await this.fh.truncate(bytes.length);
    await this.fh.write(bytes, 0, bytes.length, 0);
  }

  async sync(): Promise<void> {
    await this.fh.datasync().catch((err: unknown) => {
      throw ioError(this.path, 'cannot sync', err);
    });
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Rows read per step: a huge blockfile is never held in memory twice (bytes and table). */
const CHUNK_ROWS = 65536;
const MAX_MS = BigInt(Number.MAX_SAFE_INTEGER);

async function readTable(fh: FileHandle, path: string, nBlocks: number, currentBlock: number, lenient: boolean) {
  const { size } = await fh.stat();
  const expected = nBlocks * BLOCKFILE_ROW_BYTES;
  if (size !== expected && !lenient) {
    throw new ValkkaFSLoadError('EBLOCKFILE', `${path}: ${size} bytes, expected ${expected} (${nBlocks} rows of 16 bytes)`);
  }
  const table = new BlockTable(nBlocks, currentBlock);
  const invalidRows: number[] = [];
  const rowsPresent = Math.min(nBlocks, Math.floor(size / BLOCKFILE_ROW_BYTES));
  const bytes = Buffer.alloc(Math.min(rowsPresent, CHUNK_ROWS) * BLOCKFILE_ROW_BYTES);
  for (let first = 0; first < rowsPresent; first += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rowsPresent - first);
    const chunk = bytes.subarray(0, count * BLOCKFILE_ROW_BYTES);
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, first * BLOCKFILE_ROW_BYTES).catch((err: unknown) => {
      throw ioError(path, `cannot read rows ${first}..${first + count - 1}`, err);
    });
    chunk.fill(0, bytesRead); // shrunk under us: the rest reads as unused, as a short file does
    const words = new Int32Array(chunk.buffer, chunk.byteOffset, count * 4);
    for (let i = 0; i < count; i++) {
      if ((words[4 * i]! | words[4 * i + 1]! | words[4 * i + 2]! | words[4 * i + 3]!) === 0) continue; // unused: the common case
      const a = chunk.readBigInt64LE(i * BLOCKFILE_ROW_BYTES);
      const b = chunk.readBigInt64LE(i * BLOCKFILE_ROW_BYTES + 8);
      // Values no timestamp can have (beyond ±(2^53 − 1)) read as unused, as BlockTable.fromBlockfile does.
      if (a < -MAX_MS || a > MAX_MS || b < -MAX_MS || b > MAX_MS) invalidRows.push(first + i);
      else table.set(first + i, Number(a), Number(b));
    }
  }
  return { table, invalidRows };
}
