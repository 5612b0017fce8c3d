// Bench: the extra CPU per camera of a fleet node against a standalone one, same run, same cameras. The same
// recorder (test/fleet-node.mjs: `valkka serve --record`) runs twice for --seconds each: standalone, then with
// --fleet --archive on a 3-server NATS JetStream cluster (announcing every 2 s, archiving every sealed block,
// keeping its own archive mirrors). Figure: CPU seconds of the recorder process per camera-minute, and their
// ratio; the NATS servers' CPU is given beside it (it runs on the same 2 cores here, elsewhere in a deployment).
//
//   node bench/fleet-cpu.mjs [--cameras 16] [--seconds 30]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { natsMissing, startNatsCluster } from '@valkka/vitest-preset/nats-cluster';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CAMERAS = arg('cameras', 16);
const SECONDS = arg('seconds', 30);
const here = new URL('.', import.meta.url).pathname;
const fixtures = resolve(here, '../../../packages/threads/test/fixtures');
const results = resolve(here, '../../../bench/results');
const nodeScript = resolve(here, '../test/fleet-node.mjs');

const missing = natsMissing();
if (missing) {
  console.log(`SKIPPED demo-web fleet bench: ${missing}`);
  process.exit(0);
}

const base = await mkdtemp(join(tmpdir(), 'valkka-fleet-bench-'));
const clips = ['h264-baseline-gop1s.h264', 'h264-high-gop2s.h264'];

/** CPU time (s) of a process so far, from /proc (user + system). */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs the recorder with `cameras` for SECONDS; resolves with its CPU seconds over that time and its health at the end. */
async function run(mode, fleet) {
  const cameras = Array.from({ length: CAMERAS }, (_, i) => ({
    dir: join(base, mode, `cam${i + 1}`),
    source: join(fixtures, clips[i % clips.length]),
    id: i + 1,
    // 64 KiB blocks seal every few seconds at these bit rates: the archiver has work all along.
    format: { blocksize: 65536, blocks: 64 },
  }));
  const config = join(base, `${mode}.json`);
  writeFileSync(config, JSON.stringify({ cameras }));
  const child = spawn(process.execPath, [nodeScript, config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(fleet ? { FLEET: JSON.stringify(fleet) } : {}) } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  while (!/open (\S+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(`${mode}: exited\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /open (\S+)/.exec(out)[1];
  // Every camera recording before the clock starts.
  for (;;) {
    const h = await (await fetch(`${url}api/health`)).json();
    if (h.recorders.every((r) => r.started)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const t0 = cpuOf(child.pid);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = cpuOf(child.pid) - t0;
  const health = await (await fetch(`${url}api/health`)).json();
  child.kill('SIGTERM');
  await exited;
  return { cpu, health };
}

const cluster = await startNatsCluster({ nodes: 3 });
try {
  const load = loadavg()[0];
  const standalone = await run('standalone');
  const nats0 = [0, 1, 2].map((i) => cpuOf(cluster.pid(i))).reduce((a, b) => a + b, 0);
  const fleet = await run('fleet', { servers: cluster.urls, node: 'bench', token: 'bench-fleet-token-0123456789', archive: {} });
  const nats1 = [0, 1, 2].map((i) => cpuOf(cluster.pid(i))).reduce((a, b) => a + b, 0);
  const perCamMin = (cpu) => cpu / CAMERAS / (SECONDS / 60);
  const archived = fleet.health.fleet.archivers.reduce((n, a) => n + a.uploaded, 0);
  const missed = fleet.health.fleet.archivers.reduce((n, a) => n + a.missed, 0);
  const out = {
    date: new Date().toISOString(),
    loadAverageAtStart: load,
    cameras: CAMERAS,
    seconds: SECONDS,
    standalone: { cpuSeconds: standalone.cpu, cpuSecondsPerCameraMinute: perCamMin(standalone.cpu) },
    fleet: { cpuSeconds: fleet.cpu, cpuSecondsPerCameraMinute: perCamMin(fleet.cpu), blocksArchived: archived, missed, natsServersCpuSeconds: nats1 - nats0 },
    ratio: fleet.cpu / standalone.cpu,
    extraCpuSecondsPerCameraMinute: perCamMin(fleet.cpu - standalone.cpu),
  };
  console.log(
    `fleet node vs standalone, ${CAMERAS} cameras x ${SECONDS} s (load ${load.toFixed(1)} at start): ` +
      `${out.standalone.cpuSecondsPerCameraMinute.toFixed(3)} vs ${out.fleet.cpuSecondsPerCameraMinute.toFixed(3)} CPU s per camera-minute ` +
      `(${out.ratio.toFixed(2)} x; +${out.extraCpuSecondsPerCameraMinute.toFixed(3)} s per camera-minute), ${archived} blocks archived, ${missed} missed; ` +
      `the 3 NATS servers used ${out.fleet.natsServersCpuSeconds.toFixed(1)} CPU s meanwhile`,
  );
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'demo-web-fleet.json'), `${JSON.stringify(out, null, 2)}\n`);
} finally {
  await cluster.close();
  await rm(base, { recursive: true, force: true });
}
