/**
 * protections.json: the protected time ranges of a directory (evidence lock). Written by whoever
 * protects or releases (the CLI, an HTTP handler); read by the writer, which polls it. Replaced
 * atomically like valkkafs.json, so a crash leaves the old list or the new one, never a mix.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import { ValkkaFSLoadError } from '../errors.js';
import { readJsonFile } from '../files.js';
import { replaceFile } from '../metadata.js';

export const PROTECTIONS_NAME = 'protections.json';
/** A hostile file is refused before it is parsed. */
const MAX_BYTES = 1024 * 1024;
/** At most this many protections per directory (each one is a search of the block table). */
export const MAX_PROTECTIONS = 1000;
export const MAX_NOTE = 500;

const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const protectionSchema = z
  .object({
    id: z.number().int().min(1).max(2 ** 31 - 1),
    from: ms,
    to: ms,
    note: z.string().max(MAX_NOTE),
    /** When it was made, ms since the epoch. */
    created: ms,
  })
  .refine((p) => p.from <= p.to, { message: 'from must not be after to' });

const fileSchema = z.object({
  version: z.literal(1),
  protections: z.array(protectionSchema).max(MAX_PROTECTIONS),
});

export type Protection = z.infer<typeof protectionSchema>;

/** The protections of `dirname`; none when the file does not exist. */
export async function readProtections(dirname: string): Promise<Protection[]> {
  const path = join(dirname, PROTECTIONS_NAME);
  let file: z.infer<typeof fileSchema>;
  try {
    file = await readJsonFile(path, PROTECTIONS_NAME, MAX_BYTES, () => fileSchema);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOTFOUND') return [];
    throw err;
  }
  const ids = new Set<number>();
  for (const p of file.protections) {
    if (ids.has(p.id)) throw new ValkkaFSLoadError('EMETADATA', `${path}: protection id ${p.id} appears twice`);
    ids.add(p.id);
  }
  return file.protections;
}

export async function writeProtections(dirname: string, protections: readonly Protection[]): Promise<void> {
  const body = protections.map((p) => `  ${JSON.stringify(p)}`).join(',\n');
  await replaceFile(dirname, PROTECTIONS_NAME, `{"version": 1, "protections": [\n${body}\n]}\n`);
}

/**
 * A cheap token that changes whenever the file is replaced (every writer polls it each second). A plain
 * stat of a local file takes microseconds: synchronous, it costs no trip through the libuv pool and no
 * wake-up, and a missing file (the usual case) throws no error object.
 */
export function protectionsVersion(dirname: string): string {
  try {
    const st = statSync(join(dirname, PROTECTIONS_NAME), { bigint: true, throwIfNoEntry: false });
    return st ? `${st.ino}:${st.mtimeNs}:${st.size}` : 'none';
  } catch {
    return 'none';
  }
}
