// The write path with a quarter of the ring protected in scattered ranges, as a ratio to the same
// run without protection, in the same process: a ValkkaMultiFS on a FileDevice (O_DIRECT when
// available), 16 streams of 4 Mbit/s, 25 fps H.264 access units. Each case first fills the ring once
// (untimed); the protected case then protects 4 ranges spread over it (about a quarter of the blocks),
// and both write two more rings' worth (timed): the writer wraps around the protected blocks, with a
// json hint per skip and the protected set recomputed per block. Cases alternate, three of each; the
// median ratio is reported (goal >= 0.95). JSON to bench/results/fs-retention.json.
// Sizes: VALKKA_BENCH_RING (bytes, default 256 MiB), VALKKA_BENCH_DIR (default the temp dir).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ValkkaMultiFS, getInd } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const RING = Number(process.env.VALKKA_BENCH_RING ?? 256 * 2 ** 20);
const BLOCKSIZE = 2 * 2 ** 20;
const N = Math.max(16, Math.floor(RING / BLOCKSIZE));
const STREAMS = 16;
const FPS = 25;
const BITRATE = 4_000_000 / 8;
const REPEAT = 3;
const base = mkdtempSync(join(process.env.VALKKA_BENCH_DIR ?? tmpdir(), 'valkkafs-retention-bench-'));

function accessUnit(size, key, seed) {
  const out = new Uint8Array(size);
  const head = key ? [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88] : [0, 0, 0, 1, 0x41, 0x9a];
  out.set(head);
  for (let i = head.length; i < size; i++) out[i] = ((seed * 31 + i * 7) % 255) + 1;
  return out;
}
const p = Math.round(BITRATE / (FPS - 1 + 5));
const gops = Array.from({ length: STREAMS }, (_, s) => Array.from({ length: FPS }, (_, i) => accessUnit(i === 0 ? 5 * p : p, i === 0, s + i)));

async function runCase(protectedCase, round) {
  const dir = join(base, `${protectedCase ? 'prot' : 'plain'}-${round}`);
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: BLOCKSIZE, nBlocks: N });
  let tick = 0;
  const write = async (bytes) => {
    let done = 0;
    while (done < bytes) {
      const ts = 1_700_000_000_000 + tick * 40;
      for (let s = 0; s < STREAMS; s++) {
        const payload = gops[s][tick % FPS];
        await fs.write({ streamId: s + 1, subsession: 0, timestamp: ts, mediaType: 0, codec: 27, flags: 0, payload });
        done += payload.length;
      }
      tick++;
    }
    return done;
  };
  await write(N * BLOCKSIZE);
  await fs.flush();
  let share = 0;
  if (protectedCase) {
    // Four ranges spread over the ring, each one key-frame interval (a few blocks: all streams'
    // key frames come at the same tick), widened until a quarter of the ring is held.
    const order = fs.blockTable.timeOrder();
    const t = (k) => fs.blockTable.mstime1(order[Math.min(order.length - 1, k)]);
    let span = 0;
    const heldWith = (w) => new Set([0, 1, 2, 3].flatMap((r) => getInd(fs.blockTable, [t(Math.floor(((r + 0.5) * order.length) / 4)), t(Math.floor(((r + 0.5) * order.length) / 4) + w)])));
    while (heldWith(span + 1).size <= N / 4) span++;
    for (let r = 0; r < 4; r++) {
      const k = Math.floor(((r + 0.5) * order.length) / 4);
      await fs.protect({ from: t(k), to: t(k + span) });
    }
    const held = new Set((await fs.listProtections()).flatMap((x) => getInd(fs.blockTable, [x.from, x.to])));
    share = held.size / N;
  }
  const t0 = performance.now();
  const bytes = await write(2 * N * BLOCKSIZE);
  await fs.flush();
  const seconds = (performance.now() - t0) / 1000;
  await fs.close();
  rmSync(dir, { recursive: true, force: true });
  return { mbps: bytes / 1e6 / seconds, share };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const plain = [];
  const prot = [];
  const shares = [];
  for (let r = 0; r < REPEAT; r++) {
    plain.push((await runCase(false, r)).mbps);
    const x = await runCase(true, r);
    prot.push(x.mbps);
    shares.push(x.share);
  }
  const ratios = plain.map((m, i) => prot[i] / m);
  const out = {
    ring: { blocks: N, blocksize: BLOCKSIZE, streams: STREAMS },
    protectedShare: median(shares),
    plainMBps: plain,
    protectedMBps: prot,
    ratios,
    ratio: median(ratios),
    goal: 0.95,
  };
  console.log(
    `retention: ${N} blocks of ${BLOCKSIZE / 2 ** 20} MiB, ${(out.protectedShare * 100).toFixed(0)} % protected in 4 ranges | without ${median(plain).toFixed(0)} MB/s | with ${median(prot).toFixed(0)} MB/s | ratio ${out.ratio.toFixed(3)} (goal >= 0.95)`,
  );
  const resultsDir = resolve(here, '../../../bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'fs-retention.json'), `${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
