/**
 * One RTSP/1.0 session with a camera (RFC 2326): OPTIONS, DESCRIBE, SETUP of the video track (RTP interleaved
 * on the RTSP connection, or UDP), PLAY, keep-alive, TEARDOWN. Basic and Digest authentication, redirects,
 * a timeout on every step and a watchdog on the media. The session ends (`ended` resolves with the reason)
 * on the first error; reconnecting is the caller's job (LiveCamera).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Codec, type VideoCodec } from '@valkka/fs';
import { Authenticator, parseChallenges } from './auth.js';
import { LiveError } from './live-error.js';
import { header, printable, RtspReader, type RtspResponse } from './rtsp-message.js';
import { parseRtspUrl, redactUrl, resolveControl, type RtspUrl } from './rtsp-url.js';
import { decodeParameterSets, parseSdp, type SdpMedia } from './sdp.js';

export type Transport = 'tcp' | 'udp';

export interface SessionOptions {
  url: string;
  transport?: Transport;
  /** Timeout of each step: connect, every request (default 10 s). */
  stepTimeoutMs?: number;
  /** No video packet for this long ends the session (default 10 s). */
  stallTimeoutMs?: number;
  /** The video track, once known: called before PLAY, so that the first packets find their depacketizer. */
  onVideo?(track: VideoTrack): void;
  /** Video RTP packets, as they arrive. */
  onRtp(packet: Uint8Array): void;
  /** Video RTCP packets. */
  onRtcp(packet: Uint8Array): void;
  /** Packets of channels we did not set up (e.g. audio a server sends anyway). */
  onIgnored?(bytes: number): void;
  /** Aborts open() at once (a camera stopped while it connects). */
  signal?: AbortSignal;
}

export interface VideoTrack {
  codec: VideoCodec;
  clockRate: number;
  payloadType: number;
  parameterSets: Uint8Array[];
  /** Tracks of the SDP that are not played (audio, metadata, a second video). */
  ignoredTracks: string[];
}

const MAX_REDIRECTS = 3;
/**
 * While playing over TCP, connections are read at most once per this many ms (default), all of a thread's
 * together. Each wake-up and read costs far more than the bytes it moves: 100 ms halved the client's CPU
 * against 20 ms, and is nothing to a recorder (the kernel's socket buffer holds what waits).
 */
export const DEFAULT_READ_BATCH_MS = 100;

/**
 * Holds paused sockets and resumes them all together every `batchMs`: one wake-up of the thread reads
 * every camera's gathered packets. The timer runs only while a socket is held.
 */
