/**
 * A writer's view of its directory's retention: the protections (polled from protections.json,
 * so a `valkka protect` in another process reaches a running recorder within a poll) and the
 * blocks they hold in the writer's live table.
 */
import type { BlockTable } from '../block-table.js';
import { protectedBlocks } from './policy.js';
import { type Protection, protectionsVersion, readProtections } from './store.js';

const NONE: ReadonlySet<number> = new Set();

export class RetentionKeeper {
  protections: Protection[] = [];
  private version = '';

  constructor(
    readonly dirname: string,
    private readonly table: () => BlockTable,
  ) {}

  /** Re-reads protections.json when it was replaced; true when the list may have changed. */
  async reload(force = false): Promise<boolean> {
    const version = protectionsVersion(this.dirname);
    if (!force && version === this.version) return false;
    this.protections = await readProtections(this.dirname);
    this.version = version;
    return true;
  }

  /** The blocks holding protected video now. */
  held(): ReadonlySet<number> {
    return this.protections.length === 0 ? NONE : protectedBlocks(this.table(), this.protections);
  }
}
