/**
 * Read-only access to a directory written by libValkka (valkkafs-original.md §2): valkkafs.json,
 * blockfile (N × 2 int64 LE) and dumpfile (blocks of frame records). Every value read from disk
 * is checked before it sizes anything: a buffer is at most one block.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { GRAIN } from '../format.js';
import type { Frame } from '../frame.js';
import { BLOCKFILE_ROW_BYTES, BlockTable } from '../block-table.js';
import { recordsToFrames } from './access-units.js';
import { LegacyError } from './errors.js';
import { parseBlockRecords, type LegacyRecord } from './records.js';

/** The keys of the original valkkafs.json, in their order. */
export interface LegacyJson {
  dumpfile: string | null;
  partition_uuid: string | null;
  blockfile: string;
  blocksize: number;
  n_blocks: number;
  current_block: number;
  jsonfile: string;
}

export interface OpenLegacyOptions {
  /** Read payload from here instead (e.g. the partition's device node in partition mode). */
  dumpfile?: string;
  /** Largest blocksize accepted (default 1 GiB): a block is read into memory whole. */
  maxBlocksize?: number;
  /** Largest n_blocks accepted (default 2^24): the block table is held in memory. */
  maxBlocks?: number;
}

export interface LegacyBlock {
  block: number;
  records: LegacyRecord[];
  /** Set when the block holds a damaged record: parsing stopped there. */
  problem?: LegacyError;
}

export interface LegacyBlockFrames {
  block: number;
  frames: Frame[];
  unknownRecords: number;
  problem?: LegacyError;
}

export interface LegacyDirectory {
  readonly dirname: string;
  readonly json: LegacyJson;
  readonly blocksize: number;
  readonly nBlocks: number;
  /** The block the original writer was writing (its row is empty). */
  readonly currentBlock: number;
  readonly dumpfile: string;
  readonly table: BlockTable;
  /** Blockfile rows with impossible values, read as unused. */
  readonly invalidRows: number[];
  /**
   * Raw records of block n. The current block (whose row is empty) may hold stale records of an
   * earlier wrap after a crash of the original writer: search never selects it.
   */
  readBlock(n: number): Promise<LegacyBlock>;
  /** Frames of block n: NAL records merged into access units, flags from the codec. */
  readAccessUnits(n: number): Promise<LegacyBlockFrames>;
  close(): Promise<void>;
}

const MAX_JSON_BYTES = 1 << 20;

