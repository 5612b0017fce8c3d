/**
 * What a resumed writer must remember of each stream: its last codec configuration (the parameter
 * sets of its newest stored key frame), so that it keeps putting them in front of key frames that
 * lack them across a restart. Found by walking back from the block where writing resumes.
 */
import type { BlockDevice } from '@valkka/blockdev';

import { type ParsedFrame, scanRecords } from './format.js';
import { FrameFlags, type Frame } from './frame.js';
import { isVideoCodec } from './codec/nal.js';
import { configPrefix } from './ingest.js';
import { type Geometry, readBlockFromDevice, readSummary } from './reader.js';
import type { StreamIndex } from './stream-index.js';
import type { OpenBlock } from './open-block.js';

/** Streams silent for longer than this before the newest frame are not looked for. */
const LOOKBACK_MS = 60_000;
/** Whole blocks read at most (a stream that never sends its configuration must not make the open slow). */
const MAX_BLOCK_READS = 32;

const streamKey = (f: { streamId: number; subsession: number }): number => f.streamId * 256 + f.subsession;
const CONFIG_KEY = FrameFlags.key | FrameFlags.config;

/**
 * For each H.264/H.265 (stream, subsession) seen from the resume block back, its newest key frame
 * carrying its configuration, cut to the bytes before the picture's data (a copy). The walk reads
 * each older block's summary, and the whole block only when it holds key frames of a stream still
 * missing; it stops once every stream seen is resolved, at a block older than LOOKBACK_MS, after
 * MAX_BLOCK_READS whole blocks, at a damaged block, or at the oldest block of the ring.
 */
export async function lastConfigFrames(device: BlockDevice, geometry: Geometry, index: StreamIndex, resume: OpenBlock): Promise<Frame[]> {
  const found = new Map<number, Frame>();
  const resolved = new Set<number>(); // found, or not a video stream
  const missing = new Set<number>();
  const consider = (frames: readonly ParsedFrame[]) => {
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = frames[i]!;
      const k = streamKey(f);
      if (resolved.has(k)) continue;
      if (!isVideoCodec(f.codec)) {
        resolved.add(k);
        missing.delete(k);
      } else if ((f.flags & CONFIG_KEY) === CONFIG_KEY) {
        found.set(k, { ...f, payload: configPrefix(f).slice() });
        resolved.add(k);
        missing.delete(k);
      } else missing.add(k);
    }
  };
  const newest = scanRecords(resume.buf, resume.seq, resume.filled).frames;
  consider(newest);
  let cutoff = newest.reduce((m, f) => Math.max(m, f.timestamp), 0) - LOOKBACK_MS;
  const { nBlocks } = geometry;
  let blockReads = 0;
  for (let d = 1; d < nBlocks && resume.seq - d >= 1; d++) {
    const block = (resume.block - d + nBlocks) % nBlocks;
    const seq = resume.seq - d;
    const known = index.get(block);
    const summary = known?.seq === seq ? known : await readSummary(device, geometry, block).catch(() => undefined);
    if (!summary || summary.seq !== seq) break; // the oldest block of the ring
    const last = summary.streams.reduce((m, s) => Math.max(m, s.lastTs), -1);
    if (newest.length === 0) cutoff = last - LOOKBACK_MS;
    if (last < cutoff) break;
    for (const s of summary.streams) if (!resolved.has(streamKey(s))) missing.add(streamKey(s));
    if (summary.streams.some((s) => s.keyFrames > 0 && missing.has(streamKey(s)))) {
      if (blockReads++ === MAX_BLOCK_READS) break;
      const contents = await readBlockFromDevice(device, geometry, block, seq).catch(() => undefined);
      if (!contents) break; // damaged: what is older is not needed to resume
      consider(contents.frames);
    }
    if (missing.size === 0) break;
  }
  return [...found.values()];
}
