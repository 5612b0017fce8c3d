// A restarted writer remembers each H.264/H.265 stream's last parameter sets (found on the device),
// so a key frame without them still gets them in front, as before the restart.
import { describe, expect, it } from 'vitest';

import { Codec, FrameFlags, MediaType, ValkkaMultiFS, type Frame } from '../src/index.js';
import { h264Frame, memoryDevice, plainFrame, withTempDir } from './helpers.js';

const BS = 8192;

/** An IDR access unit without SPS/PPS. */
function bareIdr(streamId: number, timestamp: number): Frame {
  const payload = new Uint8Array(600).fill(0x5a);
  payload.set([0, 0, 0, 1, 0x65, 0x88]);
  return { streamId, subsession: 0, timestamp, mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload };
}

async function lastFrameOf(fs: ValkkaMultiFS, streamId: number): Promise<Frame> {
  const contents = await fs.readBlock(fs.currentBlock);
  const frames = contents.frames.filter((f) => f.streamId === streamId);
  return frames.at(-1)!;
}

describe('codec configuration across a restart', () => {
  it('a key frame without SPS/PPS written after reopening gets the ones stored blocks before', async () => {
    await withTempDir(async (dir) => {
      const dev = memoryDevice(BS * 16);
      const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BS, nBlocks: 16, device: dev });
      let t = 1_000_000;
      const withConfig = h264Frame(1, (t += 40), 900, true); // SPS + PPS + IDR: the only time the camera sends them
      await fs.write(withConfig);
      // Several blocks of P frames of stream 1 and audio-like frames of stream 2 (no configuration at all).
      for (let i = 0; i < 40; i++) {
        await fs.write(h264Frame(1, (t += 40), 700, false));
        await fs.write(plainFrame(2, t + 1, 300));
      }
      const blockOfConfig = 0;
      expect(fs.currentBlock).toBeGreaterThan(blockOfConfig + 2);
      await fs.close();

      const reopened = await ValkkaMultiFS.loadFromDirectory(dir, { device: dev });
      await reopened.write(bareIdr(1, (t += 40)));
      const stored = await lastFrameOf(reopened, 1);
      expect(stored.flags & FrameFlags.config).toBe(FrameFlags.config);
      const sps = withConfig.payload.subarray(0, 11); // start code + SPS
      expect(Buffer.from(stored.payload.subarray(0, sps.length)).equals(Buffer.from(sps))).toBe(true);
      expect(stored.payload.length).toBeGreaterThan(600);
      await reopened.close();
    });
  });
});
