export interface RtspServerOptions {
  /** path -> 'live-h264' | 'live-h265' | 'live-h264-audio' | 'file:CLIP.mp4' | 'file265:CLIP.mp4'; ',shared' appended shares one media between clients. */
  mounts: Record<string, string>;
  auth?: 'basic' | 'digest';
  user?: string;
  password?: string;
  /** Listen on this port (a restarted camera keeps its port); default any free one. */
  port?: number;
}

export interface RtspServer {
  port: number;
  pid: number | undefined;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: a camera that stops sending without closing anything. */
  freeze(frozen: boolean): void;
  /** rtsp://[user:pass@]127.0.0.1:port/path; `false` leaves the credentials out, a pair replaces them. */
  url(path: string, credentials?: false | { user: string; password: string }): string;
  stop(): Promise<void>;
}

export const RTSP_SERVER_SCRIPT: string;
export function rtspServerMissing(): string | undefined;
export function hasGstElement(name: string): boolean;
export function startRtspServer(options: RtspServerOptions): Promise<RtspServer>;
