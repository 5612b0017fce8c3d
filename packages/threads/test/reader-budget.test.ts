import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ValkkaFSReaderThread, ValkkaFSWriterThread } from '../src/index.js';
import { checkPayload, makeFs, testFrame } from './helpers.js';

// The reader streams the blocks of a request instead of gathering them: a request of 32 MiB through a reader
// whose budget is 4 blocks (1 MiB) delivers every frame, in time order, while the reader holds at most its budget
// (its own accounting) and the process does not grow by anything near the request (process.memoryUsage).

const BLOCKSIZE = 256 * 1024;
const BLOCKS = 128;
const START = 1_700_000_000_000;

// This thread's garbage (the payload copies it pops) is collected as it goes, so RSS shows what is held.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('reader memory under a budget smaller than a request', () => {
  it('delivers a 32 MiB request in order through a 1 MiB budget, two streams whose clocks are 300 ms apart', async () => {
    const fs = await makeFs({ blocksize: BLOCKSIZE, nBlocks: BLOCKS, multi: true });
    const writer = new ValkkaFSWriterThread({ dirname: fs.dirname });
    const reader = new ValkkaFSReaderThread({ dirname: fs.dirname, budgetBytes: 4 * BLOCKSIZE, outputBytes: 1024 * 1024 });
    try {
      await writer.start();
      await writer.setSlotId(1, 1);
      await writer.setSlotId(2, 2);
      // Stream 2's clock runs 300 ms ahead: each block holds frames that belong after the next block's first ones.
      let seq = 0;
      let written = 0;
      while (written < (BLOCKS - 2) * BLOCKSIZE) {
        const t = START + 10 * seq;
        await writer.input.pushFrameAsync(testFrame(1, 1, seq, 4000, t));
        await writer.input.pushFrameAsync(testFrame(2, 2, seq, 4000, t + 300));
        written += 8000 + 2 * 64;
        seq++;
      }
      await writer.close();
      expect(writer.stats().written).toBe(2 * seq);

      await reader.start();
      await reader.setSlotId(1, 1);
      await reader.setSlotId(2, 2);
      const used = Array.from({ length: BLOCKS }, (_, i) => i);
      gc();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const request = await reader.pullBlocks(used);
      let count = 0;
      let previous = -Infinity;
      // Consume as we go, keeping nothing: check each frame (stream, seq, timestamp, bytes) and its order.
      for (;;) {
        const e = await reader.output.popAsync(30_000);
        if (!e) throw new Error('the request did not end');
        if (e.kind === 'marker' && e.marker.type === 'end' && e.marker.request === request) break;
        if (e.kind !== 'frame') continue;
        const { stream, seq: s } = checkPayload(e.frame.payload);
        expect(e.frame.slot).toBe(stream);
        expect(e.frame.timestamp).toBe(START + 10 * s + (stream === 2 ? 300 : 0));
        expect(e.frame.timestamp).toBeGreaterThanOrEqual(previous);
        previous = e.frame.timestamp;
        if (++count % 512 === 0) {
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          gc();
        }
      }
      expect(count).toBe(2 * seq); // every frame
      const stats = reader.stats();
      expect(stats.blocks).toBeGreaterThan(BLOCKS - 4);
      expect(stats.overBudget).toBe(0);
      expect(stats.maxHeldBytes).toBeGreaterThan(BLOCKSIZE); // it did carry frames over to later blocks
      expect(stats.maxHeldBytes).toBeLessThanOrEqual(4 * BLOCKSIZE);
      // The process grew by far less than the request (the reader gathering it held all 32 MiB at once).
      console.log(`reader budget: rss grew ${((rssPeak - rssBefore) / 2 ** 20).toFixed(1)} MiB during a ${(BLOCKS * BLOCKSIZE) / 2 ** 20} MiB request, reader held at most ${(stats.maxHeldBytes / 2 ** 20).toFixed(2)} MiB`);
      expect(rssPeak - rssBefore).toBeLessThan((BLOCKS * BLOCKSIZE) / 4);
    } finally {
      await Promise.all([writer.terminate(), reader.terminate()]);
      await fs.remove();
    }
  });
});
