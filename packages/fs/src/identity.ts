/**
 * What the device says about the filesystem on it. Block 0 starts at byte 0 whatever the geometry,
 * and its header (written at init, rewritten with the same fs id and geometry at every pass of the
 * ring) names the fs id, blocksize and n_blocks: the json is compared with it before anything is
 * read or written, so an edited json, a device of another filesystem or a file that is not a
 * dumpfile at all is refused instead of being written with the wrong geometry.
 */
import type { BlockDevice } from '@valkka/blockdev';

import { ValkkaFSLoadError } from './errors.js';
import { type BlockHeader, GRAIN, MAX_BLOCKSIZE, decodeBlockHeader } from './format.js';
import { MAX_BLOCKS, type Metadata, writeMetadata } from './metadata.js';
import { readSummary } from './reader.js';

/** The filesystem a device holds, as its block headers say. */
export interface DeviceIdentity {
  fsId: string;
  blocksize: number;
  nBlocks: number;
  /** The block whose header said so. */
  block: number;
}

/** Blocks sampled (beyond block 0) when block 0's header is damaged. */
const SAMPLES = 16;

/** A header valid in itself (magic, version, size, CRC), its fields taken as they are, or why not. */
export function selfDescribedHeader(buf: Buffer): BlockHeader | string {
  if (buf.length < 48) return 'short block';
  const fields = { fsId: buf.subarray(16, 32), block: buf.readUInt32LE(12), blocksize: buf.readUInt32LE(40), nBlocks: buf.readUInt32LE(44) };
  const h = decodeBlockHeader(buf, fields);
  return typeof h === 'string' ? h : { ...h, fsId: Buffer.from(fields.fsId) };
}

async function headerAt(device: BlockDevice, offset: number): Promise<BlockHeader | string> {
  if (offset + device.alignment > device.size) return 'past the end of the device';
  const head = device.allocBuffer(device.alignment);
  await device.read(offset, head);
  return selfDescribedHeader(head);
}

const identityOf = (h: BlockHeader): DeviceIdentity => ({ fsId: Buffer.from(h.fsId).toString('hex'), blocksize: h.blocksize, nBlocks: h.nBlocks, block: h.block });

/**
 * The identity of the filesystem on `device`: from block 0's header, or (when it is damaged) from
 * the first valid header found at the json's geometry (its current block and a few blocks spread
 * over the ring) that sits where its own geometry puts it. Undefined when no header is found.
 */
export async function identityFromDevice(
  device: BlockDevice,
  hint?: { blocksize: number; nBlocks: number; currentBlock: number },
): Promise<{ identity: DeviceIdentity | undefined; block0: string }> {
  const first = await headerAt(device, 0);
  if (typeof first !== 'string' && first.block === 0) return { identity: identityOf(first), block0: 'valid' };
  const block0 = typeof first === 'string' ? first : `header says block ${first.block}`;
  if (!hint) return { identity: undefined, block0 };
  const candidates = new Set([hint.currentBlock, ...Array.from({ length: SAMPLES }, (_, i) => Math.floor((i * hint.nBlocks) / SAMPLES))]);
  for (const b of candidates) {
    const at = b * hint.blocksize;
    const h = b > 0 && b < hint.nBlocks ? await headerAt(device, at) : 'skipped';
    if (typeof h !== 'string' && h.block * h.blocksize === at) return { identity: identityOf(h), block0 };
  }
  return { identity: undefined, block0 };
}

/** What differs between the json and the device's headers (empty when they agree). */
function differences(meta: Metadata, id: DeviceIdentity): string[] {
  const out: string[] = [];
  if (id.fsId !== meta.fs_id) out.push(`fs_id is ${meta.fs_id} in valkkafs.json but ${id.fsId} on the device`);
  if (id.blocksize !== meta.blocksize) out.push(`blocksize is ${meta.blocksize} in valkkafs.json but ${id.blocksize} on the device`);
  if (id.nBlocks !== meta.n_blocks) out.push(`n_blocks is ${meta.n_blocks} in valkkafs.json but ${id.nBlocks} on the device`);
  return out;
}

const hintOf = (meta: Metadata) => ({ blocksize: meta.blocksize, nBlocks: meta.n_blocks, currentBlock: meta.current_block });

/**
 * Refuses a device whose block headers disagree with valkkafs.json, or that holds no header of any
 * ValkkaFS; `exactSize`: a dumpfile must be exactly n_blocks × blocksize bytes (a partition may be larger).
 */
