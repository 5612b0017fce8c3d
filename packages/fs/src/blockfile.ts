/**
 * The blockfile on disk: N rows × 2 int64 LE ms (the original's layout), held in memory as a
 * BlockTable (search.ts) and written one row at a time.
 */
import { type FileHandle, open } from 'node:fs/promises';

import type { Row } from './block-stats.js';
import { ValkkaFSLoadError } from './errors.js';
import { BLOCKFILE_ROW_BYTES, BlockTable } from './search.js';

export class BlockFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly table: BlockTable,
    /** Rows that held values no timestamp can have (read as unused). */
    readonly invalidRows: number[],
  ) {}

  /** A new all-zero blockfile of nBlocks rows (replaces any existing file). */
  static async create(path: string, nBlocks: number): Promise<BlockFile> {
    const fh = await open(path, 'w+');
    await fh.truncate(nBlocks * BLOCKFILE_ROW_BYTES);
    await fh.datasync();
    return new BlockFile(path, fh, new BlockTable(nBlocks, 0), []);
  }

  /** Opens an existing blockfile; its size must be nBlocks × 16 bytes unless `lenient` (check/repair). */
  static async open(path: string, nBlocks: number, currentBlock: number, opts: { write: boolean; lenient?: boolean }): Promise<BlockFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, opts.write ? 'r+' : 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ValkkaFSLoadError(code === 'ENOENT' ? 'ENOTFOUND' : 'EBLOCKFILE', `${path}: cannot open blockfile (${code ?? String(err)})`, { cause: err });
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
  async setRow(i: number, [c0, c1]: Row): Promise<void> {
    this.table.set(i, c0, c1);
    await this.fh.write(this.table.rowBytes(i), 0, BLOCKFILE_ROW_BYTES, i * BLOCKFILE_ROW_BYTES);
  }

  /**
   * Zeroes `count` rows from row `first` (wrapping) on disk only: the blocks are about to be
   * reused, the in-memory table keeps showing them until then. Durable after sync().
   */
  async zeroRowsOnDisk(first: number, count: number): Promise<void> {
    const n = this.table.n;
    const head = Math.min(count, n - first);
    const zeros = Buffer.alloc(Math.min(count, n) * BLOCKFILE_ROW_BYTES);
    await this.fh.write(zeros, 0, head * BLOCKFILE_ROW_BYTES, first * BLOCKFILE_ROW_BYTES);
    if (count > head) await this.fh.write(zeros, 0, (count - head) * BLOCKFILE_ROW_BYTES, 0);
  }

  /** Writes the whole table (repair). */
  async writeAll(): Promise<void> {
    const bytes = this.table.toBlockfile();
    await this.fh.truncate(bytes.length);
    await this.fh.write(bytes, 0, bytes.length, 0);
  }

  async sync(): Promise<void> {
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readTable(fh: FileHandle, path: string, nBlocks: number, currentBlock: number, lenient: boolean) {
  const { size } = await fh.stat();
  const expected = nBlocks * BLOCKFILE_ROW_BYTES;
  if (size !== expected && !lenient) {
    throw new ValkkaFSLoadError('EBLOCKFILE', `${path}: ${size} bytes, expected ${expected} (${nBlocks} rows of 16 bytes)`);
  }
  const bytes = Buffer.alloc(expected);
  await fh.read(bytes, 0, Math.min(size, expected), 0);
  return BlockTable.fromBlockfile(bytes, nBlocks, currentBlock);
}
