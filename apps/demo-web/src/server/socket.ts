/**
 * One WebSocket per browser tab, one playback session per socket, with every resource bounded: sessions,
 * cameras per session, message size, commands per second, and bytes queued for a slow client (frames wait
 * above the soft limit; a client that stays above the hard limit is dropped).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ServerEvent } from '../protocol.js';
import type { Catalog } from './catalog.js';
import { type Command, parseCommand } from './commands.js';
import { PlaybackSession, SessionError } from './session.js';

export interface SocketLimits {
  sessions: number;
  streamsPerSession: number;
  /** Largest text message accepted from a browser (bytes). */
  messageBytes: number;
  /** Above this many unsent bytes a session stops sending frames until the socket drains. */
  softQueueBytes: number;
  /** A client holding this many unsent bytes is dropped. */
  hardQueueBytes: number;
  /** Commands per second a tab may send (burst: twice as many). */
  commandsPerSecond: number;
}

export const DEFAULT_LIMITS: SocketLimits = {
  sessions: 32,
  streamsPerSession: 16,
  messageBytes: 4096,
  softQueueBytes: 2 << 20,
  hardQueueBytes: 24 << 20,
  commandsPerSecond: 40,
};

/** A tab that exceeds its command rate this many times in a row is disconnected. */
const FLOOD_STRIKES = 200;

export class SocketHub {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<WebSocket, PlaybackSession>();
  private nextId = 1;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly catalog: Catalog,
    private readonly limits: SocketLimits,
    private readonly log: Logger,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.messageBytes, perMessageDeflate: false });
    this.unsubscribe = catalog.onCamerasChanged(() => {
      const cameras = catalog.cameras.map((c) => catalog.info(c));
      for (const ws of this.sessions.keys()) sendJson(ws, { type: 'cameras', cameras });
    });
  }

  /** Open sessions and the most bytes any socket holds unsent right now. */
  stats(): { open: number; maxQueuedBytes: number; limits: SocketLimits } {
    let maxQueuedBytes = 0;
    for (const ws of this.sessions.keys()) maxQueuedBytes = Math.max(maxQueuedBytes, ws.bufferedAmount);
    return { open: this.sessions.size, maxQueuedBytes, limits: this.limits };
  }

  /** Takes over an HTTP upgrade that passed authentication. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.sessions.size >= this.limits.sessions) {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ntoo many sessions (at most ${this.limits.sessions}): close another tab\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const id = this.nextId++;
    const log = this.log.child({ session: id });
    const limits = this.limits;
    const session = new PlaybackSession(
      this.catalog,
      {
        json: (event) => sendJson(ws, event),
        frame: (bytes) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (ws.bufferedAmount > limits.hardQueueBytes) {
            log.warn({ queued: ws.bufferedAmount }, 'slow client dropped');
            ws.close(1013, 'too slow: more than the queue limit of unsent frames');
            ws.terminate();
            return;
          }
          ws.send(bytes);
        },
        congested: () => ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > limits.softQueueBytes,
      },
      limits.streamsPerSession,
    );
    this.sessions.set(ws, session);
    log.info('session opened');
    sendJson(ws, { type: 'hello', session: id, limits: { streams: limits.streamsPerSession, messageBytes: limits.messageBytes } });
    sendJson(ws, { type: 'cameras', cameras: this.catalog.cameras.map((c) => this.catalog.info(c)) });

    // Token bucket: commandsPerSecond, bursts of twice that.
    let tokens = limits.commandsPerSecond * 2;
    let refilled = performance.now();
    let strikes = 0;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const t = performance.now();
      tokens = Math.min(limits.commandsPerSecond * 2, tokens + ((t - refilled) / 1000) * limits.commandsPerSecond);
      refilled = t;
      if (tokens < 1) {
        if (++strikes >= FLOOD_STRIKES) {
          log.warn('flooding client disconnected');
          ws.close(1008, `more than ${limits.commandsPerSecond} commands per second`);
          return;
        }
        if (strikes === 1 || strikes % 50 === 0) sendJson(ws, { type: 'error', code: 'EFLOOD', message: `more than ${limits.commandsPerSecond} commands per second: command dropped` });
        return;
      }
      tokens--;
      strikes = 0;
      if (isBinary) {
        sendJson(ws, { type: 'error', code: 'EBINARY', message: 'commands are JSON text messages, not binary' });
        return;
      }
      const parsed = parseCommand(rawText(data));
      if (!parsed.ok) {
        sendJson(ws, { type: 'error', code: parsed.code, message: parsed.message });
        return;
      }
      session
        .run(() => dispatch(session, parsed.command))
        .catch((err: Error) => {
          if (!(err instanceof SessionError)) log.error({ err }, 'command failed');
          sendJson(ws, { type: 'error', code: err instanceof SessionError ? err.code : 'EINTERNAL', message: err.message });
        });
    });
    ws.on('close', () => {
      void session.close().catch((err: Error) => log.warn({ err: err.message }, 'closing the playback manager failed'));
      this.sessions.delete(ws);
      log.info('session closed');
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'socket error'));
  }

  /** Closes every socket (server shutdown). */
  async close(): Promise<void> {
    this.unsubscribe();
    const closing = [...this.sessions].map(([ws, session]) => {
      ws.close(1001, 'server shutting down');
      return session.close().catch((err: Error) => this.log.warn({ err: err.message }, 'closing a playback manager failed'));
    });
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const ws of this.sessions.keys()) ws.terminate();
  }
}

function dispatch(session: PlaybackSession, c: Command): Promise<void> {
  switch (c.cmd) {
    case 'open':
      return session.open(c.cameras);
    case 'seek':
      return session.seek(c.time);
    case 'play':
      return session.play(c.rate);
    case 'stop':
      return session.stop();
    case 'rate':
      return session.setRate(c.rate);
    case 'step':
      return session.step(c.direction);
    case 'reverse':
      return session.play(-Math.abs(c.rate ?? 1));
    case 'live':
      return session.goLive();
  }
}

function sendJson(ws: WebSocket, event: ServerEvent): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
