// Bench of LiveThread: N cameras recorded over RTSP (TCP) into ValkkaSingleFS rings by LiveThreads, beside N
// `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` recorders (what Frigate and Shinobi run) on the same
// streams, in the same run. The camera is GStreamer's RTSP server (tooling/vitest/rtsp-server.py), one shared live H.264
// media (640x360, 25 fps, a key frame a second) that every client receives. Reports CPU seconds per
// camera-minute of each (our recorder runs in a child process so its whole CPU - main thread and workers - is
// measured by getrusage; ffmpeg's from /proc/PID/stat), their ratio (goal <= 0.5), frames and losses.
//
// --fs multi (default) records every camera into one ValkkaMultiFS (one writer thread); --fs single gives each
// camera its own ValkkaSingleFS and writer thread; --fs none drops the frames in a queue the main thread
// empties (the RTSP client alone, without a filesystem: where the CPU goes).
//
//   node bench/live.mjs [--cameras 8] [--seconds 40] [--warmup 5] [--workers 1] [--fs multi|single]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RTSP_SERVER_SCRIPT } from '@valkka/vitest-preset/rtsp-camera';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CAMERAS = Number(arg('cameras', 8));
const SECONDS = Number(arg('seconds', 40));
const WARMUP = Number(arg('warmup', 5));
const WORKERS = Number(arg('workers', 1));
const FS = arg('fs', 'multi');
const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = 100;

if (process.argv.includes('--child')) await child();
else await main();

/** The recorder under test, in its own process: N cameras, a ValkkaSingleFS and writer each, LiveThreads. */
async function child() {
  const { ValkkaMultiFS, ValkkaSingleFS } = await import('@valkka/fs');
  const { FrameQueue, LiveThread, ValkkaFSWriterThread } = await import('../dist/index.js');
  const [url, base] = [arg('url'), arg('base')];
  const writers = [];
  const single = FS === 'single';
  for (let i = 0; i < (FS === 'none' ? 0 : single ? CAMERAS : 1); i++) {
    const dirname = join(base, `fs${i}`);
    const cls = single ? ValkkaSingleFS : ValkkaMultiFS;
    await (await cls.newFromDirectory({ dirname, blocksize: 1 << 20, nBlocks: single ? 16 : 64 })).close();
    const writer = new ValkkaFSWriterThread({ dirname, mode: 'drop' });
    await writer.start();
    for (let c = 0; c < CAMERAS; c++) if (!single || c === i) await writer.setSlotId(c + 1, single ? 1 : c + 1);
    writers.push(writer);
  }
  // A writer's queue has one producer: with one Multi FS, one LiveThread records every camera.
  const workers = single ? WORKERS : 1;
  const sink = FS === 'none' ? FrameQueue.create({ capacity: 8 << 20, mode: 'drop' }) : undefined;
  const drain = sink && setInterval(() => {
    while (sink.pop());
  }, 20);
  const lives = Array.from({ length: workers }, (_v, w) => new LiveThread({ name: `live-${w}`, outputs: sink ? [sink] : writers.filter((_x, i) => i % workers === w).map((x) => x.input) }));
  for (const l of lives) await l.start();
  for (let i = 0; i < CAMERAS; i++) {
    const w = i % workers;
    await lives[w].addCamera({ name: `cam${i}`, url, slot: i + 1, output: single ? Math.floor(i / workers) : 0 });
  }
  process.stdout.write('STARTED\n');
  await sleep(WARMUP * 1000);
  const cpu0 = process.cpuUsage();
  const frames0 = lives.reduce((n, l) => n + l.counters().frames, 0);
  await sleep(SECONDS * 1000);
  const cpu1 = process.cpuUsage(cpu0);
  const frames = lives.reduce((n, l) => n + l.counters().frames, 0) - frames0;
  const stats = lives.flatMap((l) => l.cameraStats());
  for (const l of lives) await l.close();
  for (const w of writers) await w.close();
  clearInterval(drain);
  const written = sink ? sink.stats().frames : writers.reduce((n, w) => n + w.stats().written, 0);
  const drops = sink ? sink.stats().drops : writers.reduce((n, w) => n + w.stats().queue.drops, 0);
  process.stdout.write(
    `RESULT ${JSON.stringify({
      cpuSeconds: (cpu1.user + cpu1.system) / 1e6,
      frames,
      written,
      queueDrops: drops,
      lostPackets: stats.reduce((n, s) => n + s.lostPackets, 0),
      droppedFrames: stats.reduce((n, s) => n + s.droppedFrames, 0),
      reconnects: stats.reduce((n, s) => n + s.reconnects, 0),
    })}\n`,
  );
}

