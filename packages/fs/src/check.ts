/**
 * check(): verifies every block header and record of a filesystem, the ring's sequence numbers,
 * the blockfile rows and valkkafs.json's current_block; with `repair`, rebuilds the blockfile and
 * current_block from the dumpfile. The report is plain JSON (for `valkka check`).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { BlockDevice } from '@valkka/blockdev';

import { BlockFile } from './blockfile.js';
import { BlockStats, type Row } from './block-stats.js';
import { openDevice } from './device.js';
import { ValkkaFSError, ValkkaFSLoadError } from './errors.js';
import { decodeBlockHeader, scanBlock, type StreamSummary } from './format.js';
import { lockDirectory } from './lock.js';
import { BLOCKFILE_NAME, type Metadata, fsIdBytes, readMetadata, writeMetadata } from './metadata.js';
import type { ValkkaFS } from './valkkafs.js';
import { rowsInvalidatedAhead } from './writer.js';

export type CheckProblemCode = 'HEADER' | 'RECORD' | 'SUMMARY' | 'SEQUENCE' | 'UNSEALED' | 'ROW' | 'CURRENT_BLOCK' | 'BLOCKFILE' | 'IO';

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
  problems: CheckProblem[];
  repaired: boolean;
  rowsRepaired: number;
}

export interface CheckOptions {
  /** Rebuild blockfile and valkkafs.json from the dumpfile (takes the writer lock). */
  repair?: boolean;
  onProgress?: (blocksDone: number, nBlocks: number) => void;
  /** The device to check instead of the directory's dumpfile or partition (tests). */
  device?: BlockDevice;
}

interface BlockInfo {
  block: number;
  seq: number;
  sealed: boolean;
  stats: BlockStats;
}

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
    device = options.device ?? (typeof target === 'string' ? await openDevice(dirname, meta, true) : target.device);
    if (!device) throw new ValkkaFSLoadError('EMETADATA', `${dirname}: a libValkka (legacy) directory: check is for this format only`);
    return await runCheck(dirname, meta, device, options);
  } finally {
    if (ownDevice) await device?.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
  }
}

async function runCheck(dirname: string, meta: Metadata, device: BlockDevice, options: CheckOptions): Promise<CheckReport> {
  const { blocksize, n_blocks: nBlocks } = meta;
  const fsId = fsIdBytes(meta);
  const problems: CheckProblem[] = [];
  const problem = (code: CheckProblemCode, block: number | null, offset: number | null, message: string) => problems.push({ code, block, offset, message });
  if (blocksize * nBlocks > device.size) throw new ValkkaFSLoadError('EMETADATA', `${dirname}: ${nBlocks} blocks of ${blocksize} bytes do not fit in ${device.name}`);

  const blockfile = await BlockFile.open(join(dirname, BLOCKFILE_NAME), nBlocks, meta.current_block, { write: options.repair ?? false, lenient: true });
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
  };
  try {
    const { size } = await stat(blockfile.path);
    if (size !== nBlocks * 16) problem('BLOCKFILE', null, null, `blockfile is ${size} bytes, expected ${nBlocks * 16}`);
    for (const row of blockfile.invalidRows) problem('BLOCKFILE', row, row * 16, `row ${row} holds values no timestamp can have`);

    // Pass 1: every block, read in large chunks; two reads stay in flight while a chunk is checked.
    const infos: BlockInfo[] = [];
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
          const info = checkBlock(chunk.buf.subarray(i * blocksize, (i + 1) * blocksize), chunk.first + i, { fsId, blocksize, nBlocks, variant: meta.variant }, problem, report);
          if (info) infos.push(info);
        }
      }
      free.push(chunk.whole);
      startReads();
      report.blocksChecked = after;
      options.onProgress?.(after, nBlocks);
    }

    // Pass 2: the ring: consecutive sequence numbers in consecutive blocks, only the newest unsealed.
    infos.sort((a, b) => a.seq - b.seq);
    report.blocksWritten = infos.length;
    const newest = infos.at(-1);
    report.newestBlock = newest?.block ?? null;
    for (let i = 1; i < infos.length; i++) {
      const [a, b] = [infos[i - 1]!, infos[i]!];
      if (b.seq === a.seq) problem('SEQUENCE', b.block, 32, `sequence number ${b.seq} also in block ${a.block}`);
      else if (b.seq !== a.seq + 1 || b.block !== (a.block + 1) % nBlocks) {
        problem('SEQUENCE', b.block, 32, `sequence ${b.seq} in block ${b.block} does not follow sequence ${a.seq} in block ${a.block}`);
      }
    }
    for (const info of infos) {
      if (!info.sealed && info !== newest) problem('UNSEALED', info.block, null, `block ${info.block} (sequence ${info.seq}) has no summary but is not the newest block`);
    }
    if (newest && meta.current_block !== newest.block) {
      problem('CURRENT_BLOCK', null, null, `valkkafs.json current_block is ${meta.current_block}, the newest block is ${newest.block}`);
    }

    // Pass 3: rows, as the writer would have left them.
    // A block without a lead key frame (or lead frames) copies the previous row's column. For the
    // oldest blocks that previous row was overwritten with the ring: there the blockfile's value stands.
    // The writer zeroes rows a few blocks ahead at a time (before it reuses them), counted from the
    // block it enters, which may be one past the newest durable header: such rows may be zero
    // (repair rebuilds them all the same).
    const zeroedAhead = new Set<number>();
    if (newest) for (let d = 1; d <= rowsInvalidatedAhead(nBlocks) + 1 && d < nBlocks; d++) zeroedAhead.add((newest.block + d) % nBlocks);
    const expected: Row[] = Array.from({ length: nBlocks }, () => [0, 0] as Row);
    let previous: Row | undefined;
    for (const info of infos) {
      if (!options.repair && zeroedAhead.has(info.block) && !blockfile.table.isUsed(info.block)) {
        previous = undefined; // the next block's own row stands, as for the oldest block
        continue;
      }
      const known = previous ?? blockfile.row(info.block);
      const row = info.sealed ? info.stats.finalRow(known).row : info.stats.liveRow(known);
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

    if (options.repair) {
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
      if (newest && meta.current_block !== newest.block) {
        await writeMetadata(dirname, { ...meta, current_block: newest.block });
      }
      report.repaired = true;
    }
  } finally {
    await blockfile.close();
  }
  const repairable = new Set<CheckProblemCode>(['ROW', 'CURRENT_BLOCK', 'BLOCKFILE']);
  report.ok = problems.every((p) => report.repaired && repairable.has(p.code));
  return report;
}

