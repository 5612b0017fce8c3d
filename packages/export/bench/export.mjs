// Export speed and memory against ffmpeg, in the same run:
//  - one hour of a 4 Mbit/s H.264 stream (720p, 25 fps, a key frame per second; real x264 output made
//    here by ffmpeg from a 10 s clip, looped) is written straight into a ValkkaSingleFS (4 MiB blocks),
//    and the same access units into an Annex-B file;
//  - `valkka`'s exportRange of the whole hour (in a child process) against
//    `ffmpeg -f h264 -i clip.h264 -c copy out.mp4`: wall seconds, CPU seconds and peak RSS (/usr/bin/time);
//  - memory flat in the range: peak RSS of a 10-minute export against the hour's (the sample tables
//    are spooled to a scratch file, so both should need the same).
// The recording is written the way `valkka record --fast` writes it (as fast as the disk takes it,
// timestamps 1/fps apart), in this process.
// Both outputs are checked with ffprobe -count_packets. JSON to bench/results/export.json at the repo root.
// VALKKA_BENCH_MINUTES (default 60) shortens the long range; VALKKA_BENCH_DIR (default the temp dir).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AccessUnitSplitter, Codec, MediaType, ValkkaSingleFS } from '@valkka/fs';

const here = dirname(fileURLToPath(import.meta.url));
const MINUTES = Number(process.env.VALKKA_BENCH_MINUTES ?? 60);
const FPS = 25;
const FRAMES = MINUTES * 60 * FPS;
const SHORT_FRAMES = Math.round(FRAMES / 6);
const BLOCKSIZE = 4 * 2 ** 20;
const T0 = Date.UTC(2026, 10, 30, 0, 0, 0);
const base = mkdtempSync(join(process.env.VALKKA_BENCH_DIR ?? tmpdir(), 'valkka-export-bench-'));

/** Runs a command under /usr/bin/time: wall and CPU seconds, peak RSS in MiB, and its stdout. */
function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 2 ** 26 });
  const line = r.stderr.trim().split('\n').findLast((l) => l.startsWith('TIME '));
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [wall, user, sys, rssKiB] = line.split(' ').slice(1).map(Number);
  return { seconds: wall, cpuSeconds: user + sys, peakRssMiB: Math.round(rssKiB / 1024), stdout: r.stdout };
}

const packets = (file) =>
  Number(execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());

try {
  // A 10 s clip at a constant 4 Mbit/s (noise keeps x264 from undershooting), parameter sets before every key frame.
  const clipPath = join(base, 'src.h264');
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`, '-t', '10', '-vf', 'noise=alls=12:allf=t',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(FPS), '-bf', '0', '-b:v', '4M', '-minrate', '4M', '-maxrate', '4M', '-bufsize', '2M',
    '-x264-params', 'repeat-headers=1', '-f', 'h264', clipPath,
  ]);
  const splitter = new AccessUnitSplitter(Codec.h264);
  const units = [...splitter.push(readFileSync(clipPath)), ...splitter.flush()].map((u) => u.payload.slice());

  // Record the hour, and the same access units as one Annex-B file.
  const bytes = units.reduce((n, u) => n + u.length, 0) * (FRAMES / units.length);
  const nBlocks = Math.ceil((bytes * 1.1) / BLOCKSIZE) + 8;
  const fsDir = join(base, 'fs');
  const fs = await ValkkaSingleFS.newFromDirectory({ dirname: fsDir, blocksize: BLOCKSIZE, nBlocks });
  const annexB = join(base, 'clip.h264');
  const fd = openSync(annexB, 'w');
  const recordStart = performance.now();
  for (let k = 0; k < FRAMES; k++) {
    const payload = units[k % units.length];
    await fs.write({ streamId: 1, subsession: 0, timestamp: T0 + k * (1000 / FPS), mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload });
    writeSync(fd, payload);
  }
  closeSync(fd);
  await fs.close();
  const recordSeconds = (performance.now() - recordStart) / 1000;
  console.log(`recorded ${MINUTES} min (${(bytes / 1e9).toFixed(2)} GB, ${FRAMES} frames) in ${recordSeconds.toFixed(1)} s`);

  const to = T0 + (FRAMES - 1) * (1000 / FPS);
  const ours = timed('node', [join(here, 'export-child.mjs'), fsDir, String(T0), String(to), join(base, 'ours.mp4')]);
  const report = JSON.parse(ours.stdout);
  // Our reads are O_DIRECT (from the disk): ffmpeg reads its input from the disk too.
  execFileSync('dd', [`if=${annexB}`, 'iflag=nocache', 'count=0', 'status=none']);
  const ffmpeg = timed('ffmpeg', ['-v', 'error', '-y', '-f', 'h264', '-framerate', String(FPS), '-i', annexB, '-c', 'copy', join(base, 'ffmpeg.mp4')]);
  const shortTo = T0 + (SHORT_FRAMES - 1) * (1000 / FPS);
  const short = timed('node', [join(here, 'export-child.mjs'), fsDir, String(T0), String(shortTo), join(base, 'short.mp4')]);
  const oursPackets = packets(join(base, 'ours.mp4'));
  const ffmpegPackets = packets(join(base, 'ffmpeg.mp4'));
  if (oursPackets !== FRAMES || ffmpegPackets !== FRAMES) throw new Error(`packets: ours ${oursPackets}, ffmpeg ${ffmpegPackets}, expected ${FRAMES}`);

  const strip = ({ stdout, ...r }) => r;
  const out = {
    date: new Date().toISOString(),
    machine: { loadavg: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))) },
    stream: { minutes: MINUTES, frames: FRAMES, gigabytes: Number((bytes / 1e9).toFixed(2)), codec: 'h264 1280x720 25 fps 4 Mbit/s, GOP 1 s' },
    ours: { ...strip(ours), exportSeconds: Number(report.seconds.toFixed(2)), fileBytes: report.bytes },
    ffmpeg: strip(ffmpeg),
    speedRatio: Number((ffmpeg.seconds / ours.seconds).toFixed(2)),
    cpuRatio: Number((ffmpeg.cpuSeconds / ours.cpuSeconds).toFixed(2)),
    memory: {
      shortRangeMinutes: MINUTES / 6,
      shortPeakRssMiB: short.peakRssMiB,
      longPeakRssMiB: ours.peakRssMiB,
      ffmpegPeakRssMiB: ffmpeg.peakRssMiB,
    },
  };
  console.log(`ours:   ${ours.seconds} s wall, ${ours.cpuSeconds.toFixed(2)} s CPU, peak RSS ${ours.peakRssMiB} MiB (${MINUTES} min)`);
  console.log(`ffmpeg: ${ffmpeg.seconds} s wall, ${ffmpeg.cpuSeconds.toFixed(2)} s CPU, peak RSS ${ffmpeg.peakRssMiB} MiB`);
  console.log(`speed ratio (ffmpeg time / ours; >= 1 means at least as fast): ${out.speedRatio}; CPU ratio ${out.cpuRatio}`);
  console.log(`peak RSS: ${short.peakRssMiB} MiB for ${MINUTES / 6} min, ${ours.peakRssMiB} MiB for ${MINUTES} min`);
  const resultsDir = resolve(here, '../../../bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'export.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(resultsDir, 'export.json')}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
