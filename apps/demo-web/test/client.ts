/** A WebSocket client for the tests: collects JSON events and decoded frames, waits for conditions. */
import { WebSocket } from 'ws';
import { decodeFrame, type ServerEvent, type WireFrame } from '../src/protocol.js';

export class TestClient {
  readonly events: ServerEvent[] = [];
  readonly frames: WireFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) this.frames.push(decodeFrame(new Uint8Array(data)));
      else this.events.push(JSON.parse(data.toString('utf8')) as ServerEvent);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(command: unknown): void {
    this.ws.send(typeof command === 'string' ? command : JSON.stringify(command));
  }

  /** Resolves with the first value `find` returns that is not undefined; rejects after `ms`. */
  async until<T>(find: () => T | undefined, ms = 10_000, what = 'a condition'): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = find();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  event<T extends ServerEvent['type']>(type: T, after = 0, ms?: number): Promise<Extract<ServerEvent, { type: T }>> {
    return this.until(() => this.events.slice(after).find((e) => e.type === type) as Extract<ServerEvent, { type: T }> | undefined, ms, `a "${type}" event`);
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
