/**
 * check(): verifies every block header and record of a filesystem, the seals against the records,
 * the ring's sequence numbers, the blockfile rows and valkkafs.json's current_block. With `repair`
 * (fsck -y) it mends the device too: damaged records zeroed, seals rewritten from the records,
 * headers rewritten when their records still validate, stale blocks retired; then rows and json are
 * rebuilt and everything is checked again. The report is plain JSON (for `valkka check`).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { BlockDevice } from '@valkka/blockdev';

import { BlockFile } from './blockfile.js';
import type { BlockStats, Row } from './block-stats.js';
import { openDevice } from './device.js';
import { ValkkaFSError, ValkkaFSLoadError } from './errors.js';
import { BLOCK_HEADER_SIZE, FORMAT_VERSION, alignDown, decodeBlockHeader, encodeBlockHeader, scanBlock } from './format.js';
import { checkIdentity } from './identity.js';
import { lockDirectory } from './lock.js';
import { BLOCKFILE_NAME, type Metadata, fsIdBytes, readMetadata, writeMetadata } from './metadata.js';
import type { ValkkaFS } from './valkkafs.js';
import { inspectBlock, mendBlock } from './seal.js';
import { rowsInvalidatedAhead } from './writer.js';
import { protectedBlocks } from './retention/policy.js';
import { readProtections } from './retention/store.js';
import { expireOnDevice } from './retention/expire.js';

export type CheckProblemCode = 'IDENTITY' | 'HEADER' | 'RECORD' | 'SUMMARY' | 'SEQUENCE' | 'UNSEALED' | 'ROW' | 'CURRENT_BLOCK' | 'BLOCKFILE' | 'IO';

export interface CheckProblem {
  code: CheckProblemCode;
  /** Block index, or null for problems of the directory's files. */
  block: number | null;
  /** Byte offset inside the block (or the blockfile), or null. */
  offset: number | null;
  message: string;
}

export interface CheckReport {
  dirname: string;
  ok: boolean;
  blocksize: number;
  nBlocks: number;
  blocksChecked: number;
  /** Blocks holding a valid header of this filesystem. */
  blocksWritten: number;
  frames: number;
  payloadBytes: number;
  /** The block with the highest sequence number (where writing resumes), or null when none. */
  newestBlock: number | null;
  currentBlockInJson: number;
  /** What the check found (with --repair: before repairing). */
  problems: CheckProblem[];
  /** Repair ran (ok then says whether the check after it was clean). */
  repaired: boolean;
  rowsRepaired: number;
  /** What repair changed, block by block. */
  repairs: RepairAction[];
  /** What repair dropped: damaged records and retired blocks, with the time ranges they covered. */
  dropped: DroppedData[];
  /** Problems the check after repairing still found (without --repair: the same as problems). ok = none. */
  remaining: CheckProblem[];
}

export interface RepairAction {
  block: number | null;
  action: 'header rewritten' | 'resealed' | 'truncated' | 'retired' | 'rows rebuilt' | 'json rewritten' | 'expired';
  message: string;
}

export interface DroppedData {
  block: number;
  seq: number | null;
  /** Byte ranges [offset, end) of the block that were zeroed (a retired block: the whole block). */
  ranges: Array<[number, number]>;
  /** Frames lost: from the block's old summary when it was intact, the records of a retired block; null when unknown. */
  frames: number | null;
  /** Per range, the timestamps (ms) of the valid frames around it (a retired block: its first and last); null where none. */
  timeRanges: Array<[number | null, number | null]>;
  reason: string;
}

export interface CheckOptions {
  /** fsck -y: mend the device, rebuild blockfile and valkkafs.json from it, check again (takes the writer lock). */
  repair?: boolean;
  onProgress?: (blocksDone: number, nBlocks: number) => void;
  /** The device to check instead of the directory's dumpfile or partition (tests). */
  device?: BlockDevice;
  /** The clock of the maximum age (repair wipes expired blocks); default Date.now. */
  now?: () => number;
}

