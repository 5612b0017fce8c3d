import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockTable, BlockTableError } from '../src/block-table.js';
import { blockAt, getInd, getIndNeigh, getTimeRange } from '../src/search.js';
import { type StreamSpan, recordedRanges } from '../src/timeline.js';
import { linearSearch } from './linear-search.js';

type Rows = Array<[number, number]>;

/** Every current block a table could have: results without ties must not depend on it. */
function tablesOf(rows: Rows): BlockTable[] {
  return rows.map((_, current) => BlockTable.fromRows(rows, current));
}

describe('§12.3 #14 notebook vectors', () => {
  it('full table [[12,24],[30,40],[41,45],[50,55]]: getTimeRange == (12,55)', () => {
    for (const t of tablesOf([[12, 24], [30, 40], [41, 45], [50, 55]])) expect(getTimeRange(t)).toEqual([12, 55]);
  });

  it('one hole [[12,24],[30,40],[41,45],[0,0]]: range (12,45), getInd((31,42)) == [1,2], getIndNeigh(1,35) == [1,2]', () => {
    for (const t of tablesOf([[12, 24], [30, 40], [41, 45], [0, 0]])) {
      expect(getTimeRange(t)).toEqual([12, 45]);
      expect(getInd(t, [31, 42])).toEqual([1, 2]);
      expect(getIndNeigh(t, 1, 35)).toEqual([1, 2]);
    }
  });

  it('wrapped [[99,101],[0,0],[41,45],[55,66],[77,88]]: range (41,101), getInd((31,42)) == [2,3]', () => {
    for (const t of tablesOf([[99, 101], [0, 0], [41, 45], [55, 66], [77, 88]])) {
      expect(getTimeRange(t)).toEqual([41, 101]);
      expect(getInd(t, [31, 42])).toEqual([2, 3]);
    }
  });

  it('odd row [[99,10],[0,0],[41,45],[55,66],[77,88]]: getInd((31,42)) == [2,3], getIndNeigh(1,55) == [2,3,4]', () => {
    for (const t of tablesOf([[99, 10], [0, 0], [41, 45], [55, 66], [77, 88]])) {
      expect(getInd(t, [31, 42])).toEqual([2, 3]);
      expect(getIndNeigh(t, 1, 55)).toEqual([2, 3, 4]);
      // mstime2 < mstime1 in row 0: the upper end is the max of mstime2, as in the original.
      expect(getTimeRange(t)).toEqual([41, 88]);
    }
  });

  it('all-zero table: getTimeRange undefined, getInd [] and getIndNeigh []', () => {
    const t = new BlockTable(5);
    expect(getTimeRange(t)).toBeUndefined();
    expect(getInd(t, [0, 100])).toEqual([]);
    expect(getIndNeigh(t, 1, 50)).toEqual([]);
    expect(blockAt(t, 50)).toBeUndefined();
  });
});

describe('§12.3 #15 valkkafs_test_old.test6', () => {
  const rows: Rows = [
    [2203, 2203], [2303, 2303], [0, 0], [1503, 1503], [1603, 1603],
    [1703, 1703], [1803, 1803], [1903, 1903], [2003, 2003], [2103, 2103],
  ];

  it('getInd((1720,2210)) == getInd((1720,2400)) == [5,6,7,8,9,0,1]', () => {
    for (const t of tablesOf(rows)) {
      expect(getInd(t, [1720, 2210])).toEqual([5, 6, 7, 8, 9, 0, 1]);
      expect(getInd(t, [1720, 2400])).toEqual([5, 6, 7, 8, 9, 0, 1]);
    }
  });

  it('getIndNeigh(2,1700) == [3,4,5,6,7]', () => {
    for (const t of tablesOf(rows)) expect(getIndNeigh(t, 2, 1700)).toEqual([3, 4, 5, 6, 7]);
  });

  it('getIndNeigh(2,2300) == [9,0,1]', () => {
    for (const t of tablesOf(rows)) expect(getIndNeigh(t, 2, 2300)).toEqual([9, 0, 1]);
  });
});

