import type { TimeRange } from './types.js';

export interface WindowOptions {
  aheadMs: number;
  behindMs: number;
  /** Real ms of playback kept loaded at any rate (the window grows with the rate). */
  leadMs: number;
}

/** Stream ms to keep loaded ahead (in the direction of play) at `rate`. */
export function aheadOf(rate: number, o: WindowOptions): number {
  return Math.max(o.aheadMs, Math.abs(rate) * o.leadMs);
}

/** The stretch of stream time to load around `position` when playing at `rate` (backwards when negative). */
export function playWindow(position: number, rate: number, o: WindowOptions): TimeRange {
  const ahead = aheadOf(rate, o);
  return rate < 0 ? [position - ahead, position + o.behindMs] : [position - o.behindMs, position + ahead];
}

/**
 * Whether what is loaded (`covered`) runs short: the position left it, or less than half the ahead span is
 * left in the direction of play. Loading again then keeps playback from reaching the edge of the cache.
 */
export function runsShort(covered: TimeRange | undefined, position: number, rate: number, o: WindowOptions): boolean {
  if (!covered) return true;
  const half = aheadOf(rate, o) / 2;
  if (position < covered[0] || position > covered[1]) return true;
  return rate < 0 ? position - half < covered[0] : position + half > covered[1];
}

/** Merges overlapping or touching ranges (within `gap` ms) into a sorted list. */
export function unionOf(ranges: TimeRange[], gap = 0): TimeRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: TimeRange[] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a - last[1] <= gap) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
