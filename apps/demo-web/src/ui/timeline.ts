/**
 * The timeline: a canvas with a time ruler, one row for all cameras and one per camera holding their
 * recorded ranges, the protected ranges (an amber band along the row's top), the span sent to this tab
 * (cached), the selected range, the play head and the hovered instant. In a fleet the camera rows are
 * grouped under a heading per node (its name and online / offline), and archive cameras' ranges have
 * their own colour.
 * Wheel zooms (seconds to weeks) around the pointer, shift+wheel or dragging the ruler pans, dragging
 * a row scrubs, shift+dragging a row selects a range (shift+click clears it), a click seeks.
 */

export interface TimelineHandlers {
  seek(t: number): void;
  scrub(t: number): void;
  viewChanged(from: number, to: number): void;
  hover(t: number | undefined, camera: number | 'all' | undefined, x: number): void;
  /** The selected range changed (undefined: cleared). */
  select(range: [number, number] | undefined): void;
}

const RULER = 24;
const ALL_ROW = 18;
const ROW = 14;
const GAP = 3;
const LABEL_W = 92;
/** A node's heading row (fleet only). */
const HEAD = 14;
export const RECORDED_COLOR = '#34b27d';
export const ARCHIVE_COLOR = '#a98bff';
/** Height of the protected band along the top of a row. */
const BAND = 3;
export const PROTECTED_COLOR = '#e0b341';
const MIN_SPAN = 2_000;
const MAX_SPAN = 62 * 86_400_000;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

/** A camera row; `node` set in a fleet (rows of one node follow its heading). */
export interface TimelineCamera {
  id: number;
  name: string;
  node?: string | null;
  online?: boolean;
  archive?: boolean;
}

type Row = { kind: 'node'; node: string; online: boolean; y: number } | { kind: 'camera'; camera: TimelineCamera; y: number };

