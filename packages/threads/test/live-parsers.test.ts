import { describe, expect, it } from 'vitest';
import { Authenticator, parseChallenges } from '../src/live/auth.js';
import { LiveError } from '../src/live/live-error.js';
import { parseRtcp, parseRtp } from '../src/live/rtp.js';
import { MAX_BODY_BYTES, MAX_HEAD_BYTES, RtspReader, type RtspMessage } from '../src/live/rtsp-message.js';
import { parseRtspUrl, redactUrl, resolveControl } from '../src/live/rtsp-url.js';
import { decodeParameterSets, parseSdp } from '../src/live/sdp.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const interleaved = (channel: number, data: number[]): Uint8Array => new Uint8Array([0x24, channel, data.length >> 8, data.length & 255, ...data]);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
};

function liveError(fn: () => unknown): LiveError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LiveError);
    return err as LiveError;
  }
  throw new Error('expected a LiveError, nothing was thrown');
}

describe('rtsp urls', () => {
  it('splits credentials off and never shows them', () => {
    const u = parseRtspUrl('rtsp://ad%40min:p%3Ass@cam.local:8554/stream/1?x=1');
    expect(u).toEqual({ href: 'rtsp://cam.local:8554/stream/1?x=1', host: 'cam.local', port: 8554, user: 'ad@min', password: 'p:ss' });
    expect(parseRtspUrl('rtsp://cam/').port).toBe(554);
    expect(redactUrl('rtsp://admin:secret@cam:554/x')).toBe('rtsp://***@cam:554/x');
    expect(liveError(() => parseRtspUrl('http://admin:secret@cam/x')).message).not.toContain('secret');
    expect(liveError(() => parseRtspUrl('rtsp://admin:secret@')).code).toBe('ERR_LIVE_URL');
  });

  it('resolves track controls against the base', () => {
    expect(resolveControl('rtsp://h/s/', 'trackID=1')).toBe('rtsp://h/s/trackID=1');
    expect(resolveControl('rtsp://h/s', 'stream=0')).toBe('rtsp://h/s/stream=0');
    expect(resolveControl('rtsp://h/s', '*')).toBe('rtsp://h/s');
    expect(resolveControl('rtsp://h/s', 'rtsp://o/t')).toBe('rtsp://o/t');
  });
});

describe('RtspReader', () => {
  const response = 'RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 5\r\nWWW-Authenticate: Basic realm="a"\r\nwww-authenticate: Digest realm="b", nonce="n"\r\n\r\nhello';
  const stream = concat(interleaved(0, [1, 2, 3]), enc(response), interleaved(1, [9]), enc('OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n'));

  it('cuts responses, requests and interleaved packets, whatever the chunking', () => {
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const reader = new RtspReader();
      const out: RtspMessage[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...reader.push(stream.subarray(i, i + size)));
      expect(out.map((m) => m.kind)).toEqual(['interleaved', 'response', 'interleaved', 'request']);
      const r = out[1]!;
      if (r.kind !== 'response') throw new Error('not a response');
      expect(r.response.status).toBe(200);
      expect(new TextDecoder().decode(r.response.body)).toBe('hello');
      expect(r.response.headers.get('www-authenticate')).toHaveLength(2);
      expect(out[0]).toMatchObject({ channel: 0, data: new Uint8Array([1, 2, 3]) });
    }
  });

  it('refuses oversized heads and bodies and garbage with clear errors', () => {
    expect(liveError(() => new RtspReader().push(enc(`RTSP/1.0 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`))).code).toBe('ERR_LIVE_TOO_LARGE');
    expect(liveError(() => new RtspReader().push(enc(`RTSP/1.0 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`))).message).toMatch(/Content-Length/);
    expect(liveError(() => new RtspReader().push(enc('HTTP/1.1 200 OK\r\n\r\n'))).code).toBe('ERR_LIVE_PROTOCOL');
    expect(liveError(() => new RtspReader().push(enc('RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n'))).message).toMatch(/Content-Length/);
  });
});