describe('§12.3 #16 Single wrapped table of §12.2 #11', () => {
  const rows: Rows = [[71000, 71000], [0, 0], [51000, 56000], [61000, 63000], [66000, 70000]];

  it('getTimeRange == (51000,71000)', () => {
    for (const t of tablesOf(rows)) expect(getTimeRange(t)).toEqual([51000, 71000]);
  });

  it.each([
    [50000, [2, 3]],
    [55000, [2, 3, 4]],
    [64000, [3, 4, 0]],
    [70500, [4, 0]],
    [80000, [0]],
  ])('getIndNeigh(1, %i) == %j', (time, expected) => {
    for (const t of tablesOf(rows)) expect(getIndNeigh(t, 1, time)).toEqual(expected);
  });

  it.each([
    [[52000, 62000], [2, 3, 4]],
    [[40000, 45000], [2]],
    [[60000, 80000], [2, 3, 4, 0]],
    [[55000, 55000], [2, 3]],
  ] as Array<[[number, number], number[]]>)('getInd(%j) == %j', (range, expected) => {
    for (const t of tablesOf(rows)) expect(getInd(t, range)).toEqual(expected);
  });

  it('blockAt gives the block to start from', () => {
    const t = BlockTable.fromRows(rows, 1);
    expect(blockAt(t, 50999)).toBeUndefined();
    expect(blockAt(t, 51000)).toBe(2);
    expect(blockAt(t, 64000)).toBe(3);
    expect(blockAt(t, 66000)).toBe(4);
    expect(blockAt(t, 99999)).toBe(0);
  });
});

describe('search details', () => {
  it('ties on mstime1 (a block without key frame copies its predecessor) come in ring order', () => {
    // Ring starts after current block 1: rows 2,3,4,0 hold 10,20,20,20 (row 0 is the newest).
    const t = BlockTable.fromRows([[20, 29], [0, 0], [10, 19], [20, 21], [20, 25]], 1);
    expect(t.timeOrder()).toEqual([2, 3, 4, 0]);
    expect(getInd(t, [22, 22])).toEqual([3, 4, 0]);
    expect(getIndNeigh(t, 1, 20)).toEqual([2, 3, 4]);
    expect(blockAt(t, 25)).toBe(0);
  });

  it('t0 > t1 gives []', () => {
    expect(getInd(BlockTable.fromRows([[5, 6]]), [7, 6])).toEqual([]);
  });

  it('time <= 0 counts only used rows (the original also returned unused ones)', () => {
    const t = BlockTable.fromRows([[0, 0], [10, 11], [20, 21], [30, 31]], 0);
    expect(getIndNeigh(t, 1, 0)).toEqual([1, 2]);
  });

  it('bad arguments are BlockTableError EINVAL', () => {
    const t = new BlockTable(3);
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(BlockTableError);
        return (e as BlockTableError).code;
      }
      return undefined;
    };
    expect(codeOf(() => new BlockTable(0))).toBe('EINVAL');
    expect(codeOf(() => t.set(3, 1, 1))).toBe('EINVAL');
    expect(codeOf(() => t.set(0, 1.5, 2))).toBe('EINVAL');
    expect(codeOf(() => t.setCurrentBlock(-1))).toBe('EINVAL');
    expect(codeOf(() => getInd(t, [Number.NaN, 1]))).toBe('EINVAL');
    expect(codeOf(() => getIndNeigh(t, -1, 5))).toBe('EINVAL');
    expect(codeOf(() => blockAt(t, Infinity))).toBe('EINVAL');
  });

  it('blockfile bytes round trip; rows beyond 2^53 are reported and read as unused', () => {
    const t = BlockTable.fromRows([[71000, 71000], [0, 0], [51000, 56000]], 1);
    const bytes = t.toBlockfile();
    expect(bytes.length).toBe(48);
    const view = new DataView(bytes.buffer);
    expect(view.getBigInt64(32, true)).toBe(51000n);
    expect(view.getBigInt64(40, true)).toBe(56000n);
    view.setBigInt64(0, 1n << 60n, true);
    const { table, invalidRows } = BlockTable.fromBlockfile(bytes, 3, 1);
    expect(invalidRows).toEqual([0]);
    expect(table.get(2)).toEqual([51000, 56000]);
    expect(table.isUsed(0)).toBe(false);
    // A short blockfile leaves zeros, like the original's readTable.
    expect(BlockTable.fromBlockfile(bytes.subarray(0, 20), 3, 1).table.timeOrder()).toEqual([]);
  });

  it('a clock that jumps back: blocks are found by mstime1, as the original found them', () => {
    // Ring order 2,3,4,0 but the clock jumped back between rows 3 and 4.
    const t = BlockTable.fromRows([[1500, 1600], [0, 0], [1000, 1100], [2000, 2100], [1200, 1300]], 1);
    expect(t.timeOrder()).toEqual([2, 4, 0, 3]);
    expect(getInd(t, [1250, 1550])).toEqual([4, 0, 3]);
    expect(blockAt(t, 1250)).toBe(4);
  });
});