function checkBlock(
  buf: Buffer,
  block: number,
  g: { fsId: Uint8Array; blocksize: number; nBlocks: number; variant: Metadata['variant'] },
  problem: (code: CheckProblemCode, block: number | null, offset: number | null, message: string) => void,
  report: CheckReport,
): BlockInfo | undefined {
  const h = decodeBlockHeader(buf, { ...g, block });
  if (typeof h === 'string') {
    // Never written, or left by an earlier filesystem on the same device: not part of this ring.
    if (h !== 'never written' && h !== 'belongs to another filesystem') problem('HEADER', block, 0, `invalid block header: ${h}`);
    return undefined;
  }
  const { trailer, summary, scan } = scanBlock(buf, h.seq, g.blocksize);
  if (trailer && !summary) problem('SUMMARY', block, trailer.at, 'the trailer is valid but the summary record is damaged');
  const sealed = summary !== undefined;
  const stats = new BlockStats(g.variant);
  for (const f of scan.frames) {
    stats.add(f);
    report.payloadBytes += f.payload.length;
  }
  report.frames += scan.frames.length;
  if (sealed && scan.stop !== 'clean' && scan.stop !== 'limit') {
    problem('RECORD', block, scan.end, `record at offset ${scan.end}: ${scan.stop} (block sealed with ${scan.frames.length} valid records before it)`);
  }
  if (summary && !sameSummary(summary, stats.summary())) {
    problem('SUMMARY', block, trailer?.at ?? null, 'the summary does not match the records of the block');
  }
  return { block, seq: h.seq, sealed, stats };
}

function sameSummary(a: StreamSummary[], b: StreamSummary[]): boolean {
  if (a.length !== b.length) return false;
  const byStream = (x: StreamSummary, y: StreamSummary) => x.streamId - y.streamId || x.subsession - y.subsession;
  const sb = [...b].sort(byStream);
  return [...a].sort(byStream).every((x, i) => {
    const y = sb[i]!;
    return (
      x.streamId === y.streamId && x.subsession === y.subsession && x.frames === y.frames && x.keyFrames === y.keyFrames &&
      x.firstTs === y.firstTs && x.lastTs === y.lastTs && x.firstKeyTs === y.firstKeyTs && x.lastKeyTs === y.lastKeyTs
    );
  });
}
