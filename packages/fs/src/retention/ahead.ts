/**
 * The oldest blocks whose rows the writer zeroed ahead (FORMAT.md §3) are invisible in the table but
 * still hold their bytes until the writer enters them. When a filesystem is opened (or repaired) those
 * that have expired are found from their summaries, so they are wiped like the others.
 */
import type { BlockDevice } from '@valkka/blockdev';

import type { BlockTable } from '../block-table.js';
import { type Geometry, readSummary } from '../reader.js';
import { rowsInvalidatedAhead } from '../writer.js';

export async function expiredAhead(device: BlockDevice, geometry: Geometry, table: BlockTable, newest: number, cutoff: number, keep: (block: number) => boolean): Promise<number[]> {
  const out: number[] = [];
  const n = geometry.nBlocks;
  for (let d = 1, counted = 0; counted <= rowsInvalidatedAhead(n) && d < n; d++) {
    const b = (newest + d) % n;
    if (keep(b)) continue;
    counted++;
    if (table.isUsed(b)) continue;
    const s = await readSummary(device, geometry, b).catch(() => undefined);
    if (s && s.streams.length > 0 && Math.max(...s.streams.map((x) => x.lastTs)) < cutoff) out.push(b);
  }
  return out;
}