describe('recordedRanges', () => {
  const t = BlockTable.fromRows([[5000, 7900], [0, 0], [1000, 2960], [3000, 4960]], 1);
  const spans = new Map<number, StreamSpan[]>([
    [2, [{ streamId: 1, first: 1000, last: 2960 }, { streamId: 2, first: 1010, last: 1500 }]],
    [3, [{ streamId: 1, first: 3000, last: 4960 }, { streamId: 2, first: 4000, last: 4900 }]],
    [0, [{ streamId: 1, first: 5000, last: 5960 }, { streamId: 1, first: 6500, last: 7900 }, { streamId: 2, first: 4940, last: 7900 }]],
  ]);

  it('merges spans closer than maxGapMs and splits at holes', () => {
    const ranges = recordedRanges(t, (b) => spans.get(b), { maxGapMs: 80 });
    expect(ranges.get(1)).toEqual([[1000, 5960], [6500, 7900]]);
    expect(ranges.get(2)).toEqual([[1010, 1500], [4000, 7900]]);
  });

  it('takes a threshold per stream and restricts to an interval', () => {
    const ranges = recordedRanges(t, (b) => spans.get(b), { maxGapMs: (id) => (id === 1 ? 1000 : 10), within: [3500, 3600] });
    // getInd([3500,3600]) reads blocks 3 and 0.
    expect(ranges.get(1)).toEqual([[3000, 7900]]);
    expect(ranges.get(2)).toEqual([[4000, 4900], [4940, 7900]]);
  });

  it('rejects a span whose first is after its last', () => {
    expect(() => recordedRanges(t, () => [{ streamId: 1, first: 5, last: 4 }], { maxGapMs: 1 })).toThrow(/span first 5 > last 4/);
  });
});

// ---- properties: the indexed search equals the original's linear code ----

interface RingSpec {
  n: number;
  current: number;
  rows: Rows;
}

/** A ring table: mstime1 non-decreasing in ring order (ties allowed), random holes, any wrap point. */
const monotoneRing: fc.Arbitrary<RingSpec> = fc
  .record({
    n: fc.integer({ min: 1, max: 40 }),
    current: fc.nat(),
    steps: fc.array(fc.record({ dt: fc.integer({ min: 0, max: 30 }), len: fc.integer({ min: 0, max: 50 }), hole: fc.boolean() }), { maxLength: 40 }),
    start: fc.integer({ min: 1, max: 1000 }),
  })
  .map(({ n, current, steps, start }) => {
    const cur = current % n;
    const rows: Rows = Array.from({ length: n }, () => [0, 0]);
    let t = start;
    for (let p = 0; p < n - 1; p++) {
      const step = steps[p % Math.max(1, steps.length)] ?? { dt: 10, len: 5, hole: false };
      t += step.dt;
      if (!step.hole) rows[(cur + 1 + p) % n] = [t, t + step.len];
    }
    return { n, current: cur, rows };
  });