interface BlockInfo {
  block: number;
  seq: number;
  /** The block carries a summary and trailer (checked or not). */
  hasSeal: boolean;
  /** ... and it matches the records. */
  sealOk: boolean;
  stats: BlockStats;
  /** Damaged records, junk after them or a seal that does not match: repair rewrites the block. */
  mend: boolean;
  /** The header was damaged but the records validate under an inferred sequence number. */
  rewriteHeader: boolean;
}

/** check: read only; device: mend blocks; rows: rebuild blockfile and json from the blocks. */
type Mode = 'check' | 'device' | 'rows';

/** Reads this many bytes per device read (whole blocks). */
const CHUNK_BYTES = 8 * 1024 * 1024;

export async function check(target: string | ValkkaFS, options: CheckOptions = {}): Promise<CheckReport> {
  const dirname = typeof target === 'string' ? target : target.dirname;
  if (typeof target !== 'string' && options.repair) {
    throw new ValkkaFSError('EARGUMENT', `${dirname}: repair needs the directory (close the filesystem first), not an open handle`);
  }
  const loaded = await readMetadata(dirname);
  if (loaded.kind === 'legacy') throw new ValkkaFSLoadError('EMETADATA', `${dirname}: a libValkka (legacy) directory: check is for this format only`);
  const meta = loaded.meta;
  const lock = options.repair ? await lockDirectory(dirname, join(dirname, BLOCKFILE_NAME)) : undefined;
  const ownDevice = options.device === undefined && typeof target === 'string';
  let device: BlockDevice | undefined;
  try {
    device = options.device ?? (typeof target === 'string' ? await openDevice(dirname, meta, !options.repair) : target.device);
    if (!device) throw new ValkkaFSLoadError('EMETADATA', `${dirname}: a libValkka (legacy) directory: check is for this format only`);
    const identity = await checkIdentity(dirname, meta, device, { repair: options.repair ?? false, exactSize: ownDevice && !meta.partition_uuid });
    const report = await (options.repair ? repair(dirname, identity.meta, device, options) : runCheck(dirname, identity.meta, device, 'check', options.onProgress));
    if (identity.restored) report.problems.unshift(identity.restored);
    if (options.repair && report.ok) await expireAfterRepair(dirname, device, report, options.now ?? Date.now);
    return report;
  } finally {
    if (ownDevice) await device?.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
  }
}

/** Repair also wipes the blocks whose video is older than the maximum age, then checks again. */
async function expireAfterRepair(dirname: string, device: BlockDevice, report: CheckReport, now: () => number): Promise<void> {
  const meta = (await readMetadata(dirname)).meta as Metadata;
  const gone = await expireOnDevice(dirname, meta, device, now());
  if (gone.length === 0) return;
  report.repairs.push({ block: null, action: 'expired', message: `${gone.length} block(s) older than the maximum age wiped: ${gone.join(', ')}` });
  const verified = await runCheck(dirname, meta, device, 'check');
  report.remaining = verified.problems;
  report.ok = verified.ok;
}

/**
 * fsck -y: find, mend the blocks, rebuild rows and json from the mended blocks, then check again;
 * ok only when that last check finds nothing.
 */
async function repair(dirname: string, meta: Metadata, device: BlockDevice, options: CheckOptions): Promise<CheckReport> {
  const found = await runCheck(dirname, meta, device, 'device', options.onProgress);
  found.repaired = true;
  if (found.problems.length === 0 && found.repairs.length === 0) return found;
  const rows = await runCheck(dirname, meta, device, 'rows');
  const after = (await readMetadata(dirname)).meta as Metadata;
  const verified = await runCheck(dirname, after, device, 'check');
  return { ...found, rowsRepaired: rows.rowsRepaired, repairs: [...found.repairs, ...rows.repairs], remaining: verified.problems, ok: verified.ok };
}