export class Timeline {
  from: number;
  to: number;
  private rows: Row[] = [];
  private ranges = new Map<number, Array<[number, number]>>();
  private all: Array<[number, number]> = [];
  private cached = new Map<number, [number, number]>();
  private protectedRanges = new Map<number, Array<[number, number]>>();
  private selection: [number, number] | undefined;
  private playhead: number | undefined;
  private hoverX: number | undefined;
  private drag: { x: number; kind: 'pan' | 'scrub' | 'select'; from: number; anchor: number; moved: boolean } | undefined;
  private readonly ctx: CanvasRenderingContext2D;
  private pending = false;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly handlers: TimelineHandlers,
  ) {
    this.ctx = canvas.getContext('2d')!;
    const now = Date.now();
    this.from = now - 3_600_000;
    this.to = now;
    canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointerleave', () => {
      this.hoverX = undefined;
      this.handlers.hover(undefined, undefined, 0);
      this.redraw();
    });
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  /** Height the canvas needs for its rows. */
  get height(): number {
    const last = this.rows.at(-1);
    return (last ? last.y + (last.kind === 'node' ? HEAD : ROW) + GAP : RULER + ALL_ROW + GAP) + 6;
  }

  /** The camera rows, in order; in a fleet a heading goes before the first camera of each node. */
  setCameras(cameras: TimelineCamera[]): void {
    this.rows = [];
    let y = RULER + ALL_ROW + GAP;
    let node: string | null | undefined;
    for (const camera of cameras) {
      if (camera.node && camera.node !== node) {
        // A node is online when any of its live cameras says so (archive cameras do not know).
        const online = cameras.some((c) => c.node === camera.node && !c.archive && c.online !== false);
        this.rows.push({ kind: 'node', node: camera.node, online, y });
        y += HEAD + GAP;
      }
      node = camera.node;
      this.rows.push({ kind: 'camera', camera, y });
      y += ROW + GAP;
    }
    this.canvas.style.height = `${this.height}px`;
    this.redraw();
  }

  setRanges(ranges: Map<number, Array<[number, number]>>, all: Array<[number, number]>): void {
    this.ranges = ranges;
    this.all = all;
    this.redraw();
  }

  setCached(cached: Map<number, [number, number]>): void {
    this.cached = cached;
    this.redraw();
  }

  /** Protected ranges per camera. */
  setProtected(ranges: Map<number, Array<[number, number]>>): void {
    this.protectedRanges = ranges;
    this.redraw();
  }

  setSelection(range: [number, number] | undefined): void {
    this.selection = range;
    this.redraw();
  }

  /** Top of a camera's row in CSS pixels (the band is its first BAND pixels), or undefined. */
  rowTop(camera: number): number | undefined {
    return this.rows.find((r) => r.kind === 'camera' && r.camera.id === camera)?.y;
  }

  setPlayhead(t: number | undefined): void {
    // Called every animation frame: redraw only when the head moves by a pixel.
    const moved = t === undefined || this.playhead === undefined || Math.abs(this.xOf(t) - this.xOf(this.playhead)) >= 0.5;
    this.playhead = t;
    if (moved) this.redraw();
  }

  setView(from: number, to: number): void {
    const span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, to - from));
    const mid = (from + to) / 2;
    this.from = Math.round(mid - span / 2);
    this.to = Math.round(mid + span / 2);
    this.handlers.viewChanged(this.from, this.to);
    this.redraw();
  }

  /** Ms per pixel at the current zoom (for the server to merge what a pixel cannot show). */
  get resolution(): number {
    return (this.to - this.from) / Math.max(1, this.trackWidth);
  }

  private get trackWidth(): number {
    return this.canvas.clientWidth - LABEL_W;
  }

  timeAt(x: number): number {
    return this.from + ((x - LABEL_W) / this.trackWidth) * (this.to - this.from);
  }

  xOf(t: number): number {
    return LABEL_W + ((t - this.from) / (this.to - this.from)) * this.trackWidth;
  }

  private rowAt(y: number): number | 'all' | 'ruler' | undefined {
    if (y < RULER) return 'ruler';
    if (y < RULER + ALL_ROW + GAP) return 'all';
    const row = this.rows.find((r) => y >= r.y && y < r.y + (r.kind === 'node' ? HEAD : ROW) + GAP);
    return row?.kind === 'camera' ? row.camera.id : undefined;
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    const span = this.to - this.from;
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const d = ((e.shiftKey ? e.deltaY : e.deltaX) / this.trackWidth) * span;
      this.setView(this.from + d, this.to + d);
      return;
    }
    const x = Math.max(LABEL_W, e.offsetX);
    const at = this.timeAt(x);
    const next = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span * Math.pow(1.0015, e.deltaY)));
    const from = at - ((x - LABEL_W) / this.trackWidth) * next;
    this.from = Math.round(from);
    this.to = Math.round(from + next);
    this.handlers.viewChanged(this.from, this.to);
    this.redraw();
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    this.canvas.setPointerCapture(e.pointerId);
    const row = this.rowAt(e.offsetY);
    const onRuler = row === 'ruler' || e.offsetX < LABEL_W;
    const kind = onRuler ? 'pan' : e.shiftKey ? 'select' : 'scrub';
    this.drag = { x: e.offsetX, kind, from: this.from, anchor: this.timeAt(e.offsetX), moved: false };
  }

  private move(e: PointerEvent): void {
    this.hoverX = e.offsetX >= LABEL_W ? e.offsetX : undefined;
    const d = this.drag;
    if (d) {
      if (Math.abs(e.offsetX - d.x) > 3) d.moved = true;
      if (d.moved && d.kind === 'pan') {
        const shift = ((d.x - e.offsetX) / this.trackWidth) * (this.to - this.from);
        const span = this.to - this.from;
        this.from = Math.round(d.from + shift);
        this.to = this.from + span;
        this.handlers.viewChanged(this.from, this.to);
      } else if (d.moved && d.kind === 'select') {
        const t = this.timeAt(Math.max(LABEL_W, e.offsetX));
        this.selection = [Math.round(Math.min(d.anchor, t)), Math.round(Math.max(d.anchor, t))];
        this.handlers.select(this.selection);
      } else if (d.moved) this.handlers.scrub(this.timeAt(Math.max(LABEL_W, e.offsetX)));
    }
    const row = this.rowAt(e.offsetY);
    this.handlers.hover(this.hoverX === undefined ? undefined : this.timeAt(this.hoverX), row === 'ruler' ? undefined : row, e.offsetX);
    this.redraw();
  }

  private up(e: PointerEvent): void {
    const d = this.drag;
    this.drag = undefined;
    if (d?.kind === 'select') {
      // A shift+click without a drag clears the selection.
      if (!d.moved) {
        this.selection = undefined;
        this.handlers.select(undefined);
        this.redraw();
      }
      return;
    }
    if (!d || e.offsetX < LABEL_W) return;
    if (d.kind === 'scrub' || !d.moved) this.handlers.seek(this.timeAt(e.offsetX));
  }

  redraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const c = this.ctx;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.fillStyle = '#0d0f13';
    c.fillRect(0, 0, w, h);
    this.drawRuler(w);

    this.drawRow('All cameras', RULER, ALL_ROW, this.all, '#4f8cff', undefined, [...this.protectedRanges.values()].flat());
    for (const row of this.rows) {
      if (row.kind === 'node') this.drawHeading(row.node, row.online, row.y, w);
      else {
        const cam = row.camera;
        // Under its node's heading the node's name is left out of the label.
        const short = cam.node && cam.name.startsWith(`${cam.node}/`) ? cam.name.slice(cam.node.length + 1) : cam.name;
        const label = cam.archive ? short.replace(/ \(archive\)$/, ' archive') : short;
        this.drawRow(label, row.y, ROW, this.ranges.get(cam.id) ?? [], cam.archive ? ARCHIVE_COLOR : RECORDED_COLOR, this.cached.get(cam.id), this.protectedRanges.get(cam.id) ?? []);
      }
    }
    if (this.selection) this.drawSelection(this.selection, h);

    if (this.hoverX !== undefined) {
      c.fillStyle = 'rgba(255,255,255,0.35)';
      c.fillRect(Math.round(this.hoverX), RULER, 1, h - RULER);
    }
    if (this.playhead !== undefined && this.playhead >= this.from && this.playhead <= this.to) {
      const x = Math.round(this.xOf(this.playhead));
      c.fillStyle = '#ff5a4f';
      c.fillRect(x - 1, 4, 2, h - 4);
      c.beginPath();
      c.moveTo(x - 5, 2);
      c.lineTo(x + 5, 2);
      c.lineTo(x, 8);
      c.fill();
    }
  }

  /** A node's heading: its name and a dot, green online, red offline. */
  private drawHeading(node: string, online: boolean, y: number, w: number): void {
    const c = this.ctx;
    c.fillStyle = '#10131a';
    c.fillRect(0, y, w, HEAD);
    c.fillStyle = online ? '#34b27d' : '#ff5a4f';
    c.beginPath();
    c.arc(12, y + HEAD / 2, 3.5, 0, Math.PI * 2);
    c.fill();
    c.font = '600 11px system-ui, sans-serif';
    c.textBaseline = 'middle';
    c.fillStyle = '#c8d0da';
    c.fillText(`${node}  ${online ? 'online' : 'offline'}`, 22, y + HEAD / 2);
  }

  private drawSelection([a, b]: [number, number], h: number): void {
    if (b < this.from || a > this.to) return;
    const c = this.ctx;
    const x0 = Math.max(LABEL_W, this.xOf(a));
    const x1 = Math.min(this.canvas.clientWidth, this.xOf(b));
    c.fillStyle = 'rgba(79,140,255,0.22)';
    c.fillRect(x0, RULER, Math.max(1, x1 - x0), h - RULER);
    c.fillStyle = '#4f8cff';
    if (a >= this.from) c.fillRect(Math.round(x0), RULER, 1, h - RULER);
    if (b <= this.to) c.fillRect(Math.round(x1), RULER, 1, h - RULER);
  }

  private drawRow(
    label: string,
    y: number,
    height: number,
    ranges: Array<[number, number]>,
    color: string,
    cached: [number, number] | undefined,
    protectedRanges: Array<[number, number]>,
  ): void {
    const c = this.ctx;
    const w = this.canvas.clientWidth;
    c.fillStyle = '#161a21';
    c.fillRect(LABEL_W, y, w - LABEL_W, height);
    c.fillStyle = color;
    for (const [a, b] of ranges) {
      if (b < this.from || a > this.to) continue;
      const x0 = Math.max(LABEL_W, this.xOf(a));
      const x1 = Math.min(w, this.xOf(b));
      c.fillRect(x0, y + 2, Math.max(1, x1 - x0), height - 4);
    }
    c.fillStyle = PROTECTED_COLOR;
    for (const [a, b] of protectedRanges) {
      if (b < this.from || a > this.to) continue;
      const x0 = Math.max(LABEL_W, this.xOf(a));
      const x1 = Math.min(w, this.xOf(b));
      c.fillRect(x0, y, Math.max(2, x1 - x0), BAND);
    }
    if (cached) {
      const x0 = Math.max(LABEL_W, this.xOf(cached[0]));
      const x1 = Math.min(w, this.xOf(cached[1]));
      if (x1 >= x0) {
        c.fillStyle = 'rgba(255,255,255,0.55)';
        c.fillRect(x0, y + height - 3, Math.max(2, x1 - x0), 2);
      }
    }
    c.fillStyle = '#9aa4b2';
    c.font = '11px system-ui, sans-serif';
    c.textBaseline = 'middle';
    c.fillText(label.length > 13 ? `${label.slice(0, 12)}…` : label, 8, y + height / 2);
  }

  private drawRuler(w: number): void {
    const c = this.ctx;
    const span = this.to - this.from;
    const step = STEPS.find((s) => (s / span) * this.trackWidth >= 90) ?? STEPS[STEPS.length - 1]!;
    c.fillStyle = '#12151b';
    c.fillRect(0, 0, w, RULER);
    c.font = '11px system-ui, sans-serif';
    c.textBaseline = 'middle';
    // Ticks on local time: offset the epoch by the zone so days and hours line up.
    const zone = new Date(this.from).getTimezoneOffset() * 60_000;
    const first = Math.ceil((this.from - zone) / step) * step + zone;
    for (let t = first; t <= this.to; t += step) {
      const x = Math.round(this.xOf(t));
      c.fillStyle = '#2a303a';
      c.fillRect(x, RULER - 6, 1, 6);
      c.fillStyle = '#1b2028';
      c.fillRect(x, RULER, 1, this.canvas.clientHeight - RULER);
      c.fillStyle = '#8b95a3';
      c.fillText(tickLabel(t, step), x + 4, RULER / 2);
    }
    c.fillStyle = '#12151b';
    c.fillRect(0, 0, LABEL_W, RULER);
    c.fillStyle = '#c8d0da';
    c.fillText(new Date(this.from + span / 2).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' }), 8, RULER / 2);
  }
}

function tickLabel(t: number, step: number): string {
  const d = new Date(t);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (step >= 86_400_000) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  if (step >= 60_000) return d.getHours() === 0 && d.getMinutes() === 0 ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) : `${two(d.getHours())}:${two(d.getMinutes())}`;
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
