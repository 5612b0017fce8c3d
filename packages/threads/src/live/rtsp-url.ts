import { LiveError } from './live-error.js';

/** An rtsp:// URL split into what the client needs; `href` carries no credentials. */
export interface RtspUrl {
  href: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
}

export const DEFAULT_RTSP_PORT = 554;

/** Parses rtsp://[user[:password]@]host[:port]/path; the error names the URL without its password. */
export function parseRtspUrl(text: string): RtspUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LiveError('ERR_LIVE_URL', `'${redactUrl(text)}' is not a URL (expected rtsp://[user:password@]host[:port]/path)`);
  }
  if (url.protocol !== 'rtsp:') throw new LiveError('ERR_LIVE_URL', `'${redactUrl(text)}' is not an rtsp:// URL`);
  if (!url.hostname) throw new LiveError('ERR_LIVE_URL', `'${redactUrl(text)}' has no host`);
  const port = url.port ? Number(url.port) : DEFAULT_RTSP_PORT;
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { href: url.href, host, port, ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The URL with its credentials (user and password) replaced by ***, for anything printed or logged; works on malformed text too. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1***@');
}

/** Resolves a track's a=control against the session's base URL (RFC 2326 C.1.1). */
export function resolveControl(base: string, control: string | undefined): string {
  if (!control || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}
