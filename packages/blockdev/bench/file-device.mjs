// Sequential write bandwidth of FileDevice (native and fallback backends) against
// `dd if=/dev/zero of=F bs=1M count=N oflag=direct` on the same disk in the same run.
// Env: BENCH_BYTES (default 2 GiB), BENCH_BLOCK (default 1 MiB), BENCH_DIR (default the OS temp dir).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileDevice, backends } from '../dist/index.js';

const MiB = 1024 * 1024;
const bytes = Number(process.env.BENCH_BYTES ?? 2 * 1024 * MiB);
const block = Number(process.env.BENCH_BLOCK ?? MiB);
if (!(bytes > 0 && block > 0 && block % MiB === 0 && bytes % block === 0)) {
  throw new Error(`BENCH_BYTES (${bytes}) must be a positive multiple of BENCH_BLOCK (${block}), itself a multiple of 1 MiB`);
}
const resultFile = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/results/blockdev-file-device.json');
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'blockdev-bench-'));
const mbps = (seconds) => bytes / 1e6 / seconds;

function dd() {
  const file = join(dir, 'dd.out');
  const start = process.hrtime.bigint();
  const result = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${bytes / MiB}`, 'oflag=direct'], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  rmSync(file, { force: true });
  if (result.status !== 0) throw new Error(`dd failed: ${result.stderr}`);
  return { seconds, mbps: mbps(seconds) };
}

/** One pass of block-sized writes over the whole device plus the final fdatasync. */
async function timedPass(device, buffer) {
  const start = process.hrtime.bigint();
  for (let offset = 0; offset < bytes; offset += block) await device.write(offset, buffer);
  await device.flush();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, mbps: mbps(seconds) };
}

/**
 * Reserve (untimed, like a format), then time two passes: the first lap writes into freshly
 * reserved (unwritten) extents, the second overwrites, as the ring does from its second lap on.
 */
async function fileDevice(backend) {
  const file = join(dir, 'device.out');
  const device = await FileDevice.create(file, bytes, { backend });
  const buffer = device.allocBuffer(block);
  for (let i = 0; i < buffer.length; i++) buffer[i] = i & 0xff;
  const firstLap = await timedPass(device, buffer);
  const overwrite = await timedPass(device, buffer);
  const direct = device.direct;
  await device.close();
  rmSync(file, { force: true });
  return { ...firstLap, overwrite, direct };
}

try {
  // dd before and after the devices, so a disk that speeds up or slows down during the run shows;
  // the ratios use the faster dd (the conservative choice).
  const ddFirst = dd();
  const native = backends.native ? await fileDevice(backends.native) : null;
  const fallback = await fileDevice(backends.fallback);
  const ddLast = dd();
  const ddBest = ddFirst.mbps >= ddLast.mbps ? ddFirst : ddLast;
  const result = {
    bench: 'blockdev-file-device',
    date: new Date().toISOString(),
    bytes,
    blockSize: block,
    dir,
    dd: { runs: [ddFirst, ddLast], mbps: ddBest.mbps },
    native,
    nativeUnavailable: backends.native ? undefined : backends.fallback.capabilities().fallbackReason,
    fallback,
    ratio: {
      nativeToDd: native ? native.mbps / ddBest.mbps : null,
      fallbackToDd: fallback.mbps / ddBest.mbps,
      nativeOverwriteToDd: native ? native.overwrite.mbps / ddBest.mbps : null,
      fallbackOverwriteToDd: fallback.overwrite.mbps / ddBest.mbps,
    },
    goal: { nativeToDd: 0.9 },
  };
  const fmt = (x) => (x === null ? 'n/a' : x.toFixed(0));
  console.log(`FileDevice sequential write, ${bytes / MiB} MiB in ${block / MiB} MiB blocks, then fdatasync (dir ${dir})`);
  console.log(`  dd oflag=direct   ${fmt(ddFirst.mbps)} / ${fmt(ddLast.mbps)} MB/s (best ${fmt(ddBest.mbps)})`);
  const ratio = (x) => (x === null ? 'n/a' : x.toFixed(2));
  const line = (r) => (r ? `${fmt(r.mbps)} MB/s first lap, ${fmt(r.overwrite.mbps)} MB/s overwrite (O_DIRECT ${r.direct})` : `unavailable: ${result.nativeUnavailable}`);
  console.log(`  native            ${line(native)}`);
  console.log(`  fallback          ${line(fallback)}`);
  console.log(`  native/dd   ${ratio(result.ratio.nativeToDd)} first lap, ${ratio(result.ratio.nativeOverwriteToDd)} overwrite (goal >= 0.9)`);
  console.log(`  fallback/dd ${ratio(result.ratio.fallbackToDd)} first lap, ${ratio(result.ratio.fallbackOverwriteToDd)} overwrite`);
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${resultFile}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
