/**
 * The tab's WebSocket: JSON events and binary frames in, commands out. Reconnects after a lost connection
 * (backing off up to 2 s) and calls `onOpen` again so the page can restore its cameras, position and state.
 */
import { decodeFrame, type ServerEvent, type WireFrame } from '../protocol.js';

export interface ConnectionHandlers {
  onOpen(): void;
  onEvent(event: ServerEvent): void;
  onFrame(frame: WireFrame): void;
  onStatus(status: 'connecting' | 'open' | 'closed', detail?: string): void;
}

export class Connection {
  private ws: WebSocket | undefined;
  private delay = 250;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.connect();
  }

  send(command: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(command));
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }

  private connect(): void {
    this.handlers.onStatus('connecting');
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 250;
      this.handlers.onStatus('open');
      this.handlers.onOpen();
    };
    ws.onmessage = (m: MessageEvent<string | ArrayBuffer>) => {
      if (typeof m.data === 'string') this.handlers.onEvent(JSON.parse(m.data) as ServerEvent);
      else this.handlers.onFrame(decodeFrame(new Uint8Array(m.data)));
    };
    ws.onclose = (e) => {
      this.handlers.onStatus('closed', e.reason || `code ${e.code}`);
      if (this.stopped) return;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(2000, this.delay * 2);
    };
  }
}
