// Shared test helpers: temporary directories, memory devices, H.264 access units of exact sizes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BlockDevice, MemoryDevice } from '@valkka/blockdev';

import { Codec, type Frame, MediaType } from '../src/frame.js';

export async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'valkkafs-test-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const memoryDevice = (size: number): MemoryDevice => new MemoryDevice(size, { alignment: 4096, sectorSize: 512 });

/** Filler bytes that never form a start code (never 0). */
function fill(out: Uint8Array, from: number, seed: number): void {
  for (let i = from; i < out.length; i++) out[i] = ((seed * 31 + i * 7) % 255) + 1;
}

const SPS = [0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80];
const PPS = [0x68, 0xce, 0x3c, 0x80];

/**
 * An H.264 access unit of exactly `size` bytes: key = SPS + PPS + IDR slice (4-byte start codes),
 * otherwise one non-IDR slice.
 */
export function h264AccessUnit(size: number, key: boolean, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  const nal = (bytes: number[]) => {
    out.set([0, 0, 0, 1, ...bytes], o);
    o += 4 + bytes.length;
  };
  if (key) {
    nal(SPS);
    nal(PPS);
    nal([0x65, 0x88]);
  } else nal([0x41, 0x9a]);
  if (o > size) throw new Error(`access unit of ${size} bytes is too small`);
  fill(out, o, seed);
  return out;
}

export function h264Frame(streamId: number, timestamp: number, size: number, key: boolean, subsession = 0): Frame {
  return {
    streamId,
    subsession,
    timestamp,
    mediaType: MediaType.video,
    codec: Codec.h264,
    flags: key ? 1 | 2 : 0,
    payload: h264AccessUnit(size, key, timestamp + streamId),
  };
}

/** A frame of a codec without inter frames (every frame key). */
export function plainFrame(streamId: number, timestamp: number, size: number, subsession = 0): Frame {
  const payload = new Uint8Array(size);
  fill(payload, 0, timestamp + streamId);
  return { streamId, subsession, timestamp, mediaType: MediaType.unknown, codec: Codec.none, flags: 1, payload };
}

export const pick = ({ streamId, subsession, timestamp, mediaType, codec, flags, payload }: Frame) => ({
  streamId,
  subsession,
  timestamp,
  mediaType,
  codec,
  flags,
  payload: Buffer.from(payload).toString('hex'),
});

/**
 * The writer's view of the device: after kill() (the process died with the power) every operation
 * fails, so the crashed writer cannot touch the device after the crash, as a dead process could not.
 */
export function fenced(dev: MemoryDevice): BlockDevice & { kill(): void } {
  let dead = false;
  const gate = <T>(f: () => Promise<T>): Promise<T> => (dead ? Promise.reject(new Error('process killed')) : f());
  return {
    name: dev.name,
    size: dev.size,
    logicalSectorSize: dev.logicalSectorSize,
    physicalSectorSize: dev.physicalSectorSize,
    alignment: dev.alignment,
    read: (o, b) => gate(() => dev.read(o, b)),
    write: (o, b) => gate(() => dev.write(o, b)),
    flush: () => gate(() => dev.flush()),
    lock: () => gate(() => dev.lock()),
    close: () => Promise.resolve(),
    allocBuffer: (n) => dev.allocBuffer(n),
    kill: () => {
      dead = true;
    },
  };
}

