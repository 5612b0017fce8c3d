// Bench of LiveThread: N cameras recorded over RTSP (TCP) by LiveThreads into ValkkaFS, beside N
// `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` recorders (what Frigate and Shinobi run) on the same
// streams, in the same run. The camera is GStreamer's RTSP server (tooling/vitest/rtsp-server.py), one shared live H.264
// media (640x360, 25 fps, a key frame a second) that every client receives. Reports CPU seconds per
// camera-minute of each (our recorder runs in a child process so its whole CPU - main thread and workers - is
// measured by getrusage; ffmpeg's from /proc/PID/stat), their ratio (goal <= 0.5), frames and losses.
//
// Losses are counted inside the measured window only: GStreamer's shared media skips one RTP sequence number
// for every client already playing whenever another client joins (seen over TCP, where nothing can be lost
// on the way), so the joins of the warm-up are left out.
//
// --fs single (default): a ValkkaSingleFS per camera, the filesystems spread over SharedWriterThreads (a worker
//   per core, --workers) each fed by its own LiveThread; --fs multi: one ValkkaMultiFS (a SharedWriterThread,
//   one LiveThread); --fs none: frames into a queue the main thread empties (the RTSP client alone).
// --cameras 8,32 runs each count in turn (ours and ffmpeg's side by side each time).
// --sweep: the most cameras on this machine with no loss: ours alone at 8, 16, 32, ... until a camera loses
//   packets or frames, falls below 23.5 fps, or our process needs more than --max-cores; then ffmpeg alone at the
//   same counts for its CPU.
//
//   node bench/live.mjs [--cameras 8,32] [--seconds 30] [--warmup 20] [--workers N (default: one per 32 cameras, at most one per core)] [--fs single|multi|none]
//                       [--sweep [--max-cameras 128] [--max-cores 1.6]] [--read-batch MS] [--writer-batch MS]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RTSP_SERVER_SCRIPT } from '@valkka/vitest-preset/rtsp-camera';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', 30));
// Node compiles its hot code over the first ~20 s (TurboFan on helper threads): a recorder runs for days, so the
// window starts after that (the early cost was about 1.5 x the steady one).
const WARMUP = Number(arg('warmup', 20));
const WORKERS = arg('workers') === undefined ? undefined : Number(arg('workers')); // default: as the CLI (recordingGroups)
const FS = arg('fs', 'single');
const SWEEP = process.argv.includes('--sweep');
const MAX_CORES = Number(arg('max-cores', 1.6));
const MAX_CAMERAS = Number(arg('max-cameras', 128));
const WRITER_BATCH_MS = arg('writer-batch') === undefined ? undefined : Number(arg('writer-batch'));
const READ_BATCH_MS = arg('read-batch') === undefined ? undefined : Number(arg('read-batch'));
const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = 100;

if (process.argv.includes('--child')) await child(Number(arg('cameras')));
else await main();