/** Opens a libValkka ValkkaSingleFS or ValkkaMultiFS directory for reading. */
export async function openLegacyDirectory(dirname: string, options: OpenLegacyOptions = {}): Promise<LegacyDirectory> {
  const jsonPath = join(dirname, 'valkkafs.json');
  const json = parseLegacyJson(await readSmallFile(jsonPath, MAX_JSON_BYTES), jsonPath);
  const maxBlocksize = options.maxBlocksize ?? 1 << 30;
  const maxBlocks = options.maxBlocks ?? 1 << 24;
  const { blocksize, n_blocks: nBlocks } = json;
  const geometry = (what: string): LegacyError => new LegacyError('EGEOMETRY', `${jsonPath}: ${what}`);
  if (blocksize < GRAIN || blocksize % GRAIN !== 0) throw geometry(`blocksize ${blocksize} is not a multiple of ${GRAIN}`);
  if (blocksize > maxBlocksize) throw geometry(`blocksize ${blocksize} is larger than the limit ${maxBlocksize}`);
  if (nBlocks < 1 || nBlocks > maxBlocks) throw geometry(`n_blocks ${nBlocks} is outside 1..${maxBlocks}`);
  // The original accepted current_block == n_blocks (its off-by-one); the writer wraps there to 0.
  if (json.current_block > nBlocks) throw geometry(`current_block ${json.current_block} is past n_blocks ${nBlocks}`);
  const currentBlock = json.current_block % nBlocks;

  const dumpfile = options.dumpfile ?? (json.partition_uuid === null ? join(dirname, 'dumpfile') : json.dumpfile);
  if (!dumpfile) throw new LegacyError('ENOENT', `${jsonPath}: partition mode without a device node in "dumpfile": pass options.dumpfile`);
  const blockfilePath = join(dirname, 'blockfile');
  const blockfileBytes = await readSmallFile(blockfilePath, nBlocks * BLOCKFILE_ROW_BYTES, true);
  const { table, invalidRows } = BlockTable.fromBlockfile(blockfileBytes, nBlocks, currentBlock);

  let handle: FileHandle;
  try {
    handle = await open(dumpfile, 'r');
  } catch (e) {
    throw fileError(e, dumpfile);
  }
  const info = await handle.stat();
  // A regular file was written whole at format time; a device's size is not checked here.
  if (info.isFile() && info.size < blocksize * nBlocks) {
    await handle.close();
    throw geometry(`dumpfile ${dumpfile} is ${info.size} bytes, ${nBlocks} blocks of ${blocksize} need ${blocksize * nBlocks}`);
  }

  const readRaw = async (n: number): Promise<Uint8Array> => {
    if (!Number.isInteger(n) || n < 0 || n >= nBlocks) throw new LegacyError('EBLOCK', `${dirname}: block ${n} is outside 0..${nBlocks - 1}`);
    const buf = new Uint8Array(blocksize);
    let got = 0;
    try {
      while (got < blocksize) {
        const { bytesRead } = await handle.read(buf, got, blocksize - got, n * blocksize + got);
        if (bytesRead === 0) break; // a short device: the rest reads as zeros, i.e. as the end of the block
        got += bytesRead;
      }
    } catch (e) {
      throw new LegacyError('EIO', `${dumpfile}: reading block ${n} failed: ${(e as Error).message}`, { cause: e });
    }
    return buf;
  };

  const readBlock = async (n: number): Promise<LegacyBlock> => ({ block: n, ...parseBlockRecords(await readRaw(n), n) });

  return {
    dirname,
    json,
    blocksize,
    nBlocks,
    currentBlock,
    dumpfile,
    table,
    invalidRows,
    readBlock,
    async readAccessUnits(n: number): Promise<LegacyBlockFrames> {
      const { records, problem } = await readBlock(n);
      return { block: n, ...recordsToFrames(records), ...(problem ? { problem } : {}) };
    },
    close: () => handle.close(),
  };
}

/** Checks the original's keys and types; extra keys are allowed (newer writers). */
export function parseLegacyJson(text: Uint8Array, where: string): LegacyJson {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw new LegacyError('EJSON', `${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LegacyError('EJSON', `${where}: not a JSON object`);
  const o = value as Record<string, unknown>;
  const int = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new LegacyError('EJSON', `${where}: "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const str = (key: string, nullable: boolean): string | null => {
    const v = o[key];
    if (typeof v === 'string' || (nullable && v === null)) return v;
    throw new LegacyError('EJSON', `${where}: "${key}" must be a string${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`);
  };
  return {
    dumpfile: str('dumpfile', true),
    partition_uuid: str('partition_uuid', true),
    blockfile: str('blockfile', false) as string,
    blocksize: int('blocksize'),
    n_blocks: int('n_blocks'),
    current_block: int('current_block'),
    jsonfile: str('jsonfile', false) as string,
  };
}

/** Reads at most `limit` bytes; a longer file is an error unless `truncate` (the blockfile may be longer). */
async function readSmallFile(path: string, limit: number, truncate = false): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw fileError(e, path);
  }
  if (size > limit && !truncate) throw new LegacyError('EJSON', `${path}: ${size} bytes, more than the ${limit} a valkkafs.json can be`);
  try {
    if (size <= limit) return new Uint8Array(await readFile(path));
    const handle = await open(path, 'r');
    try {
      const buf = new Uint8Array(limit);
      await handle.read(buf, 0, limit, 0);
      return buf;
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw fileError(e, path);
  }
}

function fileError(e: unknown, path: string): LegacyError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new LegacyError('ENOENT', `${path}: no such file`, { cause: e });
  return new LegacyError('EIO', `${path}: ${(e as Error).message}`, { cause: e });
}
