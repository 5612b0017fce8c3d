// Fleet benchmark, every figure against a peer measured in the same run:
//  1. ring write rate: 64 cameras' frames (4 Mbit/s, 25 fps each) written from memory into a
//     ValkkaMultiFS (4 MiB blocks) as fast as the disk takes them: MB/s and CPU seconds;
//  2. archive throughput: an Archiver uploading every sealed block of that ring into the R3 object
//     store of a 3-node JetStream cluster on this machine: MB/s against (1), and CPU seconds of this
//     process plus the three nats-servers per camera-minute against the writer's;
//  3. sustained: 64 cameras at 4 Mbit/s written in real time for VALKKA_BENCH_SECONDS (default 10) with
//     the Archiver running: does it keep up (pending blocks, missed, lag after the end)?
//  4. catalog: list() of 10 nodes x 100 cameras (1000 cameras, 20 ranges each) against raw KV gets of
//     the same keys (no parsing, no validation): median ms.
// Writes bench/results/fleet-archive.json at the repository root.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Kvm } from '@nats-io/kv';
import { Codec, MediaType, ValkkaMultiFS } from '@valkka/fs';
import { natsMissing, startNatsCluster } from '@valkka/vitest-preset/nats-cluster';
import { pino } from 'pino';

import { Archiver, CATALOG_BUCKET, connectFleet } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CAMERAS = 64;
const FPS = 25;
const FRAME_BYTES = Math.round(4e6 / 8 / FPS); // 4 Mbit/s
const CAMERA_MINUTE_BYTES = (4e6 / 8) * 60;
const BLOCKSIZE = 4 * 2 ** 20;
const RING_BYTES = 256 * 2 ** 20;
const SECONDS = Number(process.env.VALKKA_BENCH_SECONDS ?? 10);
const log = pino({ level: 'warn' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const missing = natsMissing();
if (missing) {
  console.log(`SKIPPED fleet archive bench: ${missing}`);
  process.exit(0);
}

/** CPU seconds (user + system) of a process so far, from /proc. */
function procCpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const payloads = Array.from({ length: 16 }, (_, i) => {
  const p = new Uint8Array(FRAME_BYTES);
  for (let j = 0; j < p.length; j++) p[j] = (j * 131 + i * 17) & 0xff;
  return p;
});
let t = Date.UTC(2026, 10, 30);
let n = 0;
function frame() {
  const i = n++;
  if (i % CAMERAS === 0) t += 1000 / FPS;
  return { streamId: 1 + (i % CAMERAS), subsession: 0, timestamp: Math.round(t), mediaType: MediaType.video, codec: Codec.none, flags: Math.floor(i / CAMERAS) % FPS === 0 ? 1 : 0, payload: payloads[i % 16] };
}

const base = mkdtempSync(join(process.env.VALKKA_BENCH_DIR ?? tmpdir(), 'valkka-fleet-bench-'));
const cluster = await startNatsCluster({ nodes: 3, user: 'bench', pass: 'bench-pass' });
const natsCpu = () => [0, 1, 2].reduce((s, i) => s + procCpu(cluster.pid(i)), 0);
const fleet = await connectFleet({ servers: cluster.urls, name: 'bench', user: 'bench', pass: 'bench-pass', log });
const result = { date: new Date().toISOString(), cameras: CAMERAS, frameBytes: FRAME_BYTES, blocksize: BLOCKSIZE, natsServers: 3, replicas: fleet.replicas() };
try {
  // 1. Ring write rate.
  const dir1 = join(base, 'ring');
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir1, blocksize: BLOCKSIZE, nBlocks: Math.ceil(RING_BYTES / BLOCKSIZE) + 8 });
  const frames = Math.floor((RING_BYTES * 0.97) / (FRAME_BYTES + 28));
  let cpu0 = selfCpu();
  let t0 = performance.now();
  for (let i = 0; i < frames; i++) await fs.write(frame());
  await fs.flush();
  const writeSeconds = (performance.now() - t0) / 1000;
  const writeCpu = selfCpu() - cpu0;
  const bytes = frames * FRAME_BYTES;
  await fs.close();
  result.ringWrite = { bytes, seconds: writeSeconds, mbPerSecond: bytes / 1e6 / writeSeconds, cpuSecondsPerCameraMinute: writeCpu / (bytes / CAMERA_MINUTE_BYTES) };

  // 2. Archive throughput: every sealed block of that ring.
  const archive = fleet.archive();
  cpu0 = selfCpu();
  let nats0 = natsCpu();
  t0 = performance.now();
  const archiver = await Archiver.start({ dirname: dir1, archive, log, pollMs: 100 });
  await sleep(300);
  await archiver.idle();
  const archSeconds = (performance.now() - t0) / 1000;
  const archCpu = selfCpu() - cpu0;
  const archNats = natsCpu() - nats0;
  const uploaded = archiver.stats.uploaded;
  await archiver.stop();
  const archBytes = uploaded * BLOCKSIZE;
  result.archive = {
    blocks: uploaded,
    bytes: archBytes,
    seconds: archSeconds,
    mbPerSecond: archBytes / 1e6 / archSeconds,
    ratioToRingWrite: archBytes / archSeconds / (bytes / writeSeconds),
    camerasAt4Mbit: Math.floor(archBytes / archSeconds / (4e6 / 8)),
    cpuSecondsPerCameraMinute: { archiver: archCpu / (archBytes / CAMERA_MINUTE_BYTES), natsServers: archNats / (archBytes / CAMERA_MINUTE_BYTES) },
  };

  // 3. Sustained: 64 cameras in real time with the archiver running.
  const dir2 = join(base, 'live');
  const live = await ValkkaMultiFS.newFromDirectory({ dirname: dir2, blocksize: BLOCKSIZE, nBlocks: Math.ceil((SECONDS * CAMERAS * 5e5 * 1.2) / BLOCKSIZE) + 16 });
  const liveArchiver = await Archiver.start({ dirname: dir2, archive, log, pollMs: 200 });
  let maxPending = 0;
  const sealed = [];
  live.on('block', (e) => sealed.push(e.seq));
  const start = performance.now();
  cpu0 = selfCpu();
  nats0 = natsCpu();
  for (let tick = 0; tick < SECONDS * FPS; tick++) {
    for (let c = 0; c < CAMERAS; c++) await live.write(frame());
    maxPending = Math.max(maxPending, liveArchiver.stats.pending);
    const due = start + ((tick + 1) * 1000) / FPS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const behindAtEnd = performance.now() - (start + SECONDS * 1000);
  await live.flush();
  const endWrite = performance.now();
  while (liveArchiver.stats.uploaded + liveArchiver.stats.missed < sealed.length) await sleep(50);
  const lagMs = performance.now() - endWrite;
  const liveCpu = selfCpu() - cpu0;
  const liveNats = natsCpu() - nats0;
  result.sustained = {
    seconds: SECONDS,
    writerBehindScheduleMs: Math.max(0, Math.round(behindAtEnd)),
    sealedBlocks: sealed.length,
    uploaded: liveArchiver.stats.uploaded,
    missed: liveArchiver.stats.missed,
    maxPendingBlocks: maxPending,
    archiveLagAfterEndMs: Math.round(lagMs),
    cpuSecondsPerCameraMinute: { thisProcess: liveCpu / ((SECONDS * CAMERAS) / 60), natsServers: liveNats / ((SECONDS * CAMERAS) / 60) },
    keptUp: liveArchiver.stats.missed === 0 && maxPending <= 4,
  };
  await liveArchiver.stop();
  await live.close();

  // 4. Catalog: 1000 cameras in 10 entries.
  const kv = await new Kvm(fleet.nc).create(CATALOG_BUCKET, { replicas: fleet.replicas(), history: 1, maxValueSize: 4 * 2 ** 20 });
  const now = Date.now();
  for (let node = 0; node < 10; node++) {
    const cameras = Array.from({ length: 100 }, (_, i) => ({
      streamId: i + 1,
      name: `camera ${node}-${i}`,
      codec: 'h264',
      width: 1280,
      height: 720,
      ranges: Array.from({ length: 20 }, (_, r) => [now - (20 - r) * 3_600_000, now - (20 - r) * 3_600_000 + 3_000_000]),
    }));
    const entry = { node: `node${node}`, url: `http://10.0.0.${node + 1}:8080`, heartbeatAt: now, startedAt: now, filesystems: [{ fsId: node.toString(16).padStart(32, '0'), name: 'cams', variant: 'multi', blocksize: BLOCKSIZE, nBlocks: 1000, cameras }] };
    await kv.put(`node.node${node}`, JSON.stringify(entry));
  }
  const listMs = [];
  const rawMs = [];
  for (let i = 0; i < 15; i++) {
    let s = performance.now();
    const nodes = await fleet.catalog.list();
    listMs.push(performance.now() - s);
    if (nodes.reduce((c, x) => c + x.filesystems[0].cameras.length, 0) !== 1000) throw new Error('catalog lost cameras');
    s = performance.now();
    const keys = [];
    for await (const k of await kv.keys('node.>')) keys.push(k);
    for (const k of keys) await kv.get(k);
    rawMs.push(performance.now() - s);
  }
  result.catalog = { cameras: 1000, nodes: 10, listMedianMs: median(listMs), rawKvGetsMedianMs: median(rawMs), ratio: median(listMs) / median(rawMs) };
} finally {
  await fleet.close();
  await cluster.close();
  rmSync(base, { recursive: true, force: true });
}

const f = (x, d = 2) => Number(x).toFixed(d);
console.log(`ring write (64 cameras from memory): ${f(result.ringWrite.mbPerSecond, 1)} MB/s, ${f(result.ringWrite.cpuSecondsPerCameraMinute, 4)} CPU s per camera-minute`);
console.log(
  `archive into R3 object store: ${f(result.archive.mbPerSecond, 1)} MB/s = ${f(result.archive.ratioToRingWrite, 3)} x ring write (${result.archive.camerasAt4Mbit} cameras at 4 Mbit/s); ` +
    `CPU s per camera-minute: archiver ${f(result.archive.cpuSecondsPerCameraMinute.archiver, 4)} + nats-servers ${f(result.archive.cpuSecondsPerCameraMinute.natsServers, 4)} (writer ${f(result.ringWrite.cpuSecondsPerCameraMinute, 4)})`,
);
const s = result.sustained;
console.log(`sustained ${CAMERAS} cameras x 4 Mbit/s for ${s.seconds} s: ${s.uploaded}/${s.sealedBlocks} archived, missed ${s.missed}, max pending ${s.maxPendingBlocks}, lag ${s.archiveLagAfterEndMs} ms, writer behind ${s.writerBehindScheduleMs} ms: ${s.keptUp ? 'kept up' : 'did NOT keep up'}`);
console.log(`catalog list of 1000 cameras: ${f(result.catalog.listMedianMs)} ms vs raw KV gets ${f(result.catalog.rawKvGetsMedianMs)} ms (${f(result.catalog.ratio)} x)`);
const out = join(here, '../../../bench/results/fleet-archive.json');
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`written ${out}`);
