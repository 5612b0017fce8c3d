/**
 * The catalog entry each node announces (key `node.<name>` of the KV bucket `valkka_fleet`).
 * Entries are read from a shared bucket any node can write: validated, and skipped when they do not fit.
 */
import { z } from 'zod';

/** At most this many recorded ranges per camera (joined beyond it): an entry stays well under the KV value limit. */
export const MAX_RANGES = 2000;
const MAX_NAME = 200;

const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const cameraSchema = z.object({
  streamId: z.number().int().min(1).max(0xffffffff),
  name: z.string().max(MAX_NAME),
  codec: z.string().max(32),
  width: z.number().int().min(1).max(65535).optional(),
  height: z.number().int().min(1).max(65535).optional(),
  ranges: z.array(z.tuple([ms, ms])).max(MAX_RANGES),
});

export const filesystemSchema = z.object({
  fsId: z.string().regex(/^[0-9a-f]{32}$/, 'fsId must be 32 lower-case hex digits'),
  name: z.string().max(MAX_NAME),
  variant: z.enum(['single', 'multi']),
  blocksize: z.number().int().min(4096).max(2 ** 26),
  nBlocks: z.number().int().min(2).max(2 ** 24),
  cameras: z.array(cameraSchema).max(1024),
});

export const nodeEntrySchema = z.object({
  node: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'node names are 1-64 letters, digits, _ or -'),
  url: z.url({ protocol: /^https?$/ }),
  heartbeatAt: ms,
  startedAt: ms,
  filesystems: z.array(filesystemSchema).max(256),
});

export type CameraEntry = z.infer<typeof cameraSchema>;
export type FilesystemEntry = z.infer<typeof filesystemSchema>;
export type NodeEntry = z.infer<typeof nodeEntrySchema>;

/** A catalog entry as list() returns it: online while its heartbeat is younger than three intervals. */
export type FleetNode = NodeEntry & { online: boolean };

/** Joins neighbouring ranges until at most `max` remain (the smallest gaps first). */
export function capRanges(ranges: ReadonlyArray<readonly [number, number]>, max = MAX_RANGES): Array<[number, number]> {
  const out = ranges.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  if (out.length <= max) return out;
  // Gaps sorted by size; the (length - max) smallest are closed.
  const gaps = out.slice(1).map((r, i) => ({ i, gap: r[0] - out[i]![1] }));
  gaps.sort((x, y) => x.gap - y.gap);
  const close = new Set(gaps.slice(0, out.length - max).map((g) => g.i));
  const joined: Array<[number, number]> = [out[0]!];
  for (let i = 1; i < out.length; i++) {
    const last = joined[joined.length - 1]!;
    if (close.has(i - 1)) last[1] = Math.max(last[1], out[i]![1]);
    else joined.push(out[i]!);
  }
  return joined;
}
