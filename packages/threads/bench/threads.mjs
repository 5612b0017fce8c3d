// Bench of @valkka/threads: 64 camera streams recorded through ValkkaFSWriterThreads while 16 of them are
// played back (ValkkaFSReaderThread -> FileCacherThread on one shared PlaybackClock, 1x, a few seconds behind
// the live edge), frames crossing threads through shared-memory FrameQueues. Reports frames per second against
// what is demanded (64 x 25 written, 16 x 25 played), drops, stalls, the main event loop's delay p99, the
// cachers' emission jitter (each played frame's emission instant − its instant on the clock) against a plain
// setTimeout scheduler's jitter measured in the same run (bench/timer-worker.mjs), and the cachers' memory
// (payload bytes cached) against their byte budget. There is no peer program doing the same work (ffmpeg -c copy
// records to segment files, not through queues into a block ring), so rates are ratios to the demand.
//
//   node bench/threads.mjs [--seconds 40] [--streams 64] [--groups 8] [--played 16] [--kbps 1000] [--budget-mb 8]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ValkkaMultiFS } from '@valkka/fs';
import { FileCacherThread, FrameQueue, PlaybackClock, ValkkaFSReaderThread, ValkkaFSWriterThread } from '../dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 40);
const STREAMS = arg('streams', 64);
const GROUPS = arg('groups', 8);
const PLAYED = arg('played', 16);
const KBPS = arg('kbps', 1000);
const BUDGET_BYTES = arg('budget-mb', 8) * 1024 * 1024;
const FPS = 25;
const perGroup = STREAMS / GROUPS;
if (!Number.isInteger(perGroup) || PLAYED % perGroup !== 0) throw new Error('--streams must divide by --groups, --played by streams per group');
// A key frame once a second 4x the size of the others, averaging KBPS.
const deltaBytes = Math.round((KBPS * 1000) / 8 / (FPS + 3));
const keyBytes = 4 * deltaBytes;

const here = dirname(fileURLToPath(import.meta.url));

