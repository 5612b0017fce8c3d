import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** GStreamer's RTSP server (test/rtsp-server.py) on 127.0.0.1, as a camera for the live tests and benchmark. */
export interface RtspServerOptions {
  /** path -> kind: 'live-h264', 'live-h265', 'live-h264-audio', 'file:CLIP.mp4', 'file265:CLIP.mp4'; ',shared' appended shares one media. */
  mounts: Record<string, string>;
  auth?: 'basic' | 'digest';
  user?: string;
  password?: string;
  /** Listen on this port (a restarted camera keeps its port); default: any free one. */
  port?: number;
}

export interface RtspServer {
  port: number;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: a camera that stops sending without closing anything. */
  freeze(frozen: boolean): void;
  /** rtsp://[user:pass@]127.0.0.1:port/path; `credentials: false` leaves them out, a pair replaces them. */
  url(path: string, credentials?: false | { user: string; password: string }): string;
  stop(): Promise<void>;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rtsp-server.py');
const PYTHON = '/usr/bin/python3';

/** Why the server cannot run here, or undefined when it can (checked once). */
export function rtspServerMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { encoding: 'utf8' });
  if (probe.status !== 0) return `GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed: ${probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

export function hasGstElement(name: string): boolean {
  return spawnSync('gst-inspect-1.0', [name], { stdio: 'ignore' }).status === 0;
}

export async function startRtspServer(options: RtspServerOptions): Promise<RtspServer> {
  const user = options.user ?? 'user';
  const password = options.password ?? 'pass';
  const args = [SCRIPT, '--port', String(options.port ?? 0)];
  if (options.auth) args.push('--auth', options.auth, '--user', user, '--password', password);
  for (const [path, kind] of Object.entries(options.mounts)) args.push(`${path}=${kind}`);
  const child: ChildProcess = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`rtsp-server.py did not start in 10 s: ${stderr}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    freeze(frozen) {
      child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    url(path, credentials) {
      const creds = credentials === false || !options.auth ? '' : `${encodeURIComponent((credentials || { user }).user)}:${encodeURIComponent((credentials || { password }).password)}@`;
      return `rtsp://${creds}127.0.0.1:${port}${path}`;
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}