/** The recorder under test, in its own process: N cameras, LiveThreads and SharedWriterThreads. */
async function child(cameras) {
  const { ValkkaMultiFS, ValkkaSingleFS } = await import('@valkka/fs');
  const { FrameQueue, LiveThread, SharedWriterThread, recordingGroups } = await import('../dist/index.js');
  const [url, base] = [arg('url'), arg('base')];
  const groups = FS === 'multi' || FS === 'none' ? 1 : Math.min(WORKERS ?? recordingGroups(cameras), cameras);
  // Camera i goes to group i % groups; in a Multi FS every camera is a stream of the one filesystem.
  const members = Array.from({ length: groups }, (_v, g) => Array.from({ length: cameras }, (_x, i) => i).filter((i) => i % groups === g));
  const writers = [];
  if (FS !== 'none') {
    for (const [g, cams] of members.entries()) {
      const dirs = FS === 'multi' ? [join(base, 'multi')] : cams.map((i) => join(base, `cam${i}`));
      for (const dirname of dirs) {
        const cls = FS === 'multi' ? ValkkaMultiFS : ValkkaSingleFS;
        await (await cls.newFromDirectory({ dirname, blocksize: FS === 'multi' ? 1 << 20 : 256 << 10, nBlocks: FS === 'multi' ? 64 : 8 })).close();
      }
      const writer = new SharedWriterThread({
        name: `writer-${g}`,
        filesystems: dirs.map((dirname) => ({ dirname, mode: 'drop', queueBytes: 1 << 20 })),
        ...(WRITER_BATCH_MS ? { batchMs: WRITER_BATCH_MS } : {}),
      });
      await writer.start();
      for (const [k, i] of cams.entries()) await (FS === 'multi' ? writer.setSlotId(0, i + 1, i + 1) : writer.setSlotId(k, i + 1, 1));
      writers.push(writer);
    }
  }
  const sink = FS === 'none' ? FrameQueue.create({ capacity: 8 << 20, mode: 'drop' }) : undefined;
  const drain = sink && setInterval(() => {
    while (sink.pop());
  }, 100);
  const lives = members.map((_c, g) => new LiveThread({ name: `live-${g}`, outputs: sink ? [sink] : writers[g].inputs, ...(READ_BATCH_MS ? { readBatchMs: READ_BATCH_MS } : {}) }));
  // Sequence gaps each camera logs (LiveCamera names the missing numbers), gathered by first missing number.
  let window = false;
  const gaps = new Map();
  for (const l of lives) {
    l.on('log', (m) => {
      const g = /^(cam\d+): lost (\d+) RTP packets: sequence (\d+)\./.exec(m);
      if (!g || !window) return;
      const key = `${g[3]}+${g[2]}`;
      gaps.set(key, [...(gaps.get(key) ?? []), g[1]]);
    });
  }
  for (const l of lives) await l.start();
  for (const [g, cams] of members.entries()) {
    for (const [k, i] of cams.entries()) await lives[g].addCamera({ name: `cam${i}`, url, slot: i + 1, output: FS === 'single' ? k : 0 });
  }
  process.stdout.write('STARTED\n');
  await sleep(WARMUP * 1000);
  const totals = () => {
    const stats = lives.flatMap((l) => l.cameraStats());
    const sum = (key) => stats.reduce((n, s) => n + s[key], 0);
    return { frames: sum('frames'), lostPackets: sum('lostPackets'), droppedFrames: sum('droppedFrames'), reconnects: sum('reconnects'), perCamera: stats.map((s) => s.frames) };
  };
  const queueDrops = () => (sink ? sink.stats().drops : writers.reduce((n, w) => n + w.inputs.reduce((m, q) => m + q.stats().drops, 0), 0));
  // Per-camera counts come with each thread's 'stats' event (every second): the window runs from fresh ones to fresh ones.
  const fresh = () => Promise.all(lives.map((l) => new Promise((resolve) => l.once('stats', resolve))));
  await fresh();
  const before = totals();
  const drops0 = queueDrops();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  window = true;
  await sleep(SECONDS * 1000 - 500);
  await fresh();
  window = false;
  const cpu1 = process.cpuUsage(cpu0);
  const after = totals();
  const seconds = (performance.now() - t0) / 1000;
  const drops = queueDrops() - drops0;
  for (const l of lives) await l.close();
  for (const w of writers) await w.close();
  clearInterval(drain);
  const written = sink ? sink.stats().frames : writers.reduce((n, w) => n + w.inputs.reduce((m, _q, i) => m + w.stats(i).written, 0), 0);
  const slowest = Math.min(...after.perCamera.map((f, i) => f - (before.perCamera[i] ?? 0)));
  process.stdout.write(
    `RESULT ${JSON.stringify({
      cpuSeconds: (cpu1.user + cpu1.system) / 1e6,
      seconds,
      frames: after.frames - before.frames,
      slowestCameraFps: slowest / seconds,
      written,
      queueDrops: drops,
      lostPackets: after.lostPackets - before.lostPackets,
      droppedFrames: after.droppedFrames - before.droppedFrames,
      reconnects: after.reconnects - before.reconnects,
      lostPacketsWhileJoining: before.lostPackets,
      // A gap every camera saw at the same sequence numbers was never sent by the (shared) server.
      gaps: [...gaps].slice(0, 20).map(([key, cams]) => ({ sequence: key, cameras: cams.length, ofCameras: cameras })),
    })}\n`,
  );
}

async function cpuTicks(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return Number.NaN; // exited
  }
}

async function save(name, result) {
  const out = join(here, '../../../bench/results', name);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}

/** A process that exited by a signal (GStreamer's server aborts) has no exitCode, only a signalCode. */
function exited(p) {
  return p.exitCode !== null || p.signalCode !== null;
}

function waitExit(p) {
  return exited(p) ? Promise.resolve() : new Promise((resolve) => p.once('exit', resolve));
}

