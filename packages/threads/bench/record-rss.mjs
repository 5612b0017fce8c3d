// Memory of `valkka record --fast`: the largest resident set for sources of 10, 100 and 250 MB (goal: flat, under
// 200 MB), and the resident set over a long simulated looping recording (goal: flat). Peer in the same run:
// `ffmpeg -c copy` remuxing the same source (what Frigate and Shinobi run per camera), measured the same way.
// Usage: node bench/record-rss.mjs [--sizes 10,100,250] [--loop-hours 12]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '../../../apps/cli/bin/valkka.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SIZES = arg('sizes', '10,100,250').split(',').map(Number);
const LOOP_HOURS = Number(arg('loop-hours', '12'));

/** Runs a command, sampling its resident set (VmRSS) every 100 ms; resolves with the peak (VmHWM) and the samples. */
function measured(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const samples = [];
    let peak = 0;
    const started = performance.now();
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
        peak = Math.max(peak, kb('VmHWM'));
        samples.push({ s: (performance.now() - started) / 1000, rss: kb('VmRSS') });
      } catch {
        // exited between two samples
      }
    };
    const timer = setInterval(sample, 100);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ peak, samples, stdout, seconds: (performance.now() - started) / 1000 });
    });
  });
}

async function newFs(dir, size) {
  execFileSync(process.execPath, [CLI, 'init', dir, '--blocksize', '4MiB', '--size', size]);
}

const work = await mkdtemp(join(tmpdir(), 'valkka-record-rss-'));
try {
  // A 10 MB clip (20 s of 640x360 at 4 Mbit/s), repeated end to end for the larger sources (Annex-B concatenates).
  const base = join(work, 'base.h264');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-b:v', '4M', '-g', '25', '-bf', '0', '-x264-params', 'repeat-headers=1', '-f', 'h264', base]);
  const clip = readFileSync(base);
  const sizes = [];
  for (const mb of SIZES) {
    const source = join(work, `source-${mb}.h264`);
    const copies = Math.max(1, Math.round((mb * 1e6) / clip.length));
    writeFileSync(source, Buffer.concat(Array.from({ length: copies }, () => clip)));
    const bytes = copies * clip.length;
    const dir = join(work, `fs-${mb}`);
    await newFs(dir, '512MiB');
    const rec = await measured(process.execPath, [CLI, 'record', dir, '--source', source, '--fast', '--json']);
    const summary = JSON.parse(rec.stdout);
    const peer = await measured('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', source, '-c', 'copy', '-f', 'h264', '-y', join(work, 'copy.h264')]);
    sizes.push({ sourceMB: bytes / 1e6, frames: summary.frames, drops: summary.drops, maxRssMB: rec.peak / 1e6, seconds: rec.seconds, peerMaxRssMB: peer.peak / 1e6, ratioToPeer: rec.peak / peer.peak });
    console.log(`record --fast ${(bytes / 1e6).toFixed(0)} MB: max RSS ${(rec.peak / 1e6).toFixed(0)} MB (${summary.frames} frames, ${rec.seconds.toFixed(1)} s); ffmpeg -c copy ${(peer.peak / 1e6).toFixed(0)} MB`);
    await rm(source);
    await rm(dir, { recursive: true });
  }

  // Long looping: a 2 s clip of small frames looped for LOOP_HOURS of stream time into a 256 MiB ring (it wraps).
  const small = join(work, 'small.h264');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '2', '-c:v', 'libx264', '-profile:v', 'baseline',
    '-g', '25', '-bf', '0', '-x264-params', 'repeat-headers=1', '-f', 'h264', small]);
  const loopDir = join(work, 'fs-loop');
  await newFs(loopDir, '256MiB');
  const loop = await measured(process.execPath, [CLI, 'record', loopDir, '--source', small, '--fast', '--duration', String(LOOP_HOURS * 3600), '--json']);
  const loopSummary = JSON.parse(loop.stdout);
  const tenth = (f) => loop.samples[Math.min(loop.samples.length - 1, Math.floor(loop.samples.length * f))]?.rss ?? 0;
  const looping = {
    streamHours: LOOP_HOURS,
    frames: loopSummary.frames,
    loops: loopSummary.frames / 50,
    seconds: loop.seconds,
    rssMB: { at10: tenth(0.1) / 1e6, at50: tenth(0.5) / 1e6, at90: tenth(0.9) / 1e6, max: loop.peak / 1e6 },
    growthLastToFirst: tenth(0.9) / tenth(0.1),
  };
  console.log(`looping ${LOOP_HOURS} h of stream (${loopSummary.frames} frames, ${looping.loops} loops, ${loop.seconds.toFixed(0)} s): RSS at 10/50/90 % ${looping.rssMB.at10.toFixed(0)}/${looping.rssMB.at50.toFixed(0)}/${looping.rssMB.at90.toFixed(0)} MB, max ${looping.rssMB.max.toFixed(0)} MB`);

  const result = { date: new Date().toISOString(), sizes, looping, goals: { maxRssMB: 200, flat: true } };
  const out = join(here, '../../../bench/results/threads-record.json');
  await mkdir(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written ${out}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