async function runCheck(dirname: string, meta: Metadata, device: BlockDevice, mode: Mode, onProgress?: CheckOptions['onProgress']): Promise<CheckReport> {
  const { blocksize, n_blocks: nBlocks } = meta;
  const g: Geometry = { fsId: fsIdBytes(meta), blocksize, nBlocks, variant: meta.variant };
  const problems: CheckProblem[] = [];
  const problem = (code: CheckProblemCode, block: number | null, offset: number | null, message: string) => problems.push({ code, block, offset, message });
  if (blocksize * nBlocks > device.size) throw new ValkkaFSLoadError('EMETADATA', `${dirname}: ${nBlocks} blocks of ${blocksize} bytes do not fit in ${device.name}`);

  const blockfile = await BlockFile.open(join(dirname, BLOCKFILE_NAME), nBlocks, meta.current_block, { write: mode === 'rows', lenient: true });
  const report: CheckReport = {
    dirname,
    ok: false,
    blocksize,
    nBlocks,
    blocksChecked: 0,
    blocksWritten: 0,
    frames: 0,
    payloadBytes: 0,
    newestBlock: null,
    currentBlockInJson: meta.current_block,
    problems,
    repaired: false,
    rowsRepaired: 0,
    repairs: [],
    dropped: [],
    remaining: problems,
  };
  try {
    const { size } = await stat(blockfile.path);
    if (size !== nBlocks * 16) problem('BLOCKFILE', null, null, `blockfile is ${size} bytes, expected ${nBlocks * 16}`);
    for (const row of blockfile.invalidRows) problem('BLOCKFILE', row, row * 16, `row ${row} holds values no timestamp can have`);

    // Pass 1: every block, read in large chunks; two reads stay in flight while a chunk is checked.
    const infos: BlockInfo[] = [];
    const damagedHeaders: Array<{ block: number; reason: string; headerSeq: number | undefined }> = [];
    const foreign: number[] = [];
    const chunkBlocks = Math.min(nBlocks, Math.max(1, Math.floor(CHUNK_BYTES / blocksize)));
    const free = Array.from({ length: Math.min(3, Math.ceil(nBlocks / chunkBlocks)) }, () => device.allocBuffer(chunkBlocks * blocksize));
    const readChunk = async (first: number, whole: Buffer) => {
      const count = Math.min(chunkBlocks, nBlocks - first);
      const buf = whole.subarray(0, count * blocksize);
      try {
        await device.read(first * blocksize, buf);
        return { first, count, buf, whole, error: undefined };
      } catch (err) {
        return { first, count, buf, whole, error: err as Error };
      }
    };
    const inFlight: Array<ReturnType<typeof readChunk>> = [];
    let nextFirst = 0;
    const startReads = () => {
      while (free.length > 0 && nextFirst < nBlocks) {
        inFlight.push(readChunk(nextFirst, free.pop()!));
        nextFirst += chunkBlocks;
      }
    };
    startReads();
    for (let pending = inFlight.shift(); pending; pending = inFlight.shift()) {
      const chunk = await pending;
      const after = chunk.first + chunk.count;
      if (chunk.error) {
        for (let b = chunk.first; b < after; b++) problem('IO', b, 0, `cannot read block: ${chunk.error.message}`);
      } else {
        for (let i = 0; i < chunk.count; i++) {
          const block = chunk.first + i;
          const buf = chunk.buf.subarray(i * blocksize, (i + 1) * blocksize);
          const h = decodeBlockHeader(buf, { ...g, block });
          if (typeof h !== 'string') infos.push(checkBlock(buf, block, h.seq, g, problem, report));
          else if (h === 'belongs to another filesystem') foreign.push(block);
          else if (h !== 'never written') damagedHeaders.push({ block, reason: h, headerSeq: headerSeqField(buf) });
        }
      }
      free.push(chunk.whole);
      startReads();
      report.blocksChecked = after;
      onProgress?.(after, nBlocks);
    }

    // A damaged header hides records that may still be intact: they validate only under the block's
    // sequence number, which the header's own field or its neighbours tell.
    const retire: Array<{ block: number; seq: number | null; why: string }> = [];
    const seqAt = new Map(infos.map((i) => [i.block, i.seq]));
    for (const d of damagedHeaders) {
      const candidates = [d.headerSeq, (seqAt.get((d.block - 1 + nBlocks) % nBlocks) ?? 0) + 1, (seqAt.get((d.block + 1) % nBlocks) ?? 0) - 1];
      const buf = device.allocBuffer(blocksize);
      await device.read(d.block * blocksize, buf);
      const seq = candidates.find((s) => s !== undefined && s >= 1 && Number.isSafeInteger(s) && holdsRecords(buf, s, g));
      if (seq === undefined) {
        problem('HEADER', d.block, 0, `invalid block header: ${d.reason}; no record validates under a sequence number its neighbours suggest (repair retires the block)`);
        retire.push({ block: d.block, seq: null, why: `header damaged (${d.reason}), no record recoverable` });
        continue;
      }
      problem('HEADER', d.block, 0, `invalid block header: ${d.reason}; its records validate under sequence number ${seq} (repair rewrites the header)`);
      const info = checkBlock(buf, d.block, seq, g, () => undefined, report);
      info.rewriteHeader = true;
      infos.push(info);
    }

    // Pass 2: the ring. Every sequence number is used once; walking back from the newest block, a
    // block repeating one already met is stale. A block older than its neighbours is not: the writer
    // skipped it (protected, or released and not reached yet; FORMAT.md §6.3), and gaps follow blocks
    // where recovery restarted after damage. The ring in write order is the blocks by sequence number.
    infos.sort((a, b) => a.seq - b.seq);
    const newest = infos.at(-1);
    report.newestBlock = newest?.block ?? null;
    const byBlock = new Map(infos.map((i) => [i.block, i]));
    const ring: BlockInfo[] = [];
    if (newest) {
      const seen = new Map<number, BlockInfo>();
      for (let d = 0; d < nBlocks; d++) {
        const info = byBlock.get((newest.block - d + nBlocks) % nBlocks);
        if (!info) continue;
        const first = seen.get(info.seq);
        if (first === undefined) {
          seen.set(info.seq, info);
          ring.push(info);
        } else {
          problem('SEQUENCE', info.block, 32, `block ${info.block} (sequence ${info.seq}) is stale: block ${first.block} nearer the newest carries the same sequence number (repair retires it)`);
          retire.push({ block: info.block, seq: info.seq, why: `stale: sequence ${info.seq} out of ring order` });
        }
      }
      ring.sort((a, b) => a.seq - b.seq);
    }
    report.blocksWritten = ring.length;
    for (const info of ring) {
      if (info.hasSeal || info === newest) continue;
      problem('UNSEALED', info.block, null, `block ${info.block} (sequence ${info.seq}) has no summary but is not the newest block (repair seals it)`);
      info.mend = true;
    }
    // Blocks of another filesystem on the same device are left alone unless this one owns most of it.
    const retireForeign = foreign.length > 0 && ring.length > foreign.length;
    if (newest && meta.current_block !== newest.block) {
      problem('CURRENT_BLOCK', null, null, `valkkafs.json current_block is ${meta.current_block}, the newest block is ${newest.block}`);
    }

    // Pass 3: rows, as the writer would have left them.
    // A block without a lead key frame (or lead frames) copies the previous row's column. For the
    // oldest blocks that previous row was overwritten with the ring: there the blockfile's value stands.
    // The writer zeroes rows a few blocks ahead at a time (before it reuses them), counted from the
    // block it enters, which may be one past the newest durable header: such rows may be zero
    // (repair rebuilds them all the same).
    // Protected blocks the writer skips keep their rows: the zeroed rows are the next ones without.
    const held = protectedBlocks(blockfile.table, await readProtections(dirname).catch(() => []));
    const zeroedAhead = new Set<number>();
    for (let d = 1, counted = 0; newest && counted <= rowsInvalidatedAhead(nBlocks) && d < nBlocks; d++) {
      const b = (newest.block + d) % nBlocks;
      if (held.has(b)) continue;
      zeroedAhead.add(b);
      counted++;
    }
    const expected: Row[] = Array.from({ length: nBlocks }, () => [0, 0] as Row);
    let previous: Row | undefined;
    let previousSeq = -1;
    for (const info of ring) {
      // A row copies columns of the block written just before (sequence − 1), when that one is still there.
      if (info.seq !== previousSeq + 1) previous = undefined;
      previousSeq = info.seq;
      // Zeroed means [0, 0]: a row such as [0, t] (a block without a lead key frame after none) is the block's own.
      const [r1, r2] = blockfile.row(info.block);
      if (mode !== 'rows' && zeroedAhead.has(info.block) && r1 === 0 && r2 === 0) {
        previous = undefined; // the next block's own row stands, as for the oldest block
        continue;
      }
      const known = previous ?? blockfile.row(info.block);
      // The newest block is open unless its seal is sound (recovery reopens it); any other is sealed (repair seals it).
      const open = info === newest ? !info.sealOk : !info.hasSeal;
      const row = open ? info.stats.liveRow(known) : info.stats.finalRow(known).row;
      expected[info.block] = row;
      previous = row;
    }
    for (let b = 0; b < nBlocks; b++) {
      const have = blockfile.row(b);
      const want = expected[b]!;
      if (have[0] !== want[0] || have[1] !== want[1]) {
        problem('ROW', b, b * 16, `blockfile row ${b} is [${have.join(', ')}], the block says [${want.join(', ')}]`);
      }
    }

    if (mode === 'device') {
      for (const info of ring) if (info.mend || info.rewriteHeader) await mendOnDevice(device, info, info === newest, g, report);
      for (const r of retire) await retireBlock(device, r.block, r.seq, r.why, g, report);
      if (retireForeign) for (const b of foreign) await retireBlock(device, b, null, 'belongs to another filesystem', g, report);
      await device.flush();
    }
    if (mode === 'rows') {
      for (let b = 0; b < nBlocks; b++) {
        const have = blockfile.row(b);
        const want = expected[b]!;
        if (have[0] !== want[0] || have[1] !== want[1]) {
          blockfile.table.set(b, want[0], want[1]);
          report.rowsRepaired++;
        }
      }
      await blockfile.writeAll();
      await blockfile.sync();
      if (report.rowsRepaired > 0) report.repairs.push({ block: null, action: 'rows rebuilt', message: `${report.rowsRepaired} blockfile row(s) rebuilt from the blocks` });
      if (newest && meta.current_block !== newest.block) {
        const { next_block: _hint, ...rest } = meta; // a skip hint is about the old current_block
        await writeMetadata(dirname, { ...rest, current_block: newest.block });
        report.repairs.push({ block: newest.block, action: 'json rewritten', message: `valkkafs.json current_block ${meta.current_block} -> ${newest.block}` });
      }
    }
  } finally {
    await blockfile.close();
  }
  report.ok = problems.length === 0;
  return report;
}

