// loadFromDirectory on a libValkka directory (json without format_version): opened read-only
// through the legacy reader, its NAL records coming out as access units.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Codec, MediaType, ValkkaMultiFS, ValkkaSingleFS, check, loadValkkaFS } from '../src/index.js';
import { LegacyWriter, h264Nal } from './fixtures/legacy/legacy-writer.js';
import { withTempDir } from './helpers.js';

function writeLegacy(dir: string, variant: 'single' | 'multi'): LegacyWriter {
  const w = new LegacyWriter(dir, 8192, 6, variant);
  const nal = (type: number, size: number, ts: number) => w.write({ id: 925412, subsession: 0, ts, mediaType: MediaType.video, codecId: Codec.h264, payload: h264Nal(type, size) });
  for (let i = 0; i < 30; i++) {
    const ts = 1000 + 40 * i;
    if (i % 10 === 0) {
      nal(7, 20, ts); // SPS, PPS, IDR: three records with one timestamp
      nal(8, 8, ts);
      nal(5, 1500, ts);
    } else nal(1, 600, ts);
  }
  w.stop();
  return w;
}

describe('libValkka directories', () => {
  it('open read-only with the original table; frames come out as access units', async () => {
    await withTempDir(async (dir) => {
      const w = writeLegacy(dir, 'single');
      const fs = await ValkkaSingleFS.loadFromDirectory(dir);
      expect(fs.isLegacy).toBe(true);
      expect(fs.readOnly).toBe(true);
      expect(fs.getBlockTable()).toEqual(w.tab);
      const json = JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8'));
      expect(fs.currentBlock).toBe(json.current_block);
      const frames = [];
      for (const b of fs.getInd([0, 1e9])) frames.push(...(await fs.readBlock(b)).frames);
      // An access unit that the original split across two blocks comes out as two pieces with one timestamp.
      expect([...new Set(frames.map((f) => f.timestamp))]).toEqual(Array.from({ length: 30 }, (_, i) => 1000 + 40 * i));
      const keys = frames.filter((f) => (f.flags & 1) !== 0);
      expect([...new Set(keys.map((f) => f.timestamp))]).toEqual([1000, 1400, 1800]);
      expect(keys.some((f) => (f.flags & 2) !== 0)).toBe(true); // SPS+PPS in the access unit
      await expect(fs.write({ ...frames[0]!, timestamp: 5000 })).rejects.toMatchObject({ code: 'EREADONLY' });
      const info = await fs.describe();
      expect(info.format).toBe('libvalkka');
      expect(info.streams.map((s) => s.streamId)).toEqual([925412]);
      await fs.close();
    });
  });

  it('loadValkkaFS and ValkkaMultiFS open it too; check refuses it clearly', async () => {
    await withTempDir(async (dir) => {
      writeLegacy(dir, 'multi');
      const a = await loadValkkaFS(dir);
      expect(a.isLegacy).toBe(true);
      await a.close();
      const b = await ValkkaMultiFS.loadFromDirectory(dir);
      expect(b.variant).toBe('multi');
      await b.close();
      await expect(check(dir)).rejects.toMatchObject({ code: 'EMETADATA' });
    });
  });
});