/** One measurement: ours (unless ffmpegOnly) and/or N ffmpegs (unless oursOnly), concurrently, over the same window. */
async function measure({ base, cameras, fs = FS, ours: withOurs, ffmpeg: withFfmpeg, children }) {
  const { server, url } = await startServer(children);
  const serverPid = server.pid;
  let oursOut = '';
  let ours;
  if (withOurs) {
    ours = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', '--url', url, '--base', join(base, `valkka-${cameras}`), '--cameras', String(cameras), '--seconds', String(SECONDS), '--warmup', String(WARMUP), ...(WORKERS === undefined ? [] : ['--workers', String(WORKERS)]), '--fs', fs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(ours);
    ours.stdout.on('data', (d) => (oursOut += d));
    while (!oursOut.includes('STARTED')) {
      if (exited(ours)) throw new Error(`the recorder exited before it started: ${oursOut}`);
      await sleep(50);
    }
  }
  const ffmpegs = [];
  if (withFfmpeg) {
    // One process per camera, 10-second MP4 segments.
    await mkdir(join(base, `ffmpeg-${cameras}`), { recursive: true });
    for (let i = 0; i < cameras; i++) {
      ffmpegs.push(spawn('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-c', 'copy', '-f', 'segment', '-segment_time', '10', '-reset_timestamps', '1', join(base, `ffmpeg-${cameras}`, `cam${i}-%03d.mp4`)], { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    children.push(...ffmpegs);
  }
  await sleep(WARMUP * 1000);
  const t0 = await Promise.all(ffmpegs.map((p) => cpuTicks(p.pid)));
  const s0 = await cpuTicks(serverPid);
  await sleep(SECONDS * 1000);
  const t1 = await Promise.all(ffmpegs.map((p) => cpuTicks(p.pid)));
  const s1 = await cpuTicks(serverPid);
  const ffmpegAlive = t1.filter((t) => Number.isFinite(t)).length;
  const serverCrashed = exited(server);
  for (const p of ffmpegs) p.kill('SIGINT');
  await Promise.all(ffmpegs.map(waitExit));
  const cameraMinutes = (cameras * SECONDS) / 60;
  const out = { cameras, serverCores: (s1 - s0) / CLK_TCK / SECONDS, ...(serverCrashed ? { serverCrashed } : {}) };
  if (ours) {
    await waitExit(ours);
    const m = /RESULT (.*)/.exec(oursOut);
    if (!m) throw new Error(`the recorder printed no result: ${oursOut}`);
    const v = JSON.parse(m[1]);
    out.valkka = { ...v, cpuSecondsPerCameraMinute: v.cpuSeconds / ((cameras * v.seconds) / 60), cores: v.cpuSeconds / v.seconds, fpsPerCamera: v.frames / v.seconds / cameras };
  }
  if (withFfmpeg) {
    const cpu = t1.reduce((n, t, i) => n + t - t0[i], 0) / CLK_TCK;
    out.ffmpeg = { cpuSeconds: cpu, cpuSecondsPerCameraMinute: cpu / cameraMinutes, cores: cpu / SECONDS, runningAtEnd: ffmpegAlive };
  }
  if (out.valkka && out.ffmpeg) out.ratio = out.valkka.cpuSecondsPerCameraMinute / out.ffmpeg.cpuSecondsPerCameraMinute;
  server.kill('SIGTERM');
  await waitExit(server);
  return out;
}

/** Ours kept every camera whole in the window, at the camera's rate, within the CPU allowed. */
function clean(v) {
  return v.lostPackets === 0 && v.droppedFrames === 0 && v.queueDrops === 0 && v.reconnects === 0 && v.slowestCameraFps >= 23.5 && v.cores <= MAX_CORES;
}

/**
 * GStreamer's RTSP server with one shared live H.264 media; a fresh one per measurement (GStreamer 1.22's
 * shared media sometimes aborts in gst_rtsp_media_get_rates when many clients leave at once).
 */
async function startServer(children) {
  const server = spawn('/usr/bin/python3', [RTSP_SERVER_SCRIPT, '--port', '0', '/cam=live-h264,shared'], { stdio: ['pipe', 'pipe', 'ignore'] });
  children.push(server);
  const port = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`rtsp-server.py exited with ${code} (GStreamer's RTSP server missing?)`)));
  });
  return { server, url: `rtsp://127.0.0.1:${port}/cam` };
}