type Geometry = { fsId: Uint8Array; blocksize: number; nBlocks: number; variant: Metadata['variant'] };
type ProblemSink = (code: CheckProblemCode, block: number | null, offset: number | null, message: string) => void;

/** The records and seal of a block with a valid header (or one whose sequence number was inferred). */
function checkBlock(buf: Buffer, block: number, seq: number, g: Geometry, problem: ProblemSink, report: CheckReport): BlockInfo {
  const v = inspectBlock(buf, seq, g.blocksize, g.variant);
  const { scan, summary } = v;
  for (const f of scan.frames) report.payloadBytes += f.payload.length;
  report.frames += scan.frames.length;
  for (const gap of v.damage) {
    problem('RECORD', block, gap.offset, `damaged bytes at offsets ${gap.offset}..${gap.end} (${gap.reason}) between valid records (repair zeroes them)`);
  }
  if (v.junkTail) problem('RECORD', block, scan.end, `bytes after the last valid record (offset ${scan.end}) up to the summary are not zero (repair zeroes them)`);
  if (v.trailerAt !== undefined && !summary) problem('SUMMARY', block, v.trailerAt, 'the trailer is valid but the summary record is damaged (repair reseals the block)');
  if (summary && !v.sealOk && v.damage.length === 0 && !v.junkTail) {
    problem('SUMMARY', block, v.trailerAt ?? null, 'the summary does not match the records of the block (repair reseals the block)');
  }
  const mend = v.damage.length > 0 || v.junkTail || (v.trailerAt !== undefined && !v.sealOk);
  return { block, seq, hasSeal: summary !== undefined, sealOk: v.sealOk, stats: v.stats, mend, rewriteHeader: false };
}