describe('SDP', () => {
  const sdp = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=cam',
    'a=control:*',
    'm=video 0 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==',
    'a=control:stream=0',
    'm=audio 0 RTP/AVP 0',
    'a=rtpmap:0 PCMU/8000',
    'a=control:stream=1',
  ].join('\r\n');

  it('reads media, rtpmap, fmtp and controls', () => {
    const s = parseSdp(sdp);
    expect(s.control).toBe('*');
    expect(s.media).toHaveLength(2);
    expect(s.media[0]).toMatchObject({ type: 'video', encoding: 'H264', clockRate: 90000, control: 'stream=0', formats: [96] });
    expect(s.media[1]).toMatchObject({ type: 'audio', encoding: 'PCMU', clockRate: 8000 });
    const sets = decodeParameterSets(s.media[0]!.fmtp['sprop-parameter-sets'], 'sprop');
    expect(sets.map((n) => n[0]! & 0x1f)).toEqual([7, 8]);
  });

  it('refuses what is not SDP', () => {
    expect(liveError(() => parseSdp('hello')).code).toBe('ERR_LIVE_PROTOCOL');
    expect(liveError(() => parseSdp('v=0\r\nm=video x')).message).toMatch(/media line/);
    expect(liveError(() => parseSdp(`v=0\r\n${'a=x\r\n'.repeat(600)}`)).code).toBe('ERR_LIVE_TOO_LARGE');
    expect(liveError(() => decodeParameterSets('Z0L$$', 'sprop-parameter-sets')).message).toMatch(/sprop-parameter-sets/);
  });
});

describe('RTP and RTCP', () => {
  it('parses headers with CSRCs, extension and padding', () => {
    const p = new Uint8Array([0xb1, 0xe0, 0, 5, 0, 0, 1, 0, 0, 0, 0, 7, /* csrc */ 1, 2, 3, 4, /* ext */ 0xbe, 0xde, 0, 1, 9, 9, 9, 9, /* payload */ 0x65, 0xaa, /* padding */ 0, 2]);
    expect(parseRtp(p)).toMatchObject({ payloadType: 96, marker: true, sequence: 5, timestamp: 256, ssrc: 7, payload: new Uint8Array([0x65, 0xaa]) });
    expect(liveError(() => parseRtp(new Uint8Array(11))).code).toBe('ERR_LIVE_PROTOCOL');
    expect(liveError(() => parseRtp(new Uint8Array([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).message).toMatch(/version 1/);
    expect(liveError(() => parseRtp(new Uint8Array([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]))).message).toMatch(/padding/);
  });

  it('reads sender reports from a compound packet', () => {
    const sr = new Uint8Array(28 + 8);
    const v = new DataView(sr.buffer);
    sr[0] = 0x80;
    sr[1] = 200;
    v.setUint16(2, 6);
    v.setUint32(4, 0x1234);
    v.setUint32(8, 2_208_988_800 + 1_700_000_000);
    v.setUint32(12, 2 ** 31);
    v.setUint32(16, 90000);
    sr[28] = 0x81;
    sr[29] = 202; // SDES after it
    v.setUint16(30, 1);
    expect(parseRtcp(sr)).toEqual([{ ssrc: 0x1234, ntpMs: 1_700_000_000_500, rtpTimestamp: 90000 }]);
    expect(liveError(() => parseRtcp(sr.subarray(0, 20))).message).toMatch(/runs past/);
  });
});

describe('authentication', () => {
  it('answers Digest as RFC 2617 §3.5 does', () => {
    const [challenge] = parseChallenges(['Basic realm="x"', 'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"']);
    expect(challenge!.scheme).toBe('digest');
    const auth = new Authenticator({ user: 'Mufasa', password: 'Circle Of Life' }, challenge!, () => '0a4f113b');
    const header = auth.header('GET', '/dir/index.html');
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(header).toContain('nc=00000001');
    expect(auth.header('GET', '/dir/index.html')).toContain('nc=00000002');
  });

  it('answers Basic, and refuses unknown Digest algorithms', () => {
    const [basic] = parseChallenges(['Basic realm="cam"']);
    expect(new Authenticator({ user: 'u', password: 'p' }, basic!).header('DESCRIBE', 'rtsp://h/')).toBe(`Basic ${btoa('u:p')}`);
    const [sha] = parseChallenges(['Digest realm="r", nonce="n", algorithm=SHA-256']);
    expect(liveError(() => new Authenticator({ user: 'u', password: 'p' }, sha!)).code).toBe('ERR_LIVE_AUTH');
  });
});
