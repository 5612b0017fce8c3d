// Write path and check speed, each as a ratio to dd measured in the same run:
//  - frames from memory (16, 64 and 256 streams at 4 Mbit/s, 25 fps, H.264 access units with a
//    key frame per second) written into a ValkkaMultiFS on a FileDevice (O_DIRECT when available),
//    against `dd if=/dev/zero of=F bs=<blocksize> oflag=direct` of the same bytes. Two passes over
//    the ring: the first into the freshly reserved file (its extents are converted from "unwritten"
//    as they are written, and every fdatasync commits that), the second over written blocks, which
//    is what a recorder does around the clock; dd likewise writes a new file, then over it;
//  - check() of the dumpfile against `dd if=dumpfile of=/dev/null bs=1M iflag=direct`.
// Steady passes and dd runs alternate, three of each; the median ratio is reported (the disk is noisy).
// MB/s and CPU seconds (process.cpuUsage; dd's from /usr/bin/time). JSON to bench/results/fs-write.json.
// Sizes: VALKKA_BENCH_RING (bytes per pass = the ring, default 256 MiB; about 2 GiB written by us and as
// much by dd per case), VALKKA_BENCH_DIR (default the temp dir).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ValkkaMultiFS, check } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const RING = Number(process.env.VALKKA_BENCH_RING ?? 256 * 2 ** 20);
const REPEAT = 3;
const BLOCKSIZE = 4 * 2 ** 20;
const RING_BLOCKS = Math.max(4, Math.floor(RING / BLOCKSIZE));
const PASS_BYTES = RING_BLOCKS * BLOCKSIZE;
const STREAMS = [16, 64, 256];
const BITRATE = 4_000_000 / 8; // bytes per second per stream
const FPS = 25;

const base = mkdtempSync(join(process.env.VALKKA_BENCH_DIR ?? tmpdir(), 'valkkafs-bench-'));

/** An H.264 access unit of `size` bytes: SPS+PPS+IDR or one P slice; filler never forms a start code. */
function accessUnit(size, key, seed) {
  const out = new Uint8Array(size);
  const head = key ? [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88] : [0, 0, 0, 1, 0x41, 0x9a];
  out.set(head);
  for (let i = head.length; i < size; i++) out[i] = ((seed * 31 + i * 7) % 255) + 1;
  return out;
}

/** One GOP (1 s) of payloads per stream: a key frame 5× the size of a P frame, 4 Mbit/s on average. */
function gop(seed) {
  const p = Math.round(BITRATE / (FPS - 1 + 5));
  return Array.from({ length: FPS }, (_, i) => accessUnit(i === 0 ? 5 * p : p, i === 0, seed + i));
}

/** Runs dd under /usr/bin/time: seconds from dd's own report (microseconds), CPU from time. */
function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', cmd, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  const [wall, user, sys] = lines.at(-1).split(' ').map(Number);
  const copied = /copied, ([\d.]+) s/.exec(r.stderr);
  return { seconds: copied ? Number(copied[1]) : wall, cpuSeconds: user + sys };
}

