// Sequential write bandwidth of FileDevice (native and fallback backends) against
// `dd if=/dev/zero of=F bs=<block> oflag=direct` on the same disk in the same run.
//
// The disk is noisy, so the run is made of rounds: each round runs dd and every FileDevice case
// once, in an order rotated from round to round, and a case's ratio in a round is its MB/s over
// that round's dd. The summary is the median over rounds.
//
// Env: BENCH_BYTES (default 2 GiB), BENCH_BLOCK (1 MiB), BENCH_ROUNDS (5), BENCH_QUEUE_DEPTH (4),
// BENCH_DIR (default the OS temp dir).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileDevice, backends } from '../dist/index.js';

const MiB = 1024 * 1024;
const bytes = Number(process.env.BENCH_BYTES ?? 2 * 1024 * MiB);
const block = Number(process.env.BENCH_BLOCK ?? MiB);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const queueDepth = Number(process.env.BENCH_QUEUE_DEPTH ?? 4);
if (!(block > 0 && block % 4096 === 0 && bytes > 0 && bytes % block === 0)) {
  throw new Error(`BENCH_BYTES (${bytes}) must be a positive multiple of BENCH_BLOCK (${block}), itself a multiple of 4096`);
}
if (!(Number.isInteger(rounds) && rounds > 0 && Number.isInteger(queueDepth) && queueDepth > 1)) {
  throw new Error(`BENCH_ROUNDS (${rounds}) must be a positive integer and BENCH_QUEUE_DEPTH (${queueDepth}) an integer above 1`);
}
const resultFile = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/results/blockdev-file-device.json');
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'blockdev-bench-'));

const mbps = (seconds) => bytes / 1e6 / seconds;
const elapsedSince = (start) => Number(process.hrtime.bigint() - start) / 1e9;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Removes a bench file and commits the removal before the next step starts: with the `discard` mount
 * option (as here) the freed extents are discarded at the journal commit, which would otherwise land
 * in the middle of whichever step runs next.
 */
function removeAndSettle(file) {
  rmSync(file, { force: true });
  spawnSync('sync', ['-f', dir]);
}

/** dd into a fresh file, as a user would run it; the time includes starting the process. */
function dd() {
  const file = join(dir, 'dd.out');
  const start = process.hrtime.bigint();
  const run = spawnSync('dd', ['if=/dev/zero', `of=${file}`, `bs=${block}`, `count=${bytes / block}`, 'oflag=direct'], { encoding: 'utf8' });
  const seconds = elapsedSince(start);
  removeAndSettle(file);
  if (run.status !== 0) throw new Error(`dd failed: ${run.stderr}`);
  return mbps(seconds);
}

/**
 * One pass of block-sized writes over the whole device, with `depth` writes in flight (1: each
 * write awaited before the next, as dd and the ring writer do), then one fdatasync.
 */
async function timedPass(device, buffers) {
  const start = process.hrtime.bigint();
  let next = 0;
  const lane = async (buffer) => {
    while (next < bytes) {
      const offset = next;
      next += block;
      await device.write(offset, buffer);
    }
  };
  await Promise.all(buffers.map(lane));
  await device.flush();
  return mbps(elapsedSince(start));
}

/**
 * Reserve (untimed, like a format), then time two passes: the first lap writes into freshly
 * reserved (unwritten) extents, the second overwrites them, as the ring does from its second lap on.
 */
async function fileDevice(backend, depth) {
  const file = join(dir, 'device.out');
  const device = await FileDevice.create(file, bytes, { backend });
  try {
    const buffers = Array.from({ length: depth }, (_, lane) => device.allocBuffer(block).fill(lane + 1));
    const firstLap = await timedPass(device, buffers);
    const overwrite = await timedPass(device, buffers);
    return { firstLap, overwrite, direct: device.direct };
  } finally {
    await device.close();
    removeAndSettle(file);
  }
}

const cases = [
  ...(backends.native
    ? [
        { name: 'native', note: 'one write in flight', run: () => fileDevice(backends.native, 1) },
        { name: `native-qd${queueDepth}`, note: `${queueDepth} writes in flight`, run: () => fileDevice(backends.native, queueDepth) },
      ]
    : []),
  { name: 'fallback', note: 'buffered, one write in flight, fdatasync at the end', run: () => fileDevice(backends.fallback, 1) },
];
const steps = [{ name: 'dd', run: async () => dd() }, ...cases];

try {
  console.log(`FileDevice sequential write, ${bytes / MiB} MiB in ${block / MiB} MiB writes then fdatasync, ${rounds} rounds (dir ${dir})`);
  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const measured = {};
    for (let i = 0; i < steps.length; i++) {
      const step = steps[(i + round) % steps.length];
      measured[step.name] = await step.run();
    }
    perRound.push(measured);
    const line = cases.map((c) => `${c.name} ${measured[c.name].firstLap.toFixed(0)}/${measured[c.name].overwrite.toFixed(0)}`).join(', ');
    console.log(`  round ${round + 1}: dd ${measured.dd.toFixed(0)} MB/s; first lap/overwrite MB/s: ${line}`);
  }

  const summary = {};
  for (const c of cases) {
    const ratios = (pass) => perRound.map((r) => r[c.name][pass] / r.dd);
    summary[c.name] = {
      note: c.note,
      direct: perRound[0][c.name].direct,
      firstLap: { mbps: median(perRound.map((r) => r[c.name].firstLap)), ratioToDd: median(ratios('firstLap')), ratios: ratios('firstLap') },
      overwrite: { mbps: median(perRound.map((r) => r[c.name].overwrite)), ratioToDd: median(ratios('overwrite')), ratios: ratios('overwrite') },
    };
  }
  const result = {
    bench: 'blockdev-file-device',
    date: new Date().toISOString(),
    bytes,
    blockSize: block,
    rounds,
    dir,
    note: 'ratioToDd = median over rounds of (case MB/s / dd oflag=direct MB/s of the same round); dd writes a fresh file, FileDevice a fallocated one',
    dd: { mbps: median(perRound.map((r) => r.dd)), runs: perRound.map((r) => r.dd) },
    cases: summary,
    nativeUnavailable: backends.native ? undefined : backends.fallback.capabilities().fallbackReason,
    goal: { nativeToDd: 0.9, met: backends.native ? summary.native.firstLap.ratioToDd >= 0.9 : null },
  };

  console.log(`  median dd oflag=direct: ${result.dd.mbps.toFixed(0)} MB/s`);
  for (const [name, s] of Object.entries(summary)) {
    console.log(
      `  ${name.padEnd(10)} ${s.firstLap.mbps.toFixed(0)} MB/s first lap (${s.firstLap.ratioToDd.toFixed(2)} x dd), ` +
        `${s.overwrite.mbps.toFixed(0)} MB/s overwrite (${s.overwrite.ratioToDd.toFixed(2)} x dd); O_DIRECT ${s.direct}; ${s.note}`,
    );
  }
  if (!backends.native) console.log(`  native unavailable: ${result.nativeUnavailable}`);
  else console.log(`  goal native >= 0.9 x dd (first lap, median): ${result.goal.met ? 'met' : 'NOT met'}`);
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${resultFile}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
