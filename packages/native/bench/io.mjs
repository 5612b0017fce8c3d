// Sequential 4 MiB-range throughput of both backends, as ratios to dd measured in the
// same run on the same file: native O_DIRECT vs `dd oflag/iflag=direct`, fallback
// (buffered + one fdatasync) vs `dd conv=fdatasync`; writes overwrite the same file on both sides
// (dd with conv=notrunc). Writes bench/results/native-io.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fallbackBackend, nativeBackend, nativeUnavailableReason } from '../dist/index.js';

const MiB = 1 << 20;
const RANGE = 4 * MiB;
const TOTAL_MIB = Number(process.env.VALKKA_BENCH_MIB ?? 256);
const COUNT = TOTAL_MIB / 4;
const ROUNDS = Number(process.env.VALKKA_BENCH_ROUNDS ?? 5);
const resultsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/results');

const dir = mkdtempSync(join(process.env.VALKKA_BENCH_DIR ?? tmpdir(), 'valkka-native-bench-'));
const target = join(dir, 'bench.bin');

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function dd(args) {
  const start = process.hrtime.bigint();
  const run = spawnSync('dd', [...args, `bs=${RANGE}`, `count=${COUNT}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.status !== 0) throw new Error(`dd ${args.join(' ')} failed: ${run.stderr}`);
  return seconds(start);
}

async function backendWrite(api, direct) {
  const file = await api.open(target, { write: true, create: true, direct });
  const buffer = api.allocAligned(RANGE);
  buffer.fill(0x5a);
  const start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) await file.write(buffer, i * RANGE);
  if (!direct) await file.datasync();
  const elapsed = seconds(start);
  await file.close();
  return elapsed;
}

async function backendRead(api, direct) {
  const file = await api.open(target, { direct });
  const buffer = api.allocAligned(RANGE);
  const start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) await file.read(buffer, i * RANGE);
  const elapsed = seconds(start);
  await file.close();
  return elapsed;
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * ROUNDS rounds, peer and subject one after the other in each (who goes first alternates, so
 * drift hits both alike); the ratio is the median of the per-round ratios.
 */
async function compare(peer, subject) {
  const peerTimes = [];
  const subjectTimes = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      peerTimes.push(peer());
      subjectTimes.push(await subject());
    } else {
      subjectTimes.push(await subject());
      peerTimes.push(peer());
    }
  }
  const mbps = (s) => Math.round(TOTAL_MIB / s);
  const ratios = peerTimes.map((p, i) => Number((p / subjectTimes[i]).toFixed(3)));
  return { peerMiBps: mbps(median(peerTimes)), subjectMiBps: mbps(median(subjectTimes)), ratio: median(ratios), ratios };
}

const results = { name: 'native-io', totalMiB: TOTAL_MIB, rangeMiB: RANGE / MiB, rounds: ROUNDS, note: 'ratio = median over rounds of (subject throughput / dd throughput of the same round)' };
try {
  if (nativeBackend) {
    results.nativeDirectWrite = await compare(() => dd(['if=/dev/zero', `of=${target}`, 'oflag=direct', 'conv=notrunc']), () => backendWrite(nativeBackend, true));
    results.nativeDirectRead = await compare(() => dd([`if=${target}`, 'of=/dev/null', 'iflag=direct']), () => backendRead(nativeBackend, true));
  } else {
    results.nativeSkipped = nativeUnavailableReason;
  }
  results.fallbackWriteDatasync = await compare(() => dd(['if=/dev/zero', `of=${target}`, 'conv=notrunc,fdatasync']), () => backendWrite(fallbackBackend, false));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(JSON.stringify(results, null, 2));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'native-io.json'), `${JSON.stringify(results, null, 2)}\n`);