const readPacer = {
  held: new Set<Socket>(),
  timer: undefined as NodeJS.Timeout | undefined,
  batchMs: DEFAULT_READ_BATCH_MS,
  hold(socket: Socket): void {
    if (this.held.has(socket)) return;
    socket.pause();
    this.held.add(socket);
    this.timer ??= setInterval(() => this.tick(), this.batchMs);
  },
  release(socket: Socket): void {
    this.held.delete(socket);
  },
  tick(): void {
    const sockets = [...this.held];
    this.held.clear();
    for (const s of sockets) if (!s.destroyed) s.resume();
    if (this.held.size === 0 && sockets.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  },
};
const USER_AGENT = 'valkka-live/0.1';

/** Sets how often this thread reads its cameras' TCP connections (ms; LiveThread checks the value). */
export function setReadBatchMs(ms: number): void {
  readPacer.batchMs = ms;
}

export class RtspSession {
  readonly video: VideoTrack;
  /** Resolves once, with why the session ended. */
  readonly ended: Promise<LiveError>;
  private endWith!: (reason: LiveError) => void;
  private done = false;

  private readonly reader = new RtspReader();
  private cseq = 0;
  private readonly waiting = new Map<number, { resolve(r: RtspResponse): void; reject(e: LiveError): void; timer: NodeJS.Timeout }>();
  private auth: Authenticator | undefined;
  private sessionId: string | undefined;
  private keepAliveMethod = 'GET_PARAMETER';
  private timers: NodeJS.Timeout[] = [];
  private udp: UdpSocket[] = [];
  private channels = { rtp: 0, rtcp: 1 };
  private lastMedia = performance.now();
  private readonly stepMs: number;
  private batching = false;

  private constructor(
    private readonly socket: Socket,
    relay: Relay,
    private readonly url: RtspUrl,
    private readonly credentials: { user: string; password: string } | undefined,
    private readonly options: SessionOptions,
  ) {
    this.stepMs = options.stepTimeoutMs ?? 10_000;
    this.ended = new Promise((resolve) => (this.endWith = resolve));
    this.video = undefined as unknown as VideoTrack;
    this.attach(socket, relay);
  }

  /** Connects and plays; rejects with a LiveError (its message names the camera without its password). */
  static async open(options: SessionOptions): Promise<RtspSession> {
    let url = parseRtspUrl(options.url);
    for (let redirects = 0; ; redirects++) {
      const credentials = url.user !== undefined ? { user: url.user, password: url.password ?? '' } : undefined;
      const relay: Relay = {};
      const session = new RtspSession(await connectTcp(url, options.stepTimeoutMs ?? 10_000, relay, options.signal), relay, url, credentials, options);
      const abort = (): void => session.close();
      options.signal?.addEventListener('abort', abort);
      try {
        if (options.signal?.aborted) throw new LiveError('ERR_LIVE_CLOSED', 'stopped while connecting');
        await session.describeAndPlay();
        return session;
      } catch (err) {
        session.close();
        if (err instanceof Redirect && redirects < MAX_REDIRECTS) {
          const next = parseRtspUrl(err.location);
          // Credentials stay with the camera they were given for: only kept for a redirect to the same host.
          url = next.host === url.host && next.user === undefined && credentials ? { ...next, ...credentials } : next;
          continue;
        }
        if (err instanceof Redirect) throw new LiveError('ERR_LIVE_STATUS', `more than ${MAX_REDIRECTS} redirects (last to ${redactUrl(err.location)})`);
        throw err;
      } finally {
        options.signal?.removeEventListener('abort', abort);
      }
    }
  }

  private attach(socket: Socket, relay: Relay): void {
    socket.setNoDelay(true);
    relay.data = (chunk) => {
      this.receive(chunk);
      // While playing, read in batches: the kernel gathers packets and one read takes them all, instead of a
      // wake-up per packet (most of a recorder's CPU). The socket buffer bounds what waits.
      if (this.batching && !this.done && chunk.length < READ_BUFFER_BYTES) readPacer.hold(socket); // a full read: more is waiting
    };
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new LiveError('ERR_LIVE_CLOSED', `connection to ${this.where} failed: ${err.code ?? err.message}`)));
    socket.on('close', () => this.fail(new LiveError('ERR_LIVE_CLOSED', `${this.where} closed the connection`)));
  }

  private receive(chunk: Uint8Array): void {
    {
      let messages;
      try {
        messages = this.reader.push(chunk);
      } catch (err) {
        return this.fail(err as LiveError);
      }
      for (const m of messages) {
        if (m.kind === 'interleaved') {
          if (m.channel === this.channels.rtp) {
            this.lastMedia = performance.now();
            this.options.onRtp(m.data);
          } else if (m.channel === this.channels.rtcp) this.options.onRtcp(m.data);
          else this.options.onIgnored?.(m.data.length);
        } else if (m.kind === 'response') {
          const seq = Number(header(m.response.headers, 'cseq'));
          const w = this.waiting.get(seq);
          if (!w) continue; // an answer to nothing we asked (or too late): ignored
          this.waiting.delete(seq);
          clearTimeout(w.timer);
          w.resolve(m.response);
        }
        if (this.done) return;
      }
    }
  }

  private get where(): string {
    return `${this.url.host}:${this.url.port}`;
  }

  private async describeAndPlay(): Promise<void> {
    const options = await this.request('OPTIONS', this.url.href, {});
    const methods = (header(options.headers, 'public') ?? '').toUpperCase();
    if (!methods.includes('GET_PARAMETER')) this.keepAliveMethod = 'OPTIONS';
    const described = await this.request('DESCRIBE', this.url.href, { Accept: 'application/sdp' });
    const base = header(described.headers, 'content-base') ?? header(described.headers, 'content-location') ?? this.url.href;
    const sdp = parseSdp(Buffer.from(described.body).toString('utf8'));
    const media = sdp.media.find((m) => m.type === 'video' && (m.encoding === 'H264' || m.encoding === 'H265'));
    const describe = (m: SdpMedia): string => `${m.type} ${m.encoding ?? m.formats.join(',')}`;
    if (!media) {
      throw new LiveError('ERR_LIVE_MEDIA', `${this.url.href}: no H.264/H.265 video track (tracks: ${sdp.media.map(describe).join(', ') || 'none'})`);
    }
    (this as { video: VideoTrack }).video = videoTrack(media, sdp.media.filter((m) => m !== media).map(describe));
    this.options.onVideo?.(this.video);
    const control = resolveControl(resolveControl(base, sdp.control), media.control);
    const setup = await this.request('SETUP', control, { Transport: await this.transportRequest() });
    const session = header(setup.headers, 'session');
    if (!session) throw new LiveError('ERR_LIVE_PROTOCOL', `${this.where}: SETUP answered without a Session header`);
    const [id, ...params] = session.split(';');
    this.sessionId = id!.trim();
    const timeout = params.map((p) => /^\s*timeout\s*=\s*(\d+)/i.exec(p)).find(Boolean);
    const timeoutS = Math.min(300, Math.max(2, timeout ? Number(timeout[1]) : 60));
    this.useTransport(header(setup.headers, 'transport') ?? '');
    await this.request('PLAY', resolveControl(base, sdp.control), { Range: 'npt=0.000-' });
    this.batching = true;
    this.lastMedia = performance.now();
    // Keep-alive at half the session timeout; the watchdog notices a camera that stopped sending.
    this.timers.push(setInterval(() => this.keepAlive(), (timeoutS * 1000) / 2));
    const stall = this.options.stallTimeoutMs ?? 10_000;
    this.timers.push(
      setInterval(() => {
        const idle = performance.now() - this.lastMedia;
        if (idle > stall) this.fail(new LiveError('ERR_LIVE_TIMEOUT', `${this.where} sent no video for ${(idle / 1000).toFixed(1)} s`));
      }, Math.min(1000, stall / 2)),
    );
  }

  private async transportRequest(): Promise<string> {
    if (this.options.transport !== 'udp') return 'RTP/AVP/TCP;unicast;interleaved=0-1';
    const [rtp, rtcp] = await bindUdpPair(this.socket.remoteFamily === 'IPv6' ? 'udp6' : 'udp4');
    this.udp = [rtp, rtcp];
    const from = this.socket.remoteAddress;
    rtp.on('message', (msg, rinfo) => {
      if (rinfo.address !== from) return this.options.onIgnored?.(msg.length);
      this.lastMedia = performance.now();
      this.options.onRtp(msg);
    });
    rtcp.on('message', (msg, rinfo) => {
      if (rinfo.address !== from) return this.options.onIgnored?.(msg.length);
      this.options.onRtcp(msg);
    });
    return `RTP/AVP;unicast;client_port=${rtp.address().port}-${rtcp.address().port}`;
  }

  private useTransport(transport: string): void {
    if (this.options.transport === 'udp') {
      if (/\/TCP/i.test(transport)) throw new LiveError('ERR_LIVE_STATUS', `${this.where} refused UDP and answered with TCP transport`);
      return;
    }
    const m = /interleaved=(\d+)(?:-(\d+))?/i.exec(transport);
    if (!m) throw new LiveError('ERR_LIVE_PROTOCOL', `${this.where}: SETUP Transport '${printable(transport)}' has no interleaved channels`);
    this.channels = { rtp: Number(m[1]), rtcp: m[2] !== undefined ? Number(m[2]) : Number(m[1]) + 1 };
  }

  private keepAlive(): void {
    this.request(this.keepAliveMethod, this.url.href, {}).catch((err: LiveError) => {
      // Some cameras list GET_PARAMETER but refuse it: OPTIONS from then on.
      if ((err.code === 'ERR_LIVE_STATUS' || err.code === 'ERR_LIVE_UNAVAILABLE') && this.keepAliveMethod !== 'OPTIONS') this.keepAliveMethod = 'OPTIONS';
      else this.fail(err);
    });
  }

  /** Sends a request and waits for its answer; handles a 401 once (twice for a stale Digest nonce) and redirects. */
  private async request(method: string, uri: string, extra: Record<string, string>): Promise<RtspResponse> {
    const credentials = this.credentials;
    for (let attempt = 0; ; attempt++) {
      const response = await this.send(method, uri, extra);
      if (response.status === 401 && attempt < 2) {
        const challenges = parseChallenges(response.headers.get('www-authenticate') ?? []);
        const stale = challenges[0]?.params.stale?.toLowerCase() === 'true';
        if (!credentials) throw new LiveError('ERR_LIVE_AUTH', `${this.url.href} requires credentials (none in the URL)`);
        if (!challenges[0]) throw new LiveError('ERR_LIVE_AUTH', `${this.url.href} answered 401 without a Basic or Digest challenge`);
        if (this.auth && !stale) throw refused(this.url);
        this.auth = new Authenticator(credentials, challenges[0]);
        continue;
      }
      if (response.status === 401) throw refused(this.url);
      if (response.status >= 300 && response.status < 400 && (method === 'OPTIONS' || method === 'DESCRIBE')) {
        const location = header(response.headers, 'location');
        if (location) throw new Redirect(location);
      }
      // A camera that does not know OPTIONS still plays.
      if (response.status >= 300 && !(method === 'OPTIONS' && response.status === 501)) {
        const code = response.status >= 500 ? 'ERR_LIVE_UNAVAILABLE' : 'ERR_LIVE_STATUS';
        throw new LiveError(code, `${this.url.href}: ${method} answered ${response.status} ${printable(response.reason)}`);
      }
      return response;
    }
  }

  private send(method: string, uri: string, extra: Record<string, string>): Promise<RtspResponse> {
    if (this.done) return Promise.reject(new LiveError('ERR_LIVE_CLOSED', `${this.where}: session already ended`));
    const cseq = ++this.cseq;
    const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${cseq}`, `User-Agent: ${USER_AGENT}`];
    if (this.auth) lines.push(`Authorization: ${this.auth.header(method, uri)}`);
    if (this.sessionId) lines.push(`Session: ${this.sessionId}`);
    for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cseq);
        const err = new LiveError('ERR_LIVE_TIMEOUT', `${this.where}: no answer to ${method} within ${this.stepMs / 1000} s`);
        reject(err);
        this.fail(err);
      }, this.stepMs);
      this.waiting.set(cseq, { resolve, reject, timer });
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  /** Ends the session politely: TEARDOWN (waiting at most `timeoutMs`), then closes. */
  async teardown(timeoutMs = 1000): Promise<void> {
    if (!this.done && this.sessionId) {
      const url = this.url.href;
      await Promise.race([this.send('TEARDOWN', url, {}).catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs))]);
    }
    this.close();
  }

  close(): void {
    this.fail(new LiveError('ERR_LIVE_CLOSED', 'session closed'));
  }

  private fail(reason: LiveError): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearInterval(t);
    readPacer.release(this.socket);
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    this.waiting.clear();
    for (const s of this.udp) closeQuietly(s);
    this.socket.destroy();
    this.endWith(reason);
  }
}

class Redirect extends Error {
  constructor(readonly location: string) {
    super(`redirect to ${redactUrl(location)}`);
  }
}

/** The message names the camera, never the user or password. */
const refused = (url: RtspUrl): LiveError => new LiveError('ERR_LIVE_AUTH', `${url.href} refused the credentials (401 Unauthorized)`);

function videoTrack(media: SdpMedia, ignoredTracks: string[]): VideoTrack {
  const codec = media.encoding === 'H264' ? Codec.h264 : Codec.h265;
  const f = media.fmtp;
  if (codec === Codec.h264 && f['packetization-mode'] === '2') throw new LiveError('ERR_LIVE_MEDIA', 'H.264 interleaved packetization (mode 2) is not supported');
  if (codec === Codec.h265 && Number(f['sprop-max-don-diff'] ?? 0) > 0) throw new LiveError('ERR_LIVE_MEDIA', 'H.265 with decoding order numbers (sprop-max-don-diff > 0) is not supported');
  const parameterSets =
    codec === Codec.h264
      ? decodeParameterSets(f['sprop-parameter-sets'], 'sprop-parameter-sets')
      : [...decodeParameterSets(f['sprop-vps'], 'sprop-vps'), ...decodeParameterSets(f['sprop-sps'], 'sprop-sps'), ...decodeParameterSets(f['sprop-pps'], 'sprop-pps')];
  const clockRate = media.clockRate ?? 90_000;
  if (!(clockRate > 0 && clockRate <= 1_000_000)) throw new LiveError('ERR_LIVE_MEDIA', `video clock rate ${clockRate} is out of range`);
  return { codec, clockRate, payloadType: media.formats[0] ?? 96, parameterSets, ignoredTracks };
}

/** Where a connection's bytes go (set once the session exists). */
interface Relay {
  data?: (chunk: Uint8Array) => void;
}

/** Bytes one read takes at most. */
const READ_BUFFER_BYTES = 256 * 1024;

function connectTcp(url: RtspUrl, timeoutMs: number, relay: Relay, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LiveError('ERR_LIVE_CLOSED', 'stopped while connecting'));
    // One read buffer per connection, reused; each read is copied out once (packets outlive the read).
    const socket = connect({
      host: url.host,
      port: url.port,
      onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (n: number, buf: Uint8Array) => {
          relay.data?.(Uint8Array.prototype.slice.call(buf, 0, n)); // a copy (Buffer's own slice is a view)
          return true;
        },
      },
    });
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      socket.destroy();
      reject(new LiveError('ERR_LIVE_TIMEOUT', `cannot connect to ${url.host}:${url.port} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const abort = (): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new LiveError('ERR_LIVE_CLOSED', 'stopped while connecting'));
    };
    signal?.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', abort);
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', abort);
      clearTimeout(timer);
      reject(new LiveError('ERR_LIVE_CONNECT', `cannot connect to ${url.host}:${url.port}: ${err.code ?? err.message}`));
    });
  });
}

/** Two UDP sockets on adjacent ports, RTP on the even one (RFC 3550 §11). */
async function bindUdpPair(type: 'udp4' | 'udp6'): Promise<[UdpSocket, UdpSocket]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 2 * (10_000 + Math.floor(Math.random() * 20_000));
    const rtp = createSocket(type);
    const rtcp = createSocket(type);
    try {
      await bind(rtp, port);
      await bind(rtcp, port + 1);
      rtp.setRecvBufferSize(2 << 20);
      return [rtp, rtcp];
    } catch {
      for (const s of [rtp, rtcp]) closeQuietly(s);
    }
  }
  throw new LiveError('ERR_LIVE_CONNECT', 'no free pair of UDP ports for RTP/RTCP');
}

function closeQuietly(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // never bound
  }
}

function bind(socket: UdpSocket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
