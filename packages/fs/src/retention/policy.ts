/**
 * Which blocks hold protected video, and which have expired: pure functions of the block table.
 * A protection [from, to] holds exactly the blocks a reader needs to play that range (getInd:
 * the blocks whose mstime1 lies in it, and the one before holding the key frame that `from` needs).
 * A block expires when its newest lead frame (mstime2) is older than now − max age.
 */
import type { BlockTable } from '../block-table.js';
import { getInd } from '../search.js';
import type { Protection } from './store.js';

/** Default share of the ring protections may hold (valkkafs.json max_protected). */
export const DEFAULT_MAX_PROTECTED = 0.5;

export function protectedBlocks(table: BlockTable, protections: ReadonlyArray<Pick<Protection, 'from' | 'to'>>): Set<number> {
  const held = new Set<number>();
  for (const p of protections) for (const b of getInd(table, [p.from, p.to])) held.add(b);
  return held;
}

/** Used blocks whose newest lead frame is before `cutoff`, oldest first, except `keep` ones. */
export function expiredBlocks(table: BlockTable, cutoff: number, keep: (block: number) => boolean): number[] {
  const out: number[] = [];
  const used = table.usedCount;
  // The index is in mstime1 order and mstime1 <= mstime2: once mstime1 reaches the cutoff, nothing after expires.
  for (let k = 0; k < used && table.keyAt(k) < cutoff; k++) {
    const b = table.rowAt(k);
    if (table.mstime2(b) < cutoff && !keep(b)) out.push(b);
  }
  return out;
}

/** The most blocks protections may hold. */
export const protectionCap = (nBlocks: number, maxProtected: number | undefined): number => Math.floor(nBlocks * (maxProtected ?? DEFAULT_MAX_PROTECTED));

/** The block the writer enters after `block`: the next one in ring order that is not held. */
export function nextBlockAfter(block: number, nBlocks: number, held: ReadonlySet<number> | undefined): number {
  for (let d = 1; d < nBlocks; d++) {
    const b = (block + d) % nBlocks;
    if (!held?.has(b)) return b;
  }
  return (block + 1) % nBlocks; // never: protections hold at most 90 % of the ring
}
