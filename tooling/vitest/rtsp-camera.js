// A real camera for tests and benchmarks: GStreamer's RTSP server on 127.0.0.1 (rtsp-server.py beside this file).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RTSP_SERVER_SCRIPT = fileURLToPath(new URL('./rtsp-server.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Why the server cannot run here, or undefined when it can. */
export function rtspServerMissing() {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { encoding: 'utf8' });
  if (probe.status !== 0) return `GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed: ${probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

/** True when GStreamer has the element (e.g. x265enc, rtph265pay). */
export function hasGstElement(name) {
  return spawnSync('gst-inspect-1.0', [name], { stdio: 'ignore' }).status === 0;
}

/** Starts the server; resolves once it listens. See rtsp-camera.d.ts. */
export async function startRtspServer(options) {
  const user = options.user ?? 'user';
  const password = options.password ?? 'pass';
  const args = [RTSP_SERVER_SCRIPT, '--port', String(options.port ?? 0)];
  if (options.auth) args.push('--auth', options.auth, '--user', user, '--password', password);
  for (const [path, kind] of Object.entries(options.mounts)) args.push(`${path}=${kind}`);
  // stdin stays a pipe: the server stops when it closes (this process died).
  const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`rtsp-server.py did not start in 10 s: ${stderr}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rtsp-server.py exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    pid: child.pid,
    freeze(frozen) {
      child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    url(path, credentials) {
      const pair = credentials || { user, password };
      const creds = credentials === false || !options.auth ? '' : `${encodeURIComponent(pair.user)}:${encodeURIComponent(pair.password)}@`;
      return `rtsp://${creds}127.0.0.1:${port}${path}`;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}