export async function verifyIdentity(dirname: string, meta: Metadata, device: BlockDevice, exactSize: boolean): Promise<void> {
  const ring = meta.blocksize * meta.n_blocks;
  if (ring > device.size || (exactSize && ring !== device.size)) {
    throw new ValkkaFSLoadError(
      'EMETADATA',
      `${dirname}: valkkafs.json says ${meta.n_blocks} blocks of ${meta.blocksize} bytes (${ring} bytes), ${device.name} has ${device.size} bytes: refusing to use it`,
    );
  }
  const { identity, block0 } = await identityFromDevice(device, hintOf(meta));
  if (!identity) {
    throw new ValkkaFSLoadError(
      'EMETADATA',
      `${device.name}: holds no ValkkaFS block header (block 0: ${block0}, nor at any sampled block): it is not the device of ${dirname}; refusing to use it`,
    );
  }
  const diff = differences(meta, identity);
  if (diff.length > 0) {
    throw new ValkkaFSLoadError(
      'EMETADATA',
      `${dirname}: valkkafs.json does not match ${device.name} (${diff.join('; ')}, says block ${identity.block}'s header); refusing to use it (valkka check --repair restores valkkafs.json from the device)`,
    );
  }
}

/**
 * The json rebuilt from the device when the device is unambiguous: block 0's header is valid, its
 * geometry is one we could have made and fits the device, and block 1 (at that geometry) is either
 * never written or of the same filesystem. Otherwise the reason it cannot be done.
 */
export async function metadataFromDevice(meta: Metadata, device: BlockDevice): Promise<Metadata | string> {
  const { identity, block0 } = await identityFromDevice(device);
  if (!identity) return `block 0 has no valid header (${block0})`;
  const { blocksize, nBlocks, fsId } = identity;
  if (blocksize % GRAIN !== 0 || blocksize > MAX_BLOCKSIZE || nBlocks < 2 || nBlocks > MAX_BLOCKS || blocksize * nBlocks > device.size) {
    return `block 0's header says ${nBlocks} blocks of ${blocksize} bytes, which does not fit ${device.name} (${device.size} bytes)`;
  }
  const second = await headerAt(device, blocksize);
  if (typeof second !== 'string') {
    const other = identityOf(second);
    if (other.block !== 1 || other.fsId !== fsId || other.blocksize !== blocksize || other.nBlocks !== nBlocks) {
      return `block 0 and block 1 disagree (block 1's header says fs ${other.fsId}, ${other.nBlocks} blocks of ${other.blocksize} bytes)`;
    }
  } else if (second !== 'never written') {
    return `block 1 at blocksize ${blocksize} has no valid header (${second})`;
  }
  return { ...meta, fs_id: fsId, blocksize, n_blocks: nBlocks, current_block: meta.current_block < nBlocks ? meta.current_block : 0 };
}

/** What a device holds, for a refusal to overwrite it: its identity and, from up to `maxBlocks` sealed blocks, streams and time range. */
export interface DeviceSurvey {
  identity: DeviceIdentity;
  sampledBlocks: number;
  streams: number[];
  timeRange: [number, number] | undefined;
}

export async function surveyDevice(device: BlockDevice, maxBlocks = 1024): Promise<DeviceSurvey | undefined> {
  const { identity } = await identityFromDevice(device);
  if (!identity || identity.blocksize % GRAIN !== 0 || identity.blocksize * identity.nBlocks > device.size) return undefined;
  const geometry = { fsId: Buffer.from(identity.fsId, 'hex'), blocksize: identity.blocksize, nBlocks: identity.nBlocks };
  const streams = new Set<number>();
  let range: [number, number] | undefined;
  const count = Math.min(maxBlocks, identity.nBlocks);
  for (let i = 0; i < count; i++) {
    const block = Math.floor((i * identity.nBlocks) / count);
    const s = await readSummary(device, geometry, block).catch(() => undefined);
    for (const e of s?.streams ?? []) {
      streams.add(e.streamId);
      range = range ? [Math.min(range[0], e.firstTs), Math.max(range[1], e.lastTs)] : [e.firstTs, e.lastTs];
    }
  }
  return { identity, sampledBlocks: count, streams: [...streams].sort((a, b) => a - b), timeRange: range };
}

/**
 * For check: the json verified against the device; with `repair`, a json that disagrees is rebuilt
 * from the device when the device is unambiguous (and written), otherwise refused as for open.
 */
export async function checkIdentity(
  dirname: string,
  meta: Metadata,
  device: BlockDevice,
  opts: { repair: boolean; exactSize: boolean },
): Promise<{ meta: Metadata; restored: { code: 'IDENTITY'; block: null; offset: null; message: string } | undefined }> {
  try {
    await verifyIdentity(dirname, meta, device, opts.exactSize);
    return { meta, restored: undefined };
  } catch (err) {
    if (!opts.repair || !(err instanceof ValkkaFSLoadError)) throw err;
    const restored = await metadataFromDevice(meta, device);
    if (typeof restored === 'string') {
      throw new ValkkaFSLoadError('EMETADATA', `${err.message}; cannot restore valkkafs.json from ${device.name}: ${restored}`, { cause: err });
    }
    await verifyIdentity(dirname, restored, device, opts.exactSize);
    await writeMetadata(dirname, restored);
    return { meta: restored, restored: { code: 'IDENTITY', block: null, offset: null, message: `${err.message.replace(/; refusing.*$/, '')}: valkkafs.json restored from the device` } };
  }
}
