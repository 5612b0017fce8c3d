import { bounded, LiveError } from './live-error.js';
import { printable } from './rtsp-message.js';

export const MAX_SDP_LINES = 512;
export const MAX_SDP_MEDIA = 16;

export interface SdpMedia {
  /** video, audio, application... */
  type: string;
  protocol: string;
  /** Payload types of the m= line. */
  formats: number[];
  control?: string;
  /** From a=rtpmap of the first format: encoding name (upper case) and clock rate. */
  encoding?: string;
  clockRate?: number;
  /** a=fmtp parameters of the first format, names in lower case. */
  fmtp: Record<string, string>;
}

export interface Sdp {
  control?: string;
  media: SdpMedia[];
}

/** Parses a session description (RFC 4566) as far as an RTSP client needs it: media, rtpmap, fmtp, control. */
export function parseSdp(text: string): Sdp {
  const lines = text.split(/\r?\n/);
  bounded(lines.length, MAX_SDP_LINES, 'SDP line count');
  const sdp: Sdp = { media: [] };
  let media: SdpMedia | undefined;
  if (!lines[0]?.startsWith('v=')) throw new LiveError('ERR_LIVE_PROTOCOL', `SDP does not start with v=: '${printable(lines[0] ?? '')}'`);
  for (const line of lines) {
    if (line === '') continue;
    if (line.length < 2 || line[1] !== '=') throw new LiveError('ERR_LIVE_PROTOCOL', `malformed SDP line '${printable(line)}'`);
    const value = line.slice(2);
    if (line[0] === 'm') {
      const m = /^(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(value);
      if (!m) throw new LiveError('ERR_LIVE_PROTOCOL', `malformed SDP media line '${printable(line)}'`);
      bounded(sdp.media.length + 1, MAX_SDP_MEDIA, 'SDP media count');
      const formats = m[4]!.trim().split(' ').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128);
      media = { type: m[1]!.toLowerCase(), protocol: m[3]!, formats, fmtp: {} };
      sdp.media.push(media);
      continue;
    }
    if (line[0] !== 'a') continue;
    const colon = value.indexOf(':');
    const name = (colon < 0 ? value : value.slice(0, colon)).toLowerCase();
    const arg = colon < 0 ? '' : value.slice(colon + 1).trim();
    if (name === 'control') {
      if (media) media.control = arg;
      else sdp.control = arg;
    } else if (media && name === 'rtpmap') {
      const r = /^(\d+) ([^/\s]+)\/(\d+)/.exec(arg);
      if (!r) throw new LiveError('ERR_LIVE_PROTOCOL', `malformed SDP rtpmap '${printable(arg)}'`);
      if (Number(r[1]) === media.formats[0]) {
        media.encoding = r[2]!.toUpperCase();
        media.clockRate = Number(r[3]);
      }
    } else if (media && name === 'fmtp') {
      const f = /^(\d+) (.*)$/.exec(arg);
      if (!f || Number(f[1]) !== media.formats[0]) continue;
      for (const part of f[2]!.split(';')) {
        const eq = part.indexOf('=');
        if (eq <= 0) continue;
        media.fmtp[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
      }
    }
  }
  return sdp;
}

/** Base64 parameter sets as NAL units; a malformed one is a clear error. */
export function decodeParameterSets(list: string | undefined, what: string): Uint8Array[] {
  if (!list) return [];
  return list
    .split(',')
    .filter(Boolean)
    .map((b64) => {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new LiveError('ERR_LIVE_PROTOCOL', `${what}: '${printable(b64)}' is not base64`);
      const nal = new Uint8Array(Buffer.from(b64, 'base64'));
      if (nal.length === 0) throw new LiveError('ERR_LIVE_PROTOCOL', `${what}: empty parameter set`);
      return nal;
    });
}
