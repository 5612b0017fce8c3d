#!/usr/bin/env node
// @valkka/manager benchmark (node bench/manager.mjs [--seeks 8] [--seconds 10]):
//  1. seek latency for 1, 4 and 16 streams (from seek() until every stream was sent its frame at the target), p50/p95,
//     warm and (as root) with the page cache dropped, against ffmpeg extracting the same frames from MP4 copies
//     (`ffmpeg -ss T -i copy.mp4 -frames:v 1`, one process per stream, in parallel) in the same run;
//  2. 4 managers x 16 streams playing at 1x while 16 streams record (2 ValkkaMultiFS, 2 writer threads):
//     played fps against the demand, stalls, main event-loop delay p99, RSS per manager.
// Prints a table and writes bench/results/manager.json at the repository root.
import { execFileSync, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadValkkaFS, ValkkaMultiFS, ValkkaSingleFS } from '@valkka/fs';
import { FileSource, FileSourceCore, loadClip, PlaybackClock } from '@valkka/threads';
import { ValkkaFSManager } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SEEKS = arg('seeks', 8);
const PLAY_SECONDS = arg('seconds', 10);
const FIXTURES = join(here, '..', '..', 'threads', 'test', 'fixtures');
const CLIP = join(FIXTURES, 'h264-baseline-gop1s.h264');
const CLIP_MP4 = join(FIXTURES, 'h264-baseline-gop1s.mp4');
const T0 = 1_700_000_000_000;
const RECORD_MS = 60_000;
const STREAMS = 16;
const root = process.getuid?.() === 0;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const dropCaches = () => execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);

/** Records one stream (the clip looped, a camera on a manual clock: no real time) into a new Single FS. */
async function recordSingle(dirname, id) {
  const fs = await ValkkaSingleFS.newFromDirectory({ dirname, blocksize: 256 * 1024, nBlocks: 16 });
  const clock = PlaybackClock.manual(0);
  const core = new FileSourceCore(await loadClip(CLIP), clock, { slot: 1, startTime: T0 });
  core.start();
  clock.setNow(RECORD_MS - 40);
  for (let batch = core.pull(); batch.length > 0; batch = core.pull()) {
    for (const { slot: _slot, ...f } of batch) await fs.write({ ...f, streamId: id });
  }
  await fs.close();
}

/** The ffmpeg peer: one process per stream in parallel, each decoding the frame at `offsetMs` of its MP4 copy. */
function ffmpegSeek(files, offsetMs) {
  return Promise.all(
    files.map(
      (file) =>
        new Promise((resolve, reject) => {
          const p = spawn('ffmpeg', ['-v', 'error', '-ss', (offsetMs / 1000).toFixed(3), '-i', file, '-frames:v', '1', '-f', 'null', '-'], { stdio: 'ignore' });
          p.on('error', reject);
          p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
        }),
    ),
  );
}

async function seekBench(dirs, mp4s) {
  const offsets = Array.from({ length: SEEKS }, (_, i) => 2000 + Math.floor(((i * 7919) % 97) / 97 * (RECORD_MS - 4000)) + (i % 25) * 40 + 13);
  const out = [];
  for (const n of [1, 4, 16]) {
    const filesystems = await Promise.all(dirs.slice(0, n).map((d) => loadValkkaFS(d, { readOnly: true })));
    const manager = new ValkkaFSManager(filesystems, { name: `seek${n}` });
    for (const [i, fs] of filesystems.entries()) await manager.map({ valkkafs: fs, id: i + 1, readSlot: i + 1, output: () => {} });
    await manager.start();
    await manager.seek(T0 + 1000); // threads up, tables read
    const row = { streams: n };
    for (const cache of root ? ['warm', 'dropped'] : ['warm']) {
      const count = cache === 'warm' ? offsets.length : Math.min(3, offsets.length); // dropping caches disturbs the machine: a few
      const ours = [];
      const peer = [];
      for (const offset of offsets.slice(0, count)) {
        if (cache === 'dropped') dropCaches();
        let t = performance.now();
        const result = await manager.seek(T0 + offset);
        ours.push(performance.now() - t);
        const missing = result.streams.filter((s) => s.timestamp === null);
        if (missing.length) throw new Error(`seek ${offset}: ${missing.length} streams showed nothing`);
        if (cache === 'dropped') dropCaches();
        t = performance.now();
        await ffmpegSeek(mp4s.slice(0, n), offset);
        peer.push(performance.now() - t);
      }
      row[cache] = {
        seeks: count,
        p50: round(pct(ours, 50)),
        p95: round(pct(ours, 95)),
        ffmpegP50: round(pct(peer, 50)),
        ffmpegP95: round(pct(peer, 95)),
        p95VsFfmpeg: round(pct(ours, 95) / pct(peer, 95), 3),
      };
    }
    out.push(row);
    await manager.close();
    for (const fs of filesystems) await fs.close();
  }
  return out;
}

