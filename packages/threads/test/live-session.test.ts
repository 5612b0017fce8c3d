// The RTSP dialogue itself, against a scripted camera on loopback: keep-alive within the session timeout
// (GET_PARAMETER, OPTIONS when refused), TEARDOWN on stop, the Session id on every request, Basic auth.
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LiveCamera } from '../src/live/live-camera.js';
import type { SlotFrame } from '../src/slot-frame.js';
import { rtpPacket } from './live-rtp.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=scripted\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r\na=control:track1\r\n';

interface Seen {
  method: string;
  uri: string;
  headers: Record<string, string>;
}

/** A camera that answers by script, sends an IDR every 40 ms once playing, and notes every request. */
async function scriptedCamera(options: { refuseGetParameter?: boolean; basic?: string }) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    let seq = 0;
    socket.on('close', () => clearInterval(timer));
    socket.on('data', (d) => {
      text += d.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        const [first, ...lines] = text.slice(0, end).split('\r\n');
        text = text.slice(end + 4);
        const [method, uri] = first!.split(' ');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        seen.push({ method: method!, uri: uri!, headers });
        const reply = (status: string, extra: string[] = [], body = '') =>
          socket.write([`RTSP/1.0 ${status}`, `CSeq: ${headers.cseq}`, ...extra, ...(body ? [`Content-Length: ${body.length}`] : []), '', body].join('\r\n'));
        if (options.basic && headers.authorization !== `Basic ${options.basic}`) reply('401 Unauthorized', ['WWW-Authenticate: Basic realm="cam"']);
        else if (method === 'OPTIONS') reply('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
        else if (method === 'DESCRIBE') reply('200 OK', ['Content-Type: application/sdp', `Content-Base: ${uri}/`], SDP);
        else if (method === 'SETUP') reply('200 OK', ['Session: 12345678;timeout=2', 'Transport: RTP/AVP/TCP;unicast;interleaved=4-5']);
        else if (method === 'PLAY') {
          reply('200 OK', ['Session: 12345678']);
          timer = setInterval(() => {
            const p = rtpPacket({ seq: seq, timestamp: seq * 3600, marker: true }, new Uint8Array([0x65, 0x88, seq & 255]));
            seq++;
            socket.write(Buffer.concat([Buffer.from([0x24, 4, p.length >> 8, p.length & 255]), p]));
          }, 40);
        } else if (method === 'GET_PARAMETER' && options.refuseGetParameter) reply('405 Method Not Allowed');
        else reply('200 OK', ['Session: 12345678']);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('RTSP dialogue', () => {
  it('keeps the session alive within its timeout, falls back to OPTIONS, and tears down on stop', async () => {
    const cam = await scriptedCamera({ refuseGetParameter: true, basic: btoa('admin:pw') });
    const frames: SlotFrame[] = [];
    const camera = new LiveCamera({ url: `rtsp://admin:pw@127.0.0.1:${cam.port}/stream`, slot: 3 }, { onFrame: (f) => frames.push(f) });
    camera.start();
    expect(await camera.firstAttempt).toBeUndefined();
    await sleep(2600); // timeout=2: keep-alives every second
    await camera.stop();
    await cam.close();
    const methods = cam.seen.filter((s) => s.headers.authorization).map((s) => s.method);
    expect(methods.slice(0, 4)).toEqual(['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY']);
    expect(methods).toContain('GET_PARAMETER');
    const afterRefusal = methods.slice(methods.indexOf('GET_PARAMETER') + 1);
    expect(afterRefusal.filter((m) => m === 'OPTIONS').length).toBeGreaterThanOrEqual(1); // GET_PARAMETER refused: OPTIONS from then on
    expect(afterRefusal).not.toContain('GET_PARAMETER');
    expect(methods.at(-1)).toBe('TEARDOWN');
    // The track's control resolved against Content-Base; the session id on every request after SETUP.
    expect(cam.seen.find((s) => s.method === 'SETUP')!.uri).toBe(`rtsp://127.0.0.1:${cam.port}/stream/track1`);
    expect(cam.seen.filter((s) => ['PLAY', 'GET_PARAMETER', 'TEARDOWN'].includes(s.method)).every((s) => s.headers.session === '12345678')).toBe(true);
    // Interleaved channels as the camera chose them (4-5); the SDP's parameter sets in front of the first key frame.
    expect(frames.length).toBeGreaterThan(20);
    expect(frames[0]!.flags).toBe(3);
    expect(Array.from(frames[0]!.payload.subarray(0, 5))).toEqual([0, 0, 0, 1, 0x67]);
    expect(frames.every((f) => f.slot === 3)).toBe(true);
    expect(camera.stats()).toMatchObject({ state: 'stopped', connects: 1, reconnects: 0, lostPackets: 0 });
  }, 15_000);

  it('stop() does not wait for a step of a camera that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    // Steps of a minute: only the abort can end the attempt within this test's timeout.
    const camera = new LiveCamera({ url: `rtsp://127.0.0.1:${port}/x`, slot: 1, stepTimeoutMs: 60_000 }, { onFrame: () => undefined });
    camera.start();
    await sleep(300);
    expect(camera.stats().state).toBe('connecting');
    await camera.stop();
    expect(camera.stats().state).toBe('stopped');
    expect(sockets).toHaveLength(1); // no new attempt after stop
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }, 10_000);
});