async function cpuTicks(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function main() {
  const base = await mkdtemp(join(tmpdir(), 'valkka-bench-live-'));
  const server = spawn('/usr/bin/python3', [RTSP_SERVER_SCRIPT, '--port', '0', '/cam=live-h264,shared'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const children = [server];
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const m = /READY (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`rtsp-server.py exited with ${code} (GStreamer's RTSP server missing?)`)));
    });
    const url = `rtsp://127.0.0.1:${port}/cam`;
    // Ours, in its own process.
    const ours = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', '--url', url, '--base', join(base, 'valkka'), '--cameras', String(CAMERAS), '--seconds', String(SECONDS), '--warmup', String(WARMUP), '--workers', String(WORKERS), '--fs', FS], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(ours);
    let oursOut = '';
    ours.stdout.on('data', (d) => (oursOut += d));
    // ffmpeg's, one process per camera, 10-second MP4 segments.
    await mkdir(join(base, 'ffmpeg'));
    const ffmpegs = Array.from({ length: CAMERAS }, (_v, i) =>
      spawn('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-c', 'copy', '-f', 'segment', '-segment_time', '10', '-reset_timestamps', '1', join(base, 'ffmpeg', `cam${i}-%03d.mp4`)], { stdio: ['ignore', 'ignore', 'inherit'] }),
    );
    children.push(...ffmpegs);
    while (!oursOut.includes('STARTED')) await sleep(50);
    await sleep(WARMUP * 1000);
    const t0 = await Promise.all(ffmpegs.map((p) => cpuTicks(p.pid)));
    await sleep(SECONDS * 1000);
    const t1 = await Promise.all(ffmpegs.map((p) => cpuTicks(p.pid)));
    for (const p of ffmpegs) p.kill('SIGINT');
    await new Promise((resolve) => ours.once('exit', resolve));
    const m = /RESULT (.*)/.exec(oursOut);
    if (!m) throw new Error(`the recorder printed no result: ${oursOut}`);
    const valkka = JSON.parse(m[1]);
    const ffmpegCpu = t1.reduce((n, t, i) => n + t - t0[i], 0) / CLK_TCK;
    const cameraMinutes = (CAMERAS * SECONDS) / 60;
    const result = {
      what: 'CPU seconds per camera-minute recording N RTSP cameras (TCP): LiveThread (into the fs below) vs ffmpeg -c copy -f segment, same streams, same run',
      cameras: CAMERAS,
      seconds: SECONDS,
      workers: FS === 'single' ? WORKERS : 1,
      fs: { single: 'a ValkkaSingleFS and writer thread per camera', multi: 'one ValkkaMultiFS, one writer thread', none: 'no filesystem: frames dropped into a queue' }[FS],
      stream: 'GStreamer x264 640x360 25 fps, key frame every second (one shared live media)',
      valkka: { ...valkka, cpuSecondsPerCameraMinute: valkka.cpuSeconds / cameraMinutes, fpsPerCamera: valkka.frames / SECONDS / CAMERAS },
      ffmpeg: { cpuSeconds: ffmpegCpu, cpuSecondsPerCameraMinute: ffmpegCpu / cameraMinutes },
      ratio: valkka.cpuSeconds / ffmpegCpu,
      goal: { ratio: 0.5, lostPackets: 0 },
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(result, null, 2));
    const out = join(here, `../../../bench/results/live-${FS}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `live (${FS} fs): ${CAMERAS} cameras x ${SECONDS} s: LiveThread ${result.valkka.cpuSecondsPerCameraMinute.toFixed(3)} CPU s/camera-minute, ` +
        `ffmpeg -c copy ${result.ffmpeg.cpuSecondsPerCameraMinute.toFixed(3)}; ratio ${result.ratio.toFixed(3)} (goal <= 0.5); ` +
        `${result.valkka.fpsPerCamera.toFixed(1)} fps/camera, ${valkka.lostPackets} packets lost, ${valkka.queueDrops} queue drops`,
    );
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
  }
}
