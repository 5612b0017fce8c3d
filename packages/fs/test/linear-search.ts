/**
 * The specification of the search: the original's numpy code (valkka.fs single.py/multi.py),
 * transcribed literally, as full scans and a sort per getInd/getIndNeigh. Tests and
 * bench/search.mjs compare the indexed queries against it; it is not part of the package. The only
 * addition is the tie order (mstime1, then ring order), which numpy left unspecified.
 */
import type { BlockTable } from '../src/block-table.js';
import type { TimeRange } from '../src/search.js';

export const linearSearch = {
  getTimeRange(table: BlockTable): [number, number] | undefined {
    const used = usedRows(table);
    if (used.length === 0) return undefined;
    return [minOf(used.map((i) => table.mstime1(i))), maxOf(used.map((i) => table.mstime2(i)))];
  },

  getInd(table: BlockTable, [t0, t1]: TimeRange): number[] {
    if (t0 > t1) return [];
    const mstime1 = (i: number): number => table.mstime1(i);
    const used = usedRows(table);
    const A = used.filter((i) => mstime1(i) <= t0).map(mstime1);
    let tt: number;
    if (A.length > 0) tt = maxOf(A);
    else {
      const B = used.filter((i) => mstime1(i) >= t0).map(mstime1);
      if (B.length === 0) return [];
      tt = minOf(B);
    }
    const eka = used.filter((i) => mstime1(i) >= tt);
    let C = used.filter((i) => mstime1(i) > t1).map(mstime1);
    if (C.length === 0) C = used.filter((i) => mstime1(i) >= t1).map(mstime1);
    const upper = C.length === 0 ? Infinity : minOf(C);
    return sortByTime(table, eka.filter((i) => mstime1(i) <= upper));
  },

  getIndNeigh(table: BlockTable, n: number, time: number): number[] {
    const mstime1 = (i: number): number => table.mstime1(i);
    const all = [...Array(table.n).keys()];
    const before = sortByTime(table, all.filter((i) => mstime1(i) > 0 && mstime1(i) < time)).reverse().slice(0, n);
    const after = sortByTime(table, all.filter((i) => mstime1(i) >= time)).slice(0, n + 1);
    return sortByTime(table, [...new Set([...before, ...after])]);
  },

  /** One pass: the used row with the greatest (mstime1, ring position) whose mstime1 ≤ t. */
  blockAt(table: BlockTable, t: number): number | undefined {
    let best: number | undefined;
    let bestKey = -Infinity;
    for (let p = 0; p < table.n; p++) {
      const row = (table.currentBlock + 1 + p) % table.n;
      const key = table.mstime1(row);
      if (key > 0 && key <= t && key >= bestKey) {
        best = row;
        bestKey = key;
      }
    }
    return best;
  },
};

function usedRows(table: BlockTable): number[] {
  return [...Array(table.n).keys()].filter((i) => table.mstime1(i) > 0);
}

const minOf = (xs: number[]): number => xs.reduce((a, b) => Math.min(a, b), Infinity);
const maxOf = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), -Infinity);

function sortByTime(table: BlockTable, rows: number[]): number[] {
  const ring = (r: number): number => (r - table.currentBlock - 1 + table.n) % table.n;
  return rows.sort((a, b) => table.mstime1(a) - table.mstime1(b) || ring(a) - ring(b));
}