/** The sequence number field of a damaged header, if it holds a plausible one. */
function headerSeqField(buf: Buffer): number | undefined {
  const seq = Number(buf.readBigUInt64LE(32));
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined;
}

/** Whether the block's records (or its seal) validate under sequence number `seq`. */
function holdsRecords(buf: Buffer, seq: number, g: Geometry): boolean {
  const v = inspectBlock(buf, seq, g.blocksize, g.variant);
  return v.scan.frames.length > 0 || v.summary !== undefined;
}

/**
 * Rewrites a block so that it holds exactly its valid records: header rewritten when it was damaged,
 * damaged bytes and the tail after the last record zeroed, and a seal computed from the records
 * (the newest block stays open unless its seal was sound). Records what was dropped.
 */
async function mendOnDevice(device: BlockDevice, info: BlockInfo, isNewest: boolean, g: Geometry, report: CheckReport): Promise<void> {
  const { blocksize } = g;
  const buf = device.allocBuffer(blocksize);
  await device.read(info.block * blocksize, buf);
  if (info.rewriteHeader) encodeBlockHeader(buf, { version: FORMAT_VERSION, block: info.block, fsId: g.fsId, seq: info.seq, blocksize, nBlocks: g.nBlocks });
  const v = inspectBlock(buf, info.seq, blocksize, g.variant);
  const seal = !isNewest || v.sealOk;
  const ranges: Array<[number, number]> = v.damage.map((d) => [d.offset, d.end]);
  if (v.junkTail && v.trailerAt !== undefined) ranges.push([v.scan.end, v.trailerAt]);
  const first = info.rewriteHeader ? 0 : mendBlock(buf, v, blocksize, seal);
  if (info.rewriteHeader) mendBlock(buf, v, blocksize, seal);
  const from = alignDown(first, device.alignment);
  await device.write(info.block * blocksize + from, buf.subarray(from, blocksize));
  const frames = v.scan.frames;
  const tsBefore = (off: number) => frames.filter((f) => f.offset < off).at(-1)?.timestamp ?? null;
  const tsAfter = (off: number) => frames.find((f) => f.offset >= off)?.timestamp ?? null;
  const lost = v.summary ? v.summary.reduce((n, s) => n + s.frames, 0) - frames.length : null;
  if (ranges.length > 0 || (lost !== null && lost > 0)) {
    report.dropped.push({
      block: info.block,
      seq: info.seq,
      ranges,
      frames: lost,
      timeRanges: ranges.map(([a, b]) => [tsBefore(a), tsAfter(b)]),
      reason: 'damaged records',
    });
  }
  const what = [info.rewriteHeader ? `header rewritten (sequence ${info.seq})` : '', ranges.length ? `${ranges.length} damaged range(s) zeroed` : '', seal ? 'resealed from its records' : 'left open after its last valid record'];
  report.repairs.push({ block: info.block, action: info.rewriteHeader ? 'header rewritten' : seal ? 'resealed' : 'truncated', message: `block ${info.block}: ${what.filter(Boolean).join(', ')}` });
}

/** Makes a block "never written" (its header zeroed): it is not part of the ring. Records what it held. */
async function retireBlock(device: BlockDevice, block: number, seq: number | null, why: string, g: Geometry, report: CheckReport): Promise<void> {
  const buf = device.allocBuffer(g.blocksize);
  await device.read(block * g.blocksize, buf);
  const frames = seq === null ? [] : scanBlock(buf, seq, g.blocksize).scan.frames;
  buf.fill(0, 0, BLOCK_HEADER_SIZE);
  await device.write(block * g.blocksize, buf.subarray(0, device.alignment));
  const ts = frames.map((f) => f.timestamp);
  report.dropped.push({
    block,
    seq,
    ranges: [[0, g.blocksize]],
    frames: seq === null ? null : frames.length,
    timeRanges: ts.length ? [[Math.min(...ts), Math.max(...ts)]] : [],
    reason: why,
  });
  report.repairs.push({ block, action: 'retired', message: `block ${block}: retired (${why})` });
}
