/**
 * Time → block search over the block table (block-table.ts).
 *
 * Semantics are the original's (valkka.fs single.py/multi.py, valkkafs-original.md §4): a row is
 * used iff mstime1 > 0, only mstime1 selects blocks, results come in time order (mstime1, ties in
 * ring order). Every query is a binary search of the table's time-ordered index, O(log n).
 */
import { type BlockTable, BlockTableError } from './block-table.js';

/** [first, last] milliseconds, both inclusive. */
export type TimeRange = readonly [number, number];

function checkTime(what: string, t: number): void {
  if (!Number.isFinite(t)) throw new BlockTableError('EINVAL', `${what} must be a finite number of ms, got ${t}`);
}

/** [min mstime1, max mstime2] over the used rows, or undefined when no row is used. */
export function getTimeRange(table: BlockTable): [number, number] | undefined {
  if (table.usedCount === 0) return undefined;
  return [table.keyAt(0), table.maxMstime2()];
}

/**
 * Blocks to read to cover [t0, t1], in time order: from the last block whose mstime1 ≤ t0 (or the
 * first block when none is), up to and including the first block whose mstime1 is past t1.
 */
export function getInd(table: BlockTable, [t0, t1]: TimeRange): number[] {
  checkTime('t0', t0);
  checkTime('t1', t1);
  const m = table.usedCount;
  if (t0 > t1 || m === 0) return [];
  const firstAfterT0 = table.bound(t0, true);
  const tt = table.keyAt(firstAfterT0 > 0 ? firstAfterT0 - 1 : 0);
  const lo = table.bound(tt, false);
  const firstAfterT1 = table.bound(t1, true);
  const hi = firstAfterT1 < m ? table.bound(table.keyAt(firstAfterT1), true) : m;
  return table.slice(lo, hi);
}

/**
 * The neighbourhood cached for a seek to `time`: the `n` blocks with the latest mstime1 < time and
 * the `n + 1` blocks with the earliest mstime1 ≥ time, in time order. (The original's "after" part
 * also counted unused rows when time ≤ 0; here only used rows count.)
 */
export function getIndNeigh(table: BlockTable, n: number, time: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new BlockTableError('EINVAL', `n must be a non-negative integer, got ${n}`);
  checkTime('time', time);
  const m = table.usedCount;
  const k = table.bound(time, false);
  return table.slice(Math.max(0, k - n), Math.min(m, k + n + 1));
}

/**
 * The block to start reading from to show instant `t`: the one with the latest mstime1 ≤ t (for
 * SingleFS its first key frame is at or before t). Undefined when t precedes every block.
 * The block may end before t (t in a hole or past the end): compare t with its mstime2.
 */
export function blockAt(table: BlockTable, t: number): number | undefined {
  checkTime('t', t);
  if (table.usedCount === 0) return undefined;
  const k = table.bound(t, true);
  return k === 0 ? undefined : table.rowAt(k - 1);
}