function cpuNow() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function writeCase(streams) {
  const dir = join(base, `fs-${streams}`);
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BLOCKSIZE, nBlocks: RING_BLOCKS });
  const gops = Array.from({ length: streams }, (_, s) => gop(s));
  let tick = 0;
  const pass = async (closeAfter) => {
    let bytes = 0;
    const t0 = performance.now();
    const c0 = cpuNow();
    while (bytes < PASS_BYTES) {
      const ts = 1_700_000_000_000 + tick * 40;
      for (let s = 0; s < streams; s++) {
        const payload = gops[s][tick % FPS];
        await fs.write({ streamId: s + 1, subsession: 0, timestamp: ts, mediaType: 0, codec: 27, flags: 0, payload });
        bytes += payload.length;
      }
      tick++;
    }
    if (closeAfter) await fs.close();
    else await fs.flush();
    return { bytes, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuNow() - c0 };
  };
  const ddFile = join(base, 'dd.out');
  const dd = (fresh) => timed('dd', ['if=/dev/zero', `of=${ddFile}`, `bs=${BLOCKSIZE}`, `count=${RING_BLOCKS}`, 'oflag=direct', ...(fresh ? [] : ['conv=notrunc'])]);
  const fresh = await pass(false);
  const ddFresh = dd(true);
  const pairs = [];
  for (let r = 0; r < REPEAT; r++) pairs.push({ ours: await pass(r === REPEAT - 1), dd: dd(false) });
  rmSync(ddFile, { force: true });
  const ratioOf = (p) => p.ours.bytes / p.ours.seconds / (PASS_BYTES / p.dd.seconds);
  pairs.sort((a, b) => ratioOf(a) - ratioOf(b));
  const { ours: steady, dd: ddSteady } = pairs[Math.floor(REPEAT / 2)];
  const mb = (bytes, seconds) => bytes / 1e6 / seconds;
  const row = (ours, dd) => ({
    ...ours,
    mbps: mb(ours.bytes, ours.seconds),
    dd: { ...dd, mbps: mb(PASS_BYTES, dd.seconds) },
    ratio: mb(ours.bytes, ours.seconds) / mb(PASS_BYTES, dd.seconds),
  });
  const result = { streams, steady: row(steady, ddSteady), fresh: row(fresh, ddFresh) };
  result.realTimeStreams = Math.floor((result.steady.mbps * 1e6) / BITRATE);
  const line = (r) => `${r.mbps.toFixed(0)} MB/s, ${r.cpuSeconds.toFixed(2)} s CPU vs dd ${r.dd.mbps.toFixed(0)} MB/s, ${r.dd.cpuSeconds.toFixed(2)} s CPU: ratio ${r.ratio.toFixed(2)}`;
  console.log(`write ${String(streams).padStart(3)} streams | steady ${line(result.steady)} | fresh file ${line(result.fresh)} | ${result.realTimeStreams} streams of 4 Mbit/s in real time (goal: steady ratio >= 0.8)`);
  return { result, dir };
}

async function checkCase(dir) {
  const t0 = performance.now();
  const c0 = cpuNow();
  const report = await check(dir);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuNow() - c0;
  if (!report.ok) throw new Error(`check found problems: ${JSON.stringify(report.problems.slice(0, 3))}`);
  const bytes = report.blocksize * report.nBlocks;
  const dd = timed('dd', [`if=${join(dir, 'dumpfile')}`, 'of=/dev/null', 'bs=1M', 'iflag=direct']);
  const mbps = bytes / 1e6 / seconds;
  const ddMbps = bytes / 1e6 / dd.seconds;
  const result = { bytes, frames: report.frames, seconds, cpuSeconds, mbps, dd: { ...dd, mbps: ddMbps }, ratio: mbps / ddMbps };
  console.log(`check: ${mbps.toFixed(0)} MB/s, ${cpuSeconds.toFixed(2)} s CPU | dd ${ddMbps.toFixed(0)} MB/s | ratio ${result.ratio.toFixed(2)} (goal >= 0.8)`);
  return result;
}

try {
  const writes = [];
  let lastDir;
  for (const streams of STREAMS) {
    const { result, dir } = await writeCase(streams);
    writes.push(result);
    if (lastDir) rmSync(lastDir, { recursive: true, force: true });
    lastDir = dir;
  }
  const checkResult = await checkCase(lastDir);
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    machine: execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim(),
    blocksize: BLOCKSIZE,
    ringBlocks: RING_BLOCKS,
    passBytes: PASS_BYTES,
    steadyPasses: REPEAT,
    write: writes,
    check: checkResult,
    goals: { writeRatio: 0.8, checkRatio: 0.8 },
  };
  const resultsDir = resolve(here, '../../../bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'fs-write.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(resultsDir, 'fs-write.json')}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