/** Any values at all: clock jumps anywhere. */
const anyRing: fc.Arbitrary<RingSpec> = fc
  .record({ rows: fc.array(fc.tuple(fc.integer({ min: -5, max: 200 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 40 }), current: fc.nat() })
  .map(({ rows, current }) => ({ n: rows.length, current: current % rows.length, rows }));

const queries = fc.array(
  fc.record({ t0: fc.integer({ min: 0, max: 2300 }), span: fc.integer({ min: -20, max: 600 }), n: fc.integer({ min: 0, max: 4 }), time: fc.integer({ min: 1, max: 2300 }) }),
  { minLength: 1, maxLength: 8 },
);

function expectSameAsReference(t: BlockTable, q: { t0: number; span: number; n: number; time: number }): void {
  const range: [number, number] = [q.t0, q.t0 + q.span];
  expect(getTimeRange(t)).toEqual(linearSearch.getTimeRange(t));
  expect(getInd(t, range)).toEqual(linearSearch.getInd(t, range));
  expect(getIndNeigh(t, q.n, q.time)).toEqual(linearSearch.getIndNeigh(t, q.n, q.time));
  expect(blockAt(t, q.time)).toEqual(linearSearch.blockAt(t, q.time));
}

describe('property: indexed search == linear reference', () => {
  it('on monotone ring tables with holes and wraps', () => {
    fc.assert(
      fc.property(monotoneRing, queries, ({ rows, current }, qs) => {
        const t = BlockTable.fromRows(rows, current);
        for (const q of qs) expectSameAsReference(t, q);
      }),
      { numRuns: 400 },
    );
  });

  it('on tables whose clocks jump anywhere', () => {
    fc.assert(
      fc.property(anyRing, queries, ({ rows, current }, qs) => {
        const t = BlockTable.fromRows(rows, current);
        for (const q of qs) expectSameAsReference(t, q);
      }),
      { numRuns: 400 },
    );
  });

  it('while a writer fills the ring (incremental index) and rows are edited at random', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('close' as const), dt: fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 40 })), len: fc.integer({ min: 0, max: 30 }), zeroFirst: fc.boolean() }),
      fc.record({ kind: fc.constant('set' as const), row: fc.nat(), mstime1: fc.integer({ min: -1, max: 60 }).map((v) => v * 15), mstime2: fc.integer({ min: 0, max: 900 }) }),
      fc.record({ kind: fc.constant('move' as const), to: fc.nat() }),
      fc.record({ kind: fc.constant('query' as const), t0: fc.integer({ min: 0, max: 900 }), span: fc.integer({ min: 0, max: 300 }), n: fc.integer({ min: 0, max: 3 }), time: fc.integer({ min: 1, max: 900 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 60 }), (n, ops) => {
        const t = new BlockTable(n, 0);
        let clock = 100;
        for (const o of ops) {
          if (o.kind === 'close') {
            // The writer's block close: fill the current row, enter the next block, invalidate it.
            clock += o.dt;
            const cur = t.currentBlock;
            const next = (cur + 1) % n;
            if (o.zeroFirst) t.set(next, 0, 0);
            t.set(cur, Math.max(1, clock), Math.max(1, clock) + o.len);
            t.setCurrentBlock(next);
            t.set(next, 0, 0);
          } else if (o.kind === 'set') t.set(o.row % n, o.mstime1, o.mstime2);
          else if (o.kind === 'move') t.setCurrentBlock(o.to % n);
          else {
            expectSameAsReference(t, o);
            const fresh = BlockTable.fromRows([...Array(n).keys()].map((i) => t.get(i)), t.currentBlock);
            expect(t.timeOrder()).toEqual(fresh.timeOrder());
          }
        }
        const fresh = BlockTable.fromRows([...Array(n).keys()].map((i) => t.get(i)), t.currentBlock);
        expect(t.timeOrder()).toEqual(fresh.timeOrder());
        expect(getTimeRange(t)).toEqual(linearSearch.getTimeRange(t));
      }),
      { numRuns: 400 },
    );
  });
});