async function playBench(dirs, base) {
  // 16 streams recording: main-thread file sources into 2 Multi FS (8 each), through one manager's writer threads.
  const recDirs = [join(base, 'rec0'), join(base, 'rec1')];
  for (const d of recDirs) await (await ValkkaMultiFS.newFromDirectory({ dirname: d, blocksize: 1024 * 1024, nBlocks: 32 })).close();
  const recFs = await Promise.all(recDirs.map((d) => loadValkkaFS(d, { readOnly: true })));
  const recorder = new ValkkaFSManager(recFs, { name: 'recorder' });
  for (let i = 0; i < 16; i++) await recorder.map({ valkkafs: recFs[i % 2], id: 100 + i, writeSlot: i + 1 });
  await recorder.start();
  const sources = [];
  for (let i = 0; i < 16; i++) {
    const source = await FileSource.open({ path: CLIP, slot: i + 1, filter: recorder.getInputFilter(recFs[i % 2]) });
    source.start();
    sources.push(source);
  }

  const rssBase = process.memoryUsage().rss;
  const managers = [];
  const counts = [];
  const late = [];
  for (let m = 0; m < 4; m++) {
    const filesystems = await Promise.all(dirs.map((d) => loadValkkaFS(d, { readOnly: true })));
    const manager = new ValkkaFSManager(filesystems, { name: `play${m}` });
    const count = { frames: 0, stalls: 0 };
    for (const [i, fs] of filesystems.entries()) {
      await manager.map({
        valkkafs: fs,
        id: i + 1,
        readSlot: i + 1,
        output: (frame) => {
          count.frames++;
          const lateness = manager.clock.now() - manager.clock.clockTimeOf(frame.timestamp);
          if (Number.isFinite(lateness)) {
            late.push(lateness);
            if (lateness > 100) count.stalls++; // a frame more than 100 ms late: a visible stall
          }
        },
      });
    }
    await manager.start();
    managers.push({ manager, filesystems });
    counts.push(count);
  }
  for (const { manager } of managers) await manager.seek(T0 + 2000);
  for (const c of counts) c.frames = 0;
  late.length = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const { manager } of managers) await manager.play();
  await new Promise((resolve) => setTimeout(resolve, PLAY_SECONDS * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  const rss = process.memoryUsage().rss;
  const frames = counts.reduce((a, c) => a + c.frames, 0);
  const demand = 4 * STREAMS * 25 * seconds;
  const recorded = recorder.stats();
  const result = {
    managers: 4,
    streamsPerManager: STREAMS,
    recording: 16,
    seconds: round(seconds),
    playedFps: round(frames / seconds),
    demandFps: round(demand / seconds),
    fpsVsDemand: round(frames / demand, 3),
    stalls: counts.reduce((a, c) => a + c.stalls, 0),
    latenessP50: round(pct(late, 50), 2),
    latenessP99: round(pct(late, 99), 2),
    eventLoopP99Ms: round(delay.percentile(99) / 1e6, 2),
    rssPerManagerMB: round((rss - rssBase) / 4 / 2 ** 20),
    rssProcessMB: round(rss / 2 ** 20),
    workersPerManager: 2,
    /** CPU of the whole process (4 players, the recorder, 16 sources) per second of wall time: 1 = one core. */
    processCpuCores: round((cpu.user + cpu.system) / 1e6 / seconds, 2),
    loadAverage: round((await import('node:os')).loadavg()[0], 1),
  };
  for (const s of sources) s.stop();
  for (const { manager, filesystems } of managers) {
    await manager.close();
    for (const fs of filesystems) await fs.close();
  }
  result.recorderCounters = recorded;
  await recorder.close();
  for (const fs of recFs) await fs.close();
  return result;
}

const base = await mkdtemp(join(tmpdir(), 'valkka-manager-bench-'));
try {
  const dirs = [];
  const mp4s = [];
  const loops = Math.ceil(RECORD_MS / 10_000);
  const mp4 = join(base, 'clip.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-stream_loop', String(loops - 1), '-i', CLIP_MP4, '-c', 'copy', '-y', mp4]);
  for (let i = 0; i < STREAMS; i++) {
    const d = join(base, `cam${i}`);
    await recordSingle(d, i + 1);
    dirs.push(d);
    const copy = join(base, `cam${i}.mp4`);
    await copyFile(mp4, copy);
    mp4s.push(copy);
  }
  const seek = process.argv.includes('--play-only') ? [] : await seekBench(dirs, mp4s);
  const play = await playBench(dirs, base);
  console.log('\nseek latency, ms (seek() until every stream was sent its frame at the target) vs ffmpeg -ss T -i copy.mp4 -frames:v 1, one process per stream');
  console.table(
    seek.flatMap((r) =>
      ['warm', 'dropped']
        .filter((c) => r[c])
        .map((c) => ({ streams: r.streams, cache: c, seeks: r[c].seeks, p50: r[c].p50, p95: r[c].p95, 'ffmpeg p50': r[c].ffmpegP50, 'ffmpeg p95': r[c].ffmpegP95, 'p95 / ffmpeg': r[c].p95VsFfmpeg })),
    ),
  );
  console.log('4 managers x 16 streams at 1x while 16 record');
  const { recorderCounters: _c, ...shown } = play;
  console.table([shown]);
  const out = join(here, '../../../bench/results/manager.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), root, load: (await import('node:os')).loadavg(), seek, play }, null, 2)}\n`);
  console.log(`written ${out}`);
} finally {
  await rm(base, { recursive: true, force: true });
}
