/**
 * The block table in memory (the blockfile's N rows × [mstime1, mstime2]) and its index of the
 * used rows in time order, which the queries in search.ts binary-search.
 *
 * Time order is the order of mstime1, ties broken by ring order (oldest first: the block after the
 * current block is the oldest); the original left ties to numpy's argsort. The index is rebuilt in
 * one pass, O(n), when clocks are monotone (rows in ring order then already have non-decreasing
 * mstime1), and the writer's usual steps (append the closed block, drop the oldest, move the
 * current block) update it in O(1). After a clock jump the ring is a few monotone runs; the rebuild
 * merges them (a natural merge sort, O(n log runs)), so blocks are still found by their mstime1,
 * exactly as the original's full sort found them.
 */

export type BlockTableErrorCode = 'EINVAL' | 'EBLOCKFILE';

export class BlockTableError extends Error {
  override readonly name = 'BlockTableError';
  constructor(
    readonly code: BlockTableErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One row of the blockfile: 2 × int64 little-endian. */
export const BLOCKFILE_ROW_BYTES = 16;

/** The largest millisecond value a row may hold: beyond it a JS number loses precision. */
const MAX_MS = Number.MAX_SAFE_INTEGER;

function checkTime(what: string, t: number): void {
  if (!Number.isFinite(t)) throw new BlockTableError('EINVAL', `${what} must be a finite number of ms, got ${t}`);
}

/**
 * The block table in memory, with a time-ordered index of the used rows.
 * Rows are in ring order: the oldest used block follows `currentBlock` (the block being written).
 */
export class BlockTable {
  readonly n: number;
  private readonly mstime1s: Float64Array;
  private readonly mstime2s: Float64Array;
  private current: number;

  // Time-ordered index: a circular buffer of (row, mstime1) pairs, `size` long, starting at `head`.
  private readonly rows: Int32Array;
  private readonly keys: Float64Array;
  private head = 0;
  private size = 0;
  private indexStale = true;
  private maxMstime2Value = 0;
  private maxMstime2Stale = true;

  /** An empty table of `n` rows; `currentBlock` defaults to the last row, so ring order is row order. */
  constructor(n: number, currentBlock = n - 1) {
    if (!Number.isSafeInteger(n) || n < 1) throw new BlockTableError('EINVAL', `n_blocks must be a positive integer, got ${n}`);
    this.n = n;
    this.mstime1s = new Float64Array(n);
    this.mstime2s = new Float64Array(n);
    this.rows = new Int32Array(n);
    this.keys = new Float64Array(n);
    this.current = this.checkRow('current block', currentBlock);
  }

  /** A table from rows [mstime1, mstime2], e.g. the test vectors of the original. */
  static fromRows(rows: ReadonlyArray<readonly [number, number]>, currentBlock?: number): BlockTable {
    const table = new BlockTable(rows.length, currentBlock);
    rows.forEach(([a, b], i) => table.set(i, a, b));
    return table;
  }

  /**
   * A table from blockfile bytes (N × 2 int64 LE). A short file leaves zeros, as the original's
   * readTable did. Rows holding values a number cannot represent exactly (|v| > 2^53 − 1: never
   * a real timestamp) are read as unused and listed in `invalidRows`.
   */
  static fromBlockfile(bytes: Uint8Array, nBlocks: number, currentBlock: number): { table: BlockTable; invalidRows: number[] } {
    const table = new BlockTable(nBlocks, currentBlock);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const invalidRows: number[] = [];
    const rowsPresent = Math.min(nBlocks, Math.floor(bytes.byteLength / BLOCKFILE_ROW_BYTES));
    const ok = (v: bigint): boolean => v >= -BigInt(MAX_MS) && v <= BigInt(MAX_MS);
    for (let i = 0; i < rowsPresent; i++) {
      const a = view.getBigInt64(i * BLOCKFILE_ROW_BYTES, true);
      const b = view.getBigInt64(i * BLOCKFILE_ROW_BYTES + 8, true);
      if (ok(a) && ok(b)) table.set(i, Number(a), Number(b));
      else invalidRows.push(i);
    }
    return { table, invalidRows };
  }

  /** The whole table as blockfile bytes. */
  toBlockfile(): Uint8Array {
    const out = new Uint8Array(this.n * BLOCKFILE_ROW_BYTES);
    for (let i = 0; i < this.n; i++) out.set(this.rowBytes(i), i * BLOCKFILE_ROW_BYTES);
    return out;
  }

  /** Row `i` as its 16 blockfile bytes (to write one row in place). */
  rowBytes(i: number): Uint8Array {
    const row = this.checkRow('row', i);
    const out = new Uint8Array(BLOCKFILE_ROW_BYTES);
    const view = new DataView(out.buffer);
    view.setBigInt64(0, BigInt(this.mstime1s[row] ?? 0), true);
    view.setBigInt64(8, BigInt(this.mstime2s[row] ?? 0), true);
    return out;
  }

  get currentBlock(): number {
    return this.current;
  }

  /** [mstime1, mstime2] of row i. */
  get(i: number): [number, number] {
    const row = this.checkRow('row', i);
    return [this.mstime1s[row] ?? 0, this.mstime2s[row] ?? 0];
  }

  /** mstime1 of row i (no copy, for scans). */
  mstime1(i: number): number {
    return this.mstime1s[this.checkRow('row', i)] ?? 0;
  }

  /** mstime2 of row i. */
  mstime2(i: number): number {
    return this.mstime2s[this.checkRow('row', i)] ?? 0;
  }

  isUsed(i: number): boolean {
    return (this.mstime1s[this.checkRow('row', i)] ?? 0) > 0;
  }

  /** Number of used rows (builds the index the queries in search.ts read). */
  get usedCount(): number {
    this.ensureIndex();
    return this.size;
  }

  set(i: number, mstime1: number, mstime2: number): void {
    const row = this.checkRow('row', i);
    for (const [what, v] of [['mstime1', mstime1], ['mstime2', mstime2]] as const) {
      if (!Number.isSafeInteger(v)) throw new BlockTableError('EINVAL', `row ${row}: ${what} must be an integer number of ms, got ${v}`);
    }
    const wasUsed = (this.mstime1s[row] ?? 0) > 0;
    const oldMstime2 = this.mstime2s[row] ?? 0;
    this.mstime1s[row] = mstime1;
    this.mstime2s[row] = mstime2;
    if (this.indexStale) return;
    if (wasUsed) this.dropFromIndex(row, oldMstime2);
    if (mstime1 > 0 && !this.indexStale) this.appendToIndex(row, mstime1, mstime2);
  }

  /** Moves the current block (the writer entered a new block). */
  setCurrentBlock(b: number): void {
    const next = this.checkRow('current block', b);
    if (next === this.current) return;
    // Rows between the old and the new current block move from the front of the ring to its
    // back. Time order is mstime1 first, so it changes only when a moved used row ties on mstime1 with
    // another row; then rebuild on the next query.
    if (!this.indexStale) {
      const moved: number[] = [];
      for (let r = (this.current + 1) % this.n; ; r = (r + 1) % this.n) {
        if ((this.mstime1s[r] ?? 0) > 0) moved.push(r);
        if (r === next || moved.length > 1) break;
      }
      const [only] = moved;
      if (moved.length > 1) this.indexStale = true;
      else if (only !== undefined) {
        const key = this.mstime1s[only] ?? 0;
        if (this.bound(key, true) - this.bound(key, false) !== 1) this.indexStale = true;
      }
    }
    this.current = next;
  }

  /** Used rows in time order (a copy). */
  timeOrder(): number[] {
    this.ensureIndex();
    return this.slice(0, this.size);
  }

  // ---- the index, for the queries in search.ts ----

  /** @internal mstime1 of the k-th used row in time order */
  keyAt(k: number): number {
    return this.keys[(this.head + k) % this.n] ?? 0;
  }

  /** @internal the k-th used row in time order */
  rowAt(k: number): number {
    return this.rows[(this.head + k) % this.n] ?? 0;
  }

  /** @internal rows of index positions [from, to) */
  slice(from: number, to: number): number[] {
    const out: number[] = [];
    for (let k = from; k < to; k++) out.push(this.rowAt(k));
    return out;
  }

  /** @internal first index position whose mstime1 is > t (strict) or >= t. */
  bound(t: number, strict: boolean): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keyAt(mid);
      if (k < t || (strict && k === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** @internal max mstime2 over used rows */
  maxMstime2(): number {
    this.ensureIndex();
    if (this.maxMstime2Stale) {
      let max = -Infinity;
      for (let k = 0; k < this.size; k++) max = Math.max(max, this.mstime2s[this.rowAt(k)] ?? 0);
      this.maxMstime2Value = max;
      this.maxMstime2Stale = false;
    }
    return this.maxMstime2Value;
  }

  private checkRow(what: string, i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) {
      throw new BlockTableError('EINVAL', `${what} ${i} is outside the table (0..${this.n - 1})`);
    }
    return i;
  }

  private ringPos(row: number): number {
    return (row - this.current - 1 + this.n) % this.n;
  }

  /** O(1) removal when the row is the first or the last in time order; otherwise mark stale. */
  private dropFromIndex(row: number, oldMstime2: number): void {
    if (this.size > 0 && this.rowAt(0) === row) {
      this.head = (this.head + 1) % this.n;
      this.size--;
    } else if (this.size > 0 && this.rowAt(this.size - 1) === row) {
      this.size--;
    } else {
      this.indexStale = true;
      return;
    }
    if (oldMstime2 >= this.maxMstime2Value) this.maxMstime2Stale = true;
  }

  /** O(1) append when the row comes last in time order; otherwise mark stale. */
  private appendToIndex(row: number, mstime1: number, mstime2: number): void {
    if (this.size > 0) {
      const lastKey = this.keyAt(this.size - 1);
      const after = mstime1 > lastKey || (mstime1 === lastKey && this.ringPos(row) > this.ringPos(this.rowAt(this.size - 1)));
      if (!after) {
        this.indexStale = true;
        return;
      }
    }
    const slot = (this.head + this.size) % this.n;
    this.rows[slot] = row;
    this.keys[slot] = mstime1;
    this.size++;
    if (!this.maxMstime2Stale) this.maxMstime2Value = Math.max(this.maxMstime2Value, mstime2);
  }

  private ensureIndex(): void {
    if (!this.indexStale) return;
    // Used rows in ring order, oldest first.
    let m = 0;
    const runStarts: number[] = [0];
    for (let p = 0; p < this.n; p++) {
      const row = (this.current + 1 + p) % this.n;
      const key = this.mstime1s[row] ?? 0;
      if (key <= 0) continue;
      if (m > 0 && key < (this.keys[m - 1] ?? 0)) runStarts.push(m);
      this.rows[m] = row;
      this.keys[m] = key;
      m++;
    }
    if (runStarts.length > 1) mergeRuns(this.rows, this.keys, m, runStarts);
    this.head = 0;
    this.size = m;
    this.indexStale = false;
    this.maxMstime2Stale = true;
  }
}

/** Stable bottom-up merge of the sorted runs of (rows, keys)[0..m), in place. */
function mergeRuns(rows: Int32Array, keys: Float64Array, m: number, runStarts: number[]): void {
  let srcRows: Int32Array = rows;
  let srcKeys: Float64Array = keys;
  let dstRows: Int32Array = new Int32Array(m);
  let dstKeys: Float64Array = new Float64Array(m);
  let starts = [...runStarts, m];
  while (starts.length > 2) {
    const merged: number[] = [];
    for (let r = 0; r + 1 < starts.length; r += 2) {
      const a = starts[r] ?? m;
      const b = starts[r + 1] ?? m;
      const c = starts[r + 2] ?? m;
      merged.push(a);
      let i = a;
      let j = b;
      let o = a;
      while (i < b && j < c) {
        // `<=` keeps equal keys in ring order: the merge is stable.
        if ((srcKeys[i] ?? 0) <= (srcKeys[j] ?? 0)) {
          dstRows[o] = srcRows[i] ?? 0;
          dstKeys[o++] = srcKeys[i++] ?? 0;
        } else {
          dstRows[o] = srcRows[j] ?? 0;
          dstKeys[o++] = srcKeys[j++] ?? 0;
        }
      }
      dstRows.set(srcRows.subarray(i, b), o);
      dstKeys.set(srcKeys.subarray(i, b), o);
      o += b - i;
      dstRows.set(srcRows.subarray(j, c), o);
      dstKeys.set(srcKeys.subarray(j, c), o);
    }
    merged.push(m);
    starts = merged;
    [srcRows, dstRows] = [dstRows, srcRows];
    [srcKeys, dstKeys] = [dstKeys, srcKeys];
  }
  if (srcRows !== rows) {
    rows.set(srcRows.subarray(0, m));
    keys.set(srcKeys.subarray(0, m));
  }
}
