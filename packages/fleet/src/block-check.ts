/**
 * The one check a block passes before it is archived and after it is read back: a valid header of
 * this place and geometry, a valid seal, and every frame record the seal counts present and valid
 * (the scan skips a damaged record, so counting them is what catches one).
 */
import { type BlockContents, type Geometry, parseBlock } from '@valkka/fs';

/** The parsed block, or why it does not check. */
export function checkSealedBlock(bytes: Buffer, index: number, geometry: Geometry): BlockContents | string {
  let c: BlockContents;
  try {
    c = parseBlock(bytes, index, geometry, true);
  } catch (err) {
    return (err as Error).message;
  }
  if (!c.sealed || !c.summary) return `block ${index}: no valid seal`;
  const counted = c.summary.reduce((n, s) => n + s.frames, 0);
  if (counted !== c.frames.length) return `block ${index}: ${c.frames.length} valid frame records, its seal counts ${counted} (a record fails its checksum)`;
  return c;
}
