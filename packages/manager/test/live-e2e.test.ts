import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ValkkaFS, ValkkaSingleFS } from '@valkka/fs';
import { FileSourceThread, type SlotFrame } from '@valkka/threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FsErrorInfo, ValkkaFSManager } from '../src/index.js';
import { FIXTURES, openAll, tempDir } from './helpers.js';

// Recording and playing in one process, on the system clock: two cameras (file sources) recorded by one manager
// (a writer thread per filesystem) while it and a second, play-only manager follow the live edge. Then one
// filesystem disappears: both managers report it and keep playing the other.

const FLUSH_MS = 1000; // the filesystems' flush interval (the default)

interface Seen {
  frame: SlotFrame;
  /** Clock time it reached the output. */
  at: number;
}

describe('ValkkaFSManager live: record and play in one process, go live, a filesystem disappears', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dirs: string[];
  let recordFs: ValkkaFS[];
  let playFs: ValkkaFS[];
  let recorder: ValkkaFSManager;
  let viewer: ValkkaFSManager;
  const sources: FileSourceThread[] = [];
  const seen = new Map<string, Seen[]>();
  const errors = new Map<ValkkaFSManager, FsErrorInfo[]>();

  const output = (who: string, manager: () => ValkkaFSManager) => (frame: SlotFrame) => {
    const list = seen.get(who) ?? [];
    seen.set(who, list);
    list.push({ frame, at: manager().clock.now() });
  };

  beforeAll(async () => {
    tmp = await tempDir();
    dirs = [join(tmp.dir, 'cam1'), join(tmp.dir, 'cam2')];
    for (const d of dirs) await (await ValkkaSingleFS.newFromDirectory({ dirname: d, blocksize: 64 * 1024, nBlocks: 64, flushIntervalMs: FLUSH_MS })).close();
    recordFs = await openAll(dirs);
    playFs = await openAll(dirs);
    recorder = new ValkkaFSManager(recordFs, { name: 'recorder' });
    viewer = new ValkkaFSManager(playFs, { name: 'viewer' });
    for (const m of [recorder, viewer]) {
      errors.set(m, []);
      m.on('fsError', (e) => errors.get(m)!.push(e));
    }
    for (const [i, id] of [1, 2].entries()) {
      await recorder.map({ valkkafs: recordFs[i]!, id, writeSlot: id, readSlot: 10 + id, output: output(`recorder:${id}`, () => recorder) });
      await viewer.map({ valkkafs: playFs[i]!, id, readSlot: 20 + id, output: output(`viewer:${id}`, () => viewer) });
    }
    await recorder.start();
    await viewer.start();
    for (const [i, clip] of ['h264-baseline-gop1s.h264', 'h265-gop1s.h265'].entries()) {
      const source = new FileSourceThread({ path: join(FIXTURES, clip), slot: i + 1, output: recorder.getInput(recordFs[i]) });
      await source.start();
      sources.push(source);
    }
  });

  afterAll(async () => {
    const t = performance.now();
    for (const s of sources) await s.close().catch(() => undefined);
    if (process.env.DBG) console.log('sources closed', performance.now() - t);
    await recorder?.close().catch((e) => process.env.DBG && console.log('recorder close', e));
    if (process.env.DBG) console.log('recorder closed', performance.now() - t);
    await viewer?.close().catch(() => undefined);
    if (process.env.DBG) console.log('viewer closed', performance.now() - t);
    for (const fs of [...(recordFs ?? []), ...(playFs ?? [])]) await fs.close().catch(() => undefined);
    await tmp?.remove();
  });

  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (what: string, ok: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await wait(20);
    }
  };

  it('goLive on both managers while recording: frames keep coming, within two flush intervals of the newest recorded', async () => {
    await until('the first blocks', () => (recorder.getTimeRange()?.[1] ?? 0) - (recorder.getTimeRange()?.[0] ?? 0) > 1500);
    await recorder.goLive();
    await viewer.goLive();
    for (const list of seen.values()) list.splice(0);
    await wait(3000);
    for (const who of ['recorder:1', 'recorder:2', 'viewer:1', 'viewer:2']) {
      const list = seen.get(who) ?? [];
      expect(list.length, `${who}: frames played live`).toBeGreaterThan(40); // 3 s at 25 fps, some lost to the start
      const ts = list.map((s) => s.frame.timestamp);
      expect(ts, `${who}: in order, none repeated`).toEqual([...ts].sort((a, b) => a - b).filter((t, i, a) => i === 0 || t !== a[i - 1]));
      // The newest recorded frame is the camera's now (the source stamps frames with the clock): the lag of what is shown.
      const worst = Math.max(...list.map((s) => s.at - s.frame.timestamp));
      expect(worst, `${who}: worst lag behind the newest recorded frame`).toBeLessThanOrEqual(2 * FLUSH_MS);
    }
    expect(errors.get(recorder)).toEqual([]);
    expect(errors.get(viewer)).toEqual([]);
  });

  it('a filesystem that disappears is reported as an event, and the other stream plays on', async () => {
    await sources[1]!.close();
    await rm(dirs[1]!, { recursive: true, force: true });
    await until('the error events', () => errors.get(viewer)!.length > 0 && errors.get(recorder)!.length > 0);
    expect(errors.get(viewer)![0]!.valkkafs).toBe(playFs[1]);
    expect(errors.get(recorder)![0]!.valkkafs).toBe(recordFs[1]);
    for (const list of seen.values()) list.splice(0);
    await wait(1500);
    expect((seen.get('viewer:1') ?? []).length, 'stream 1 plays on in the viewer').toBeGreaterThan(15);
    expect((seen.get('recorder:1') ?? []).length, 'stream 1 plays on in the recorder').toBeGreaterThan(15);
    expect(viewer.getState()).toBe('play');
  });
});