/** Saturation: frames from a worker to the main thread through a FrameQueue vs postMessage (the peer), same run. */
async function queueVersusPostMessage(count = 100_000, size = 5000) {
  const measure = async (via) => {
    const queue = FrameQueue.create({ capacity: 4 * 1024 * 1024 });
    const worker = new Worker(join(here, 'queue-producer.mjs'), { workerData: { via, buffer: queue.buffer, count, size } });
    const started = performance.now();
    let received = 0;
    let bytes = 0;
    if (via === 'queue') {
      for await (const entry of queue) {
        received++;
        bytes += entry.frame.payload.length;
      }
    } else {
      await new Promise((resolve) =>
        worker.on('message', (frame) => {
          received++;
          bytes += frame.payload.length;
          if (received === count) resolve();
        }),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    await worker.terminate();
    if (received !== count || bytes !== count * size) throw new Error(`${via}: received ${received} frames, ${bytes} bytes`);
    return { fps: count / seconds, MBps: bytes / seconds / 1e6 };
  };
  const queue = await measure('queue');
  const postMessage = await measure('postMessage');
  return { frames: count, frameBytes: size, queue, postMessage, ratio: queue.fps / postMessage.fps };
}
const base = await mkdtemp(join(tmpdir(), 'valkka-threads-bench-'));
const writers = [];
const readers = [];
const cachers = [];
const sealed = []; // per group: every block sealed, latest last
/** Playback starts this long after recording: the blocks it needs are sealed by then. */
const LAG_MS = 5000;

/** p50 / p99 / max of a list of lateness values (ms; early counts as 0, as the cacher's histogram does). */
function latenessSummary(values) {
  const sorted = values.map((v) => Math.max(0, v)).sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? 0 };
}
try {
  for (let g = 0; g < GROUPS; g++) {
    const dir = join(base, `group${g}`);
    await (await ValkkaMultiFS.newFromDirectory({ dirname: dir, blocksize: 1024 * 1024, nBlocks: 32 })).close();
    const writer = new ValkkaFSWriterThread({ dirname: dir, name: `writer${g}`, mode: 'drop', queueBytes: 4 * 1024 * 1024 });
    sealed.push([]);
    writer.on('block', (b) => sealed[g].push(b));
    await writer.start();
    for (let s = 1; s <= perGroup; s++) await writer.setSlotId(g * perGroup + s, g * perGroup + s);
    writers.push(writer);
  }
  const readGroups = PLAYED / perGroup;
  const played = { frames: 0, bytes: 0, expired: 0, stalls: 0, truncated: 0, counting: false };
  const consumers = [];
  const clock = PlaybackClock.system(); // one timeline for every played stream
  for (let g = 0; g < readGroups; g++) {
    const reader = new ValkkaFSReaderThread({ dirname: join(base, `group${g}`), name: `reader${g}` });
    reader.on('expired', () => played.expired++);
    await reader.start();
    const cacher = new FileCacherThread({ input: reader.output, clock, name: `cacher${g}`, budgetBytes: BUDGET_BYTES });
    cacher.on('nodata', () => played.counting && played.stalls++);
    cacher.on('limits', (e) => e.truncated && played.truncated++);
    await cacher.start();
    for (let s = 1; s <= perGroup; s++) {
      await reader.setSlotId(100 + g * perGroup + s, g * perGroup + s);
      await cacher.registerSlot(100 + g * perGroup + s);
    }
    readers.push(reader);
    cachers.push(cacher);
    // The decoder's place: frames as the cacher emits them at play time, on the main thread.
    consumers.push(
      (async () => {
        for await (const entry of cacher.output) {
          if (entry.kind !== 'frame' || !played.counting) continue;
          played.frames++;
          played.bytes += entry.frame.payload.length;
        }
      })(),
    );
  }
  /** What a manager does: ask each reader for the sealed blocks from just before the play position on. */
  const pullAround = (streamTime) => {
    for (const [g, reader] of readers.entries()) {
      const wanted = sealed[g].filter((b) => b.range[1] >= streamTime - 1000).slice(-8);
      if (wanted.length) void reader.pullBlocks(wanted.map((b) => b.index), wanted.map((b) => b.seq));
    }
  };

  const delay = monitorEventLoopDelay({ resolution: 1 });
  let maxRss = 0;
  const maxCached = cachers.map(() => 0);
  const memory = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    for (const [i, c] of cachers.entries()) maxCached[i] = Math.max(maxCached[i], c.counters().cachedBytes);
  }, 50);
  delay.enable();
  const started = performance.now();
  const recordStart = Date.now();
  const source = new Worker(join(here, 'source-worker.mjs'), {
    workerData: { queues: writers.map((w) => w.input.buffer), streamsPerGroup: perGroup, fps: FPS, keyBytes, deltaBytes, seconds: SECONDS },
  });
  const sourceDone = new Promise((resolve, reject) => {
    source.once('message', resolve);
    source.once('error', reject);
  });
  // Playback: seek every cacher to a second into the recording, feed them, play at 1x, keep feeding each second.
  await new Promise((r) => setTimeout(r, LAG_MS));
  const playFrom = recordStart + 1000;
  const ready = cachers.map((c) => new Promise((resolve) => c.once('limits', resolve)));
  await Promise.all(cachers.map((c) => c.seek(playFrom)));
  pullAround(playFrom);
  await Promise.all(ready);
  await Promise.all(cachers.map((c) => c.play()));
  played.counting = true;
  const playStarted = performance.now();
  const puller = setInterval(() => pullAround(clock.streamTime()), 1000);
  // The jitter peer runs meanwhile, for as many frames as the cachers emit (it ends a little before the source).
  const timerSeconds = Math.max(1, SECONDS - LAG_MS / 1000 - 3);
  const timers = new Worker(join(here, 'timer-worker.mjs'), { workerData: { streams: PLAYED, fps: FPS, seconds: timerSeconds } });
  const timerLateness = new Promise((resolve, reject) => {
    timers.once('message', resolve);
    timers.once('error', reject);
  });
  const sourceResult = await sourceDone;
  const setTimeoutJitter = latenessSummary(await timerLateness);
  await timers.terminate();
  const recordSeconds = (performance.now() - started) / 1000;
  const playSeconds = (performance.now() - playStarted) / 1000;
  played.counting = false;
  delay.disable();
  clearInterval(puller);
  clearInterval(memory);

  await Promise.all(writers.map((w) => w.close()));
  await Promise.all(cachers.map((c) => c.close()));
  await Promise.all(readers.map((r) => r.close()));
  await Promise.all(consumers);

  const written = writers.reduce((n, w) => n + w.stats().written, 0);
  const writtenBytes = writers.reduce((n, w) => n + w.stats().writtenBytes, 0);
  const drops = writers.reduce((n, w) => n + w.stats().queue.drops, 0);
  const highWater = Math.max(...writers.map((w) => w.stats().queue.highWater));
  const demandedWriteFps = STREAMS * FPS;
  const demandedReadFps = PLAYED * FPS;
  const readFps = played.frames / playSeconds;
  // Emission jitter per cacher (histograms in shared memory, read now); the worst cacher is the figure.
  const cacherJitter = cachers.map((c) => c.lateness());
  const worst = (key) => Math.max(...cacherJitter.map((j) => j[key]));
  const result = {
    name: 'threads',
    peer: 'none comparable (ffmpeg -c copy segment recording does not move frames through queues into a block ring): figures are ratios to the demanded frame rate',
    config: { seconds: SECONDS, streams: STREAMS, groups: GROUPS, played: PLAYED, kbps: KBPS, fps: FPS, keyBytes, deltaBytes, blocksize: 1024 * 1024, nBlocks: 32, cacherBudgetBytes: BUDGET_BYTES },
    write: {
      demandedFps: demandedWriteFps,
      fps: written / recordSeconds,
      ratioToDemand: written / recordSeconds / demandedWriteFps,
      frames: written,
      sourceFrames: sourceResult.pushed + sourceResult.refused,
      MBps: writtenBytes / recordSeconds / 1e6,
      drops,
      queueHighWaterBytes: highWater,
      sourceLateMs: sourceResult.lateMs,
    },
    play: {
      demandedFps: demandedReadFps,
      fps: readFps,
      ratioToDemand: readFps / demandedReadFps,
      frames: played.frames,
      seconds: playSeconds,
      behindLiveMs: LAG_MS - 1000,
      stalls: played.stalls,
      expiredBlocks: played.expired,
      through: 'ValkkaFSReaderThread -> FileCacherThread (shared PlaybackClock, 1x) -> main thread',
    },
    mainEventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    emissionJitterMs: {
      what: 'per played frame: emission instant in the cacher worker - its instant on the shared PlaybackClock (early = 0)',
      cachers: { p50: worst('p50'), p99: worst('p99'), max: worst('max'), frames: cacherJitter.reduce((n, j) => n + j.count, 0), perCacher: cacherJitter },
      peerSetTimeout: { ...setTimeoutJitter, streams: PLAYED, fps: FPS, seconds: timerSeconds },
      p99RatioToPeer: worst('p99') / setTimeoutJitter.p99,
    },
    cacherMemory: {
      what: 'payload bytes held by each cacher (both caches), sampled every 50 ms, against its budgetBytes',
      budgetBytes: BUDGET_BYTES,
      maxCachedBytes: maxCached,
      maxRatioToBudget: Math.max(...maxCached) / BUDGET_BYTES,
      truncatedTransmissions: played.truncated,
    },
    maxRssMB: maxRss / 1e6,
    goals: { drops: 0, eventLoopDelayP99Ms: 10, emissionJitterP99Ms: 5, cachedBytesRatioToBudget: 1 },
  };
  result.queueTransfer = await queueVersusPostMessage();
  console.log(JSON.stringify(result, null, 2));
  const out = join(here, '../../../bench/results/threads.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `threads: write ${result.write.fps.toFixed(0)} fps = ${result.write.ratioToDemand.toFixed(3)} x demand (${demandedWriteFps}), ` +
      `play ${readFps.toFixed(0)} fps = ${result.play.ratioToDemand.toFixed(3)} x demand (${demandedReadFps}, ${played.stalls} stalls), drops ${drops}, ` +
      `event-loop p99 ${result.mainEventLoopDelayMs.p99.toFixed(2)} ms, ` +
      `emission jitter p99 ${worst('p99').toFixed(2)} ms (setTimeout peer ${setTimeoutJitter.p99.toFixed(2)} ms), ` +
      `cached ${(Math.max(...maxCached) / 2 ** 20).toFixed(1)} MiB of ${(BUDGET_BYTES / 2 ** 20).toFixed(0)} MiB budget, max RSS ${result.maxRssMB.toFixed(0)} MB; ` +
      `queue worker->main ${(result.queueTransfer.queue.fps / 1000).toFixed(0)}k fps = ${result.queueTransfer.ratio.toFixed(2)} x postMessage`,
  );
} finally {
  await Promise.all([...writers, ...cachers, ...readers].map((t) => t.terminate().catch(() => undefined)));
  await rm(base, { recursive: true, force: true });
}
