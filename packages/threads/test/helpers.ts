import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Codec, loadValkkaFS, MediaType, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import type { FrameQueue, QueueEntry, SlotFrame } from '../src/index.js';

/** A fresh filesystem directory (made and closed again, so that a writer thread can open it). */
export async function makeFs(options: { blocksize: number; nBlocks: number; multi?: boolean }): Promise<{ dirname: string; remove(): Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'valkka-threads-'));
  const dirname = join(base, 'fs');
  const cls = options.multi ? ValkkaMultiFS : ValkkaSingleFS;
  const fs = await cls.newFromDirectory({ dirname, blocksize: options.blocksize, nBlocks: options.nBlocks });
  await fs.close();
  return { dirname, remove: () => rm(base, { recursive: true, force: true }) };
}

/** Every frame stored in the filesystem (Single or Multi), block by block, sorted by timestamp. */
export async function readAll(dirname: string): Promise<Array<{ streamId: number; timestamp: number; payload: Uint8Array }>> {
  const fs = await loadValkkaFS(dirname, { readOnly: true });
  try {
    const out = [];
    for (let i = 0; i < fs.nBlocks; i++) {
      const c = await fs.readBlock(i).catch(() => undefined);
      if (c) out.push(...c.frames);
    }
    return out.sort((a, b) => a.timestamp - b.timestamp);
  } finally {
    await fs.close();
  }
}

/**
 * A synthetic frame whose payload says who it is: [stream u32][seq u32][crc32 of the rest u32][filler].
 * Codec none: the fs treats every such frame as a key frame and stores the payload unchanged.
 */
export function testFrame(slot: number, stream: number, seq: number, size: number, timestamp: number): SlotFrame {
  const payload = new Uint8Array(Math.max(12, size));
  const view = new DataView(payload.buffer);
  view.setUint32(0, stream, true);
  view.setUint32(4, seq, true);
  for (let i = 12; i < payload.length; i++) payload[i] = (stream * 131 + seq * 17 + i) & 255;
  view.setUint32(8, crc32(payload.subarray(12)), true);
  return { slot, subsession: 0, timestamp, mediaType: MediaType.video, codec: Codec.none, flags: 1, payload };
}

/** Checks a payload made by testFrame; returns its stream and seq, or throws naming what is wrong. */
export function checkPayload(payload: Uint8Array): { stream: number; seq: number } {
  if (payload.length < 12) throw new Error(`payload of ${payload.length} bytes is too short`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const stream = view.getUint32(0, true);
  const seq = view.getUint32(4, true);
  if (view.getUint32(8, true) !== crc32(payload.subarray(12))) throw new Error(`stream ${stream} seq ${seq}: checksum mismatch (garbled frame)`);
  for (let i = 12; i < payload.length; i++) {
    if (payload[i] !== ((stream * 131 + seq * 17 + i) & 255)) throw new Error(`stream ${stream} seq ${seq}: byte ${i} is wrong`);
  }
  return { stream, seq };
}

/** Reads entries from `queue` until the end marker of `request` (entries of other requests are kept too). */
export async function collectRequest(queue: FrameQueue, request: number): Promise<QueueEntry[]> {
  const entries: QueueEntry[] = [];
  for (;;) {
    const entry = await queue.popAsync(30_000);
    if (!entry) throw new Error(`no end marker for request ${request} (queue closed or 30 s without data)`);
    entries.push(entry);
    if (entry.kind === 'marker' && entry.marker.type === 'end' && entry.marker.request === request) return entries;
  }
}
