import { availableParallelism } from 'node:os';

/**
 * Cameras one recording group (a LiveThread and the SharedWriterThread it feeds) carries before a second group
 * pays for itself. Every group costs a worker isolate, its compilation and its wake-ups: at 8 cameras two groups
 * took about 45 % more CPU than one (bench/live.mjs), while one group records 64 cameras on a fraction of a core.
 */
export const CAMERAS_PER_GROUP = 32;

/** How many recording groups for `cameras` cameras: one per CAMERAS_PER_GROUP, at most one per core. */
export function recordingGroups(cameras: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, Math.ceil(cameras / CAMERAS_PER_GROUP)));
}