async function main() {
  const base = await mkdtemp(join(tmpdir(), 'valkka-bench-live-'));
  const children = [];
  // Stopped from outside: say so, and take the servers and recorders along.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      console.error(`bench stopped by ${signal}`);
      for (const c of children) if (!exited(c)) c.kill('SIGKILL');
      void rm(base, { recursive: true, force: true }).finally(() => process.exit(1));
    });
  }
  try {
    const common = { base, children };
    const fsText = (fs) => ({
      single: `a ValkkaSingleFS per camera, spread over ${WORKERS ?? 'the default number of'} SharedWriterThreads (one per 32 cameras, at most one per core), each fed by one LiveThread`,
      multi: 'one ValkkaMultiFS (one SharedWriterThread, one LiveThread)',
      none: 'no filesystem: frames dropped into a queue (one LiveThread)',
    })[fs];
    const stream = 'GStreamer x264 640x360 25 fps, key frame every second (one shared live media)';
    const machine = { cores: availableParallelism(), loadAtStart: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ') };
    if (SWEEP) {
      const sweepResult = (steps, most) => ({
        what: `the most cameras (of 8, 16, 32, ...) LiveThread records on this machine with no loss (no lost packet or frame, no queue drop, every camera >= 23.5 fps, <= ${MAX_CORES} cores); ffmpeg -c copy alone at the same counts`,
        fs: fsText(FS),
        stream,
        seconds: SECONDS,
        machine,
        mostCamerasClean: most,
        ...(steps.at(-1)?.clean ? { limit: `not reached: the sweep stops at ${MAX_CAMERAS} cameras (--max-cameras)` } : {}),
        steps,
        date: new Date().toISOString(),
      });
      const steps = [];
      let most = 0;
      for (let n = 8; n <= MAX_CAMERAS; n *= 2) {
        let step = await measure({ ...common, cameras: n, ours: true, ffmpeg: false });
        if (step.serverCrashed) {
          console.log(`sweep ${n} cameras: GStreamer's server died during the step: once more`);
          step = await measure({ ...common, cameras: n, ours: true, ffmpeg: false });
        }
        step.clean = clean(step.valkka);
        let theirs = await measure({ ...common, cameras: n, ours: false, ffmpeg: true });
        if (theirs.serverCrashed) theirs = await measure({ ...common, cameras: n, ours: false, ffmpeg: true });
        step.ffmpeg = theirs.ffmpeg;
        steps.push(step);
        console.log(
          `sweep ${n} cameras: LiveThread ${step.valkka.cores.toFixed(2)} cores (${step.valkka.cpuSecondsPerCameraMinute.toFixed(3)} s/camera-min), slowest ${step.valkka.slowestCameraFps.toFixed(1)} fps, ` +
            `${step.valkka.lostPackets} packets lost, ${step.valkka.queueDrops} queue drops -> ${step.clean ? 'clean' : 'NOT clean'}; ` +
            `ffmpeg ${step.ffmpeg.cores.toFixed(2)} cores (${step.ffmpeg.cpuSecondsPerCameraMinute.toFixed(3)} s/camera-min); server ${step.serverCores.toFixed(2)} cores`,
        );
        if (step.clean) most = n;
        // Saved after every step: a sweep stopped half-way keeps what it measured.
        await save('live-sweep.json', sweepResult(steps, most));
        if (!step.clean) break;
      }
    } else {
      // One file per filesystem kind (--fs single,multi measures both, one after the other).
      for (const fs of FS.split(',')) {
        const runs = [];
        for (const n of String(arg('cameras', '8,32')).split(',').map(Number)) {
          let r = await measure({ ...common, cameras: n, fs, ours: true, ffmpeg: true });
          if (r.serverCrashed) {
            // Both sides lost their camera in the window: the figures say nothing (as in the sweep, once more).
            console.log(`live (${fs} fs): ${n} cameras: GStreamer's server died during the measurement: once more`);
            r = await measure({ ...common, cameras: n, fs, ours: true, ffmpeg: true });
          }
          runs.push(r);
          console.log(
            `live (${fs} fs): ${n} cameras x ${SECONDS} s: LiveThread ${r.valkka.cpuSecondsPerCameraMinute.toFixed(3)} CPU s/camera-minute, ` +
              `ffmpeg -c copy ${r.ffmpeg.cpuSecondsPerCameraMinute.toFixed(3)}; ratio ${r.ratio.toFixed(3)} (goal <= 0.5); ` +
              `${r.valkka.fpsPerCamera.toFixed(1)} fps/camera, ${r.valkka.lostPackets} packets lost in the window (${r.valkka.lostPacketsWhileJoining} while clients joined), ${r.valkka.queueDrops} queue drops`,
          );
        }
        await save(`live-${fs}.json`, {
          what: 'CPU seconds per camera-minute recording N RTSP cameras (TCP): LiveThread (into the fs below) vs ffmpeg -c copy -f segment, same streams, same run',
          fs: fsText(fs),
          stream,
          seconds: SECONDS,
          machine,
          runs,
          goal: { ratio: 0.5, lostPackets: 0 },
          date: new Date().toISOString(),
        });
      }
    }
  } finally {
    for (const c of children) if (!exited(c)) c.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
  }
}
