import { bounded, LiveError } from './live-error.js';

/** Bounds on what a camera may send on the RTSP connection. */
export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_HEADERS = 64;
export const MAX_BODY_BYTES = 64 * 1024;

export interface RtspResponse {
  status: number;
  reason: string;
  /** Lower-case names; a header sent several times keeps every value in order. */
  headers: Map<string, string[]>;
  body: Uint8Array;
}

/** What comes out of the RTSP connection: a response, a request from the camera, or an interleaved RTP/RTCP packet. */
export type RtspMessage =
  | { kind: 'response'; response: RtspResponse }
  | { kind: 'request'; method: string; headers: Map<string, string[]> }
  | { kind: 'interleaved'; channel: number; data: Uint8Array };

const EMPTY = new Uint8Array(0);

export const header = (headers: Map<string, string[]>, name: string): string | undefined => headers.get(name)?.[0];

/**
 * Cuts the bytes of an RTSP connection (arriving in chunks of any size) into messages.
 * Memory is bounded: a head beyond MAX_HEAD_BYTES, a body beyond MAX_BODY_BYTES or garbage where a
 * message should start throws a LiveError (the connection is then dropped), and at most one
 * incomplete message (≤ 64 KiB + head) is kept between chunks.
 */
export class RtspReader {
  private pending: Uint8Array = EMPTY;
  /** Where a header block was known to end before this many bytes (saves rescanning). */
  private scanned = 0;

  /** Adds a chunk and returns every complete message in it. The returned packets may share the chunk's memory. */
  push(chunk: Uint8Array): RtspMessage[] {
    let buf: Uint8Array;
    if (this.pending.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const out: RtspMessage[] = [];
    let pos = 0;
    while (pos < buf.length) {
      if (buf[pos] === 0x24) {
        // '$' channel u8, length u16, data
        if (buf.length - pos < 4) break;
        const length = (buf[pos + 2]! << 8) | buf[pos + 3]!;
        if (buf.length - pos < 4 + length) break;
        out.push({ kind: 'interleaved', channel: buf[pos + 1]!, data: buf.subarray(pos + 4, pos + 4 + length) });
        pos += 4 + length;
        this.scanned = 0;
        continue;
      }
      const used = this.parseText(buf, pos, out);
      if (used === 0) break;
      pos += used;
      this.scanned = 0;
    }
    this.pending = pos === buf.length ? EMPTY : buf.slice(pos);
    return out;
  }

  /** Parses one text message at `pos`; returns the bytes it took, or 0 when it is not complete yet. */
  private parseText(buf: Uint8Array, pos: number, out: RtspMessage[]): number {
    // Stray line ends between messages are allowed.
    if (buf[pos] === 0x0d || buf[pos] === 0x0a) return 1;
    // Every RTSP message starts with "RTSP/" or a method name: anything else is garbage, refused at once.
    if (buf[pos]! < 0x41 || buf[pos]! > 0x5a) throw new LiveError('ERR_LIVE_PROTOCOL', `byte 0x${buf[pos]!.toString(16)} where an RTSP message or '$' packet should start`);
    const end = findHeadEnd(buf, pos + this.scanned, pos);
    if (end < 0) {
      bounded(buf.length - pos, MAX_HEAD_BYTES, 'RTSP message head (bytes)');
      this.scanned = Math.max(0, buf.length - pos - 3);
      return 0;
    }
    bounded(end - pos, MAX_HEAD_BYTES, 'RTSP message head (bytes)');
    const head = latin1(buf.subarray(pos, end));
    const lines = head.split(/\r?\n/);
    const first = lines[0]!;
    const headers = new Map<string, string[]>();
    bounded(lines.length - 1, MAX_HEADERS, 'RTSP header count');
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new LiveError('ERR_LIVE_PROTOCOL', `malformed RTSP header line '${printable(line)}'`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const list = headers.get(name) ?? [];
      list.push(line.slice(colon + 1).trim());
      headers.set(name, list);
    }
    const bodyStart = end + (buf[end] === 0x0d ? 4 : 2);
    const lengthText = header(headers, 'content-length');
    let length = 0;
    if (lengthText !== undefined) {
      if (!/^\d{1,9}$/.test(lengthText)) throw new LiveError('ERR_LIVE_PROTOCOL', `bad Content-Length '${printable(lengthText)}'`);
      length = bounded(Number(lengthText), MAX_BODY_BYTES, 'RTSP body (Content-Length)');
    }
    if (buf.length - bodyStart < length) return 0;
    const body = buf.slice(bodyStart, bodyStart + length);
    const status = /^RTSP\/1\.\d (\d{3})(?: (.*))?$/.exec(first);
    if (status) out.push({ kind: 'response', response: { status: Number(status[1]), reason: status[2] ?? '', headers, body } });
    else {
      const request = /^([A-Z_]{1,32}) \S+ RTSP\/1\.\d$/.exec(first);
      if (!request) throw new LiveError('ERR_LIVE_PROTOCOL', `not an RTSP message: '${printable(first)}'`);
      out.push({ kind: 'request', method: request[1]!, headers });
    }
    return bodyStart + length - pos;
  }
}

/** Index of the blank line (CRLFCRLF or LFLF) ending a head that starts at `start`, searching from `from`; -1 if none yet. */
function findHeadEnd(buf: Uint8Array, from: number, start: number): number {
  const limit = Math.min(buf.length, start + MAX_HEAD_BYTES + 4);
  for (let i = from; i < limit - 1; i++) {
    if (buf[i] !== 0x0a && buf[i] !== 0x0d) continue;
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a && buf[i + 2] === 0x0d && buf[i + 3] === 0x0a) return i;
    if (buf[i] === 0x0a && buf[i + 1] === 0x0a) return i;
  }
  if (limit - start > MAX_HEAD_BYTES + 3) bounded(limit - start, MAX_HEAD_BYTES, 'RTSP message head (bytes)');
  return -1;
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

/** A piece of untrusted text, short and without control characters, for an error message. */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}
