/** The page: camera grid, transport, timeline, date picker; one WebSocket session; one clock for every tile. */
import { type CameraInfo, HOLE_MS, RATES, type ServerEvent } from '../protocol.js';
import { Calendar } from './calendar.js';
import { Clock } from './clock.js';
import { Connection } from './connection.js';
import { still } from './still.js';
import { type BadgeKind, Tile } from './tile.js';
import { Timeline } from './timeline.js';

const token = new URLSearchParams(location.search).get('token');
const withToken = (path: string): string => (token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path);
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(withToken(path), init);
  if (!res.ok) throw new Error(((await res.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? `${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const clock = new Clock();
let cameras: CameraInfo[] = [];
let layout = 4;
let maximized: number | undefined;
/** The cameras the user put in the grid (cameras…); undefined: the first ones in list order. */
let chosen: number[] | undefined;
const tiles = new Map<number, Tile>();
/** The rate play and reverse use (magnitude). */
let rate = 1;
/** What to restore after a reconnect; undefined until the first session answered. */
let resume: { time: number; rate: number; live: boolean } | undefined;
let globalRange: [number, number] | null = null;

const grid = $<HTMLDivElement>('grid');
const timeline = new Timeline($<HTMLCanvasElement>('timeline'), {
  seek: (t) => seek(t),
  scrub: (t) => scrub(t),
  viewChanged: () => scheduleRanges(),
  hover: (t, camera, x) => hover(t, camera, x),
  select: (range) => selectRange(range),
});
const calendar = new Calendar({
  ranges: async (from, to) => (await api<{ all: Array<[number, number]> }>(`/api/ranges?from=${from}&to=${to}&resolution=3600000`)).all,
  go: (t) => {
    timeline.setView(t - 15 * 60_000, t + 15 * 60_000);
    seek(t);
  },
});
document.body.append(calendar.el);

const connection = new Connection(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${withToken('/ws')}`, {
  onOpen: () => {
    connection.send({ cmd: 'open', cameras: shownCameras() });
    // After a reconnect: back to where we were, in the same state.
    if (!resume) return;
    if (resume.live) connection.send({ cmd: 'live' });
    else {
      connection.send({ cmd: 'seek', time: Math.round(resume.time) });
      if (resume.rate > 0) connection.send({ cmd: 'play', rate: resume.rate });
      else if (resume.rate < 0) connection.send({ cmd: 'reverse', rate: -resume.rate });
    }
  },
  onEvent: (e) => onEvent(e),
  onFrame: (f) => tiles.get(f.camera)?.frame(f),
  onStatus: (status, detail) => {
    const el = $('status');
    el.textContent = status === 'open' ? 'connected' : status === 'connecting' ? 'connecting…' : `disconnected (${detail})`;
    el.dataset.status = status;
  },
});

function onEvent(e: ServerEvent): void {
  switch (e.type) {
    case 'cameras':
      setCameras(e.cameras);
      break;
    case 'clock':
      clock.set(e);
      resume = { time: e.time, rate: e.rate, live: e.live };
      updateTransport();
      break;
    case 'seeked':
      for (const s of e.shown) tiles.get(s.camera)?.seeked(e.generation, s.timestamp);
      break;
    case 'cached':
      timeline.setCached(new Map(e.ranges.map((r) => [r.camera, [r.from, r.to]])));
      break;
    case 'error':
      toast(e.message);
      break;
    case 'hello':
      for (const tile of tiles.values()) tile.newSession();
      break;
  }
}

// ---------- grid ----------

function shownCameras(): number[] {
  if (maximized !== undefined) return [maximized];
  const ids = chosen ? chosen.filter((id) => cameras.some((c) => c.id === id)) : cameras.map((c) => c.id);
  return ids.slice(0, layout);
}

/**
 * List order: outside a fleet by name; in a fleet by node (this node's first), each node's recorded cameras
 * before its archive ones.
 */
function order(list: CameraInfo[]): CameraInfo[] {
  const own = list.find((c) => c.source === 'local')?.node ?? null;
  const rank = (c: CameraInfo): string => (c.node === own ? '0' : `1${c.node ?? ''}`);
  return [...list].sort(
    (a, b) =>
      rank(a).localeCompare(rank(b)) ||
      Number(a.source === 'archive') - Number(b.source === 'archive') ||
      a.name.localeCompare(b.name, undefined, { numeric: true }),
  );
}

const badgeOf = (c: CameraInfo): BadgeKind | undefined =>
  c.source === 'archive' ? 'archive' : c.online === false ? (c.fromArchive ? 'offline-archive' : 'offline') : undefined;

/** The shown cameras and where each plays from: a change reopens them (an offline node's camera switches to the archive). */
const playing = (): string => shownCameras().map((id) => `${id}${cameras.find((c) => c.id === id)?.fromArchive ? 'a' : ''}`).join();

function setCameras(list: CameraInfo[]): void {
  const before = playing();
  cameras = order(list);
  timeline.setCameras(cameras.map((c) => ({ id: c.id, name: c.name, node: c.node, online: c.online, archive: c.source === 'archive' || c.fromArchive })));
  const ranges = list.map((c) => c.timeRange).filter((r): r is [number, number] => r !== null);
  if (ranges.length) globalRange = [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
  if (playing() !== before || tiles.size === 0) buildGrid();
  for (const [id, tile] of tiles) {
    const c = cameras.find((x) => x.id === id);
    if (c) tile.setBadge(badgeOf(c));
  }
  if (!$('camera-list').hidden) showCameraList(true);
}

/** Puts these cameras in the grid (at most 16), the layout grown to hold them. */
function choose(ids: number[]): void {
  chosen = ids.slice(0, 16);
  maximized = undefined;
  layout = [1, 4, 9, 16].find((n) => n >= chosen!.length) ?? 16;
  buildGrid();
}

/** Every camera, grouped by node with its state; a tick puts a camera in the grid or takes it out. */
function showCameraList(refresh = false): void {
  const popup = $('camera-list');
  if (!refresh && !popup.hidden) {
    popup.hidden = true;
    return;
  }
  const shown = new Set(shownCameras());
  const items: HTMLElement[] = [];
  let node: string | null | undefined;
  for (const c of cameras) {
    if (c.node !== node || items.length === 0) {
      node = c.node;
      const head = document.createElement('h4');
      const online = cameras.some((o) => o.node === c.node && o.source !== 'archive' && o.online);
      const dot = document.createElement('span');
      dot.className = online ? 'dot' : 'dot off';
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = c.node === null ? '' : online ? 'online' : 'offline';
      head.append(dot, c.node ?? 'cameras', state);
      head.dataset.node = c.node ?? '';
      items.push(head);
    }
    const row = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = shown.has(c.id);
    box.dataset.camera = String(c.id);
    box.addEventListener('change', () => {
      const now = shownCameras().filter((id) => id !== c.id);
      choose(box.checked ? [...now, c.id] : now);
      showCameraList(true);
    });
    const src = document.createElement('span');
    src.className = 'src';
    src.dataset.source = c.source;
    src.textContent = `${c.source}${c.codec ? ` · ${c.codec}` : ''}${c.online ? '' : c.fromArchive ? ' · offline · archive' : ' · offline'}`;
    row.append(box, c.name, src);
    items.push(row);
  }
  popup.replaceChildren(...items);
  popup.hidden = false;
}

function buildGrid(): void {
  const ids = shownCameras();
  for (const [id, tile] of tiles) {
    if (!ids.includes(id)) {
      tile.destroy();
      tiles.delete(id);
    }
  }
  const columns = Math.ceil(Math.sqrt(Math.max(1, maximized !== undefined ? 1 : layout)));
  grid.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
  grid.style.gridTemplateRows = `repeat(${Math.max(1, Math.ceil((maximized !== undefined ? 1 : layout) / columns))}, 1fr)`;
  grid.replaceChildren();
  for (const id of ids) {
    const cam = cameras.find((c) => c.id === id)!;
    let tile = tiles.get(id);
    if (!tile) {
      tile = new Tile(id, cam.name, () => toggleMaximize(id), () => ({ now: clock.now(), rate: clock.rate }));
      tiles.set(id, tile);
    }
    tile.setBadge(badgeOf(cam));
    grid.append(tile.el);
  }
  const empty = (maximized !== undefined ? 1 : layout) - ids.length;
  for (let i = 0; i < empty; i++) {
    const e = document.createElement('div');
    e.className = 'tile empty';
    e.textContent = 'no camera';
    grid.append(e);
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-layout]')) b.classList.toggle('active', Number(b.dataset.layout) === layout && maximized === undefined);
  if (connection.open) {
    connection.send({ cmd: 'open', cameras: ids });
    if (resume?.live) connection.send({ cmd: 'live' });
    else if (resume && resume.rate !== 0) connection.send(resume.rate > 0 ? { cmd: 'play', rate: resume.rate } : { cmd: 'reverse', rate: -resume.rate });
  }
}

function toggleMaximize(id: number): void {
  maximized = maximized === id ? undefined : id;
  buildGrid();
}

// ---------- transport ----------

/** No thumbnails just after a seek: their decoders would compete with the tiles'. */
let thumbsQuietUntil = 0;

function seek(t: number): void {
  thumbsQuietUntil = performance.now() + 600;
  clock.jump(t);
  connection.send({ cmd: 'seek', time: Math.round(t) });
}

let lastScrub = 0;
function scrub(t: number): void {
  clock.jump(t);
  // The server takes 40 commands a second: a scrub sends at most 10.
  if (performance.now() - lastScrub < 100) return;
  lastScrub = performance.now();
  connection.send({ cmd: 'seek', time: Math.round(t) });
}

function play(r = rate): void {
  rate = Math.abs(r);
  connection.send({ cmd: 'play', rate: rate });
}

function reverse(r = rate): void {
  rate = Math.min(8, Math.abs(r));
  connection.send({ cmd: 'reverse', rate });
}

const stop = (): void => connection.send({ cmd: 'stop' });
const step = (direction: 1 | -1): void => connection.send({ cmd: 'step', direction });
const live = (): void => connection.send({ cmd: 'live' });

function setRate(r: number): void {
  rate = r;
  $<HTMLSelectElement>('rate').value = String(r);
  if (clock.rate > 0) play(r);
  else if (clock.rate < 0) reverse(r);
}

async function jumpRecording(direction: 1 | -1): Promise<void> {
  if (!globalRange) return;
  const now = clock.now();
  const [from, to] = direction > 0 ? [Math.min(now + 1, globalRange[1]), globalRange[1]] : [globalRange[0], Math.max(globalRange[0], now - 1)];
  const { all } = await api<{ all: Array<[number, number]> }>(`/api/ranges?from=${Math.round(from)}&to=${Math.round(to)}&resolution=${HOLE_MS}`);
  const starts = all.map((r) => r[0]);
  const target = direction > 0 ? starts.find((s) => s > now + 500) : starts.filter((s) => s < now - 1000).at(-1);
  if (target === undefined) return toast(direction > 0 ? 'no later recording' : 'no earlier recording');
  const span = timeline.to - timeline.from;
  if (target < timeline.from || target > timeline.to) timeline.setView(target - span / 2, target + span / 2);
  seek(target);
}

function updateTransport(): void {
  const r = clock.rate;
  const mode = $('mode');
  mode.textContent = clock.live ? 'LIVE' : r === 0 ? 'STOPPED' : r > 0 ? `PLAY ${fmtRate(r)}` : `REVERSE ${fmtRate(-r)}`;
  mode.dataset.mode = clock.live ? 'live' : r === 0 ? 'stopped' : r > 0 ? 'play' : 'reverse';
  $('play').textContent = r === 0 ? '▶' : '❚❚';
  $('play').title = r === 0 ? 'Play (space, L)' : 'Stop (space, K)';
  $('live').classList.toggle('active', clock.live);
}

const fmtRate = (r: number): string => (r < 1 ? `1/${Math.round(1 / r)}×` : `${r}×`);

function toast(message: string, ok = false): void {
  const el = $('toast');
  el.textContent = message;
  el.classList.toggle('ok', ok);
  el.hidden = false;
  clearTimeout(Number(el.dataset.timer));
  el.dataset.timer = String(setTimeout(() => (el.hidden = true), 3500));
}

// ---------- selection: clip download and protection ----------

let selection: [number, number] | undefined;

/** In and out points (keys I and O) set the selection's ends at the clock's instant. */
function setPoint(end: 0 | 1): void {
  const t = Math.round(clock.now());
  if (t <= 0) return;
  const [a, b] = selection ?? [t, t];
  const next: [number, number] = end === 0 ? [t, Math.max(t, b)] : [Math.min(a, t), t];
  timeline.setSelection(next);
  selectRange(next);
}

function selectRange(range: [number, number] | undefined): void {
  selection = range;
  // Hidden without leaving the layout: the timeline must not move under a drag.
  $('selection').classList.toggle('off', !range);
  $('clips').hidden = true;
  if (!range) return;
  const fmt = (t: number): string => new Date(t).toLocaleTimeString(undefined, { hour12: false });
  $('sel-text').textContent = `${fmt(range[0])} – ${fmt(range[1])} (${duration(range[1] - range[0])})`;
}

const duration = (ms: number): string => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`);

/** The cameras the actions apply to: the ones in view (the maximized one alone). */
const viewCameras = (): CameraInfo[] => shownCameras().map((id) => cameras.find((c) => c.id === id)!);

/** The export's `stream`: a camera's name (the file is named after it) unless another camera has the same. */
const streamOf = (c: CameraInfo): string => (cameras.filter((o) => o.name === c.name).length === 1 ? c.name : String(c.id));

/** One download link per camera in view (each an <a download> of /api/export). */
function showClips(): void {
  const popup = $('clips');
  if (!selection || !popup.hidden) {
    popup.hidden = true;
    return;
  }
  const [from, to] = selection;
  const head = document.createElement('h3');
  head.textContent = `MP4 of ${new Date(from).toLocaleString(undefined, { hour12: false })} + ${duration(to - from)}`;
  const items = viewCameras().map((c) => {
    const row = document.createElement('div');
    row.className = 'item';
    const a = document.createElement('a');
    a.href = withToken(`/api/export?stream=${encodeURIComponent(streamOf(c))}&from=${from}&to=${to}`);
    a.setAttribute('download', ''); // the server names the file (camera and times)
    a.textContent = `⤓ ${c.name}`;
    a.dataset.camera = String(c.id);
    const note = document.createElement('span');
    note.className = 'when';
    note.textContent = c.codec ?? '';
    row.append(a, note);
    return row;
  });
  popup.replaceChildren(head, ...items);
  popup.hidden = false;
}

/** Protects the selection on the filesystem of each camera in view (a protection holds a whole filesystem's range). */
async function protectSelection(): Promise<void> {
  if (!selection) return;
  const note = window.prompt('Protect the selected range: a note (why it is kept)', '');
  if (note === null) return;
  const [from, to] = [selection[0], Math.min(selection[1], Date.now() - 1000)];
  const done: string[] = [];
  const seen = new Set<string>();
  for (const c of viewCameras()) {
    if (seen.has(c.fs)) continue;
    seen.add(c.fs);
    try {
      await api('/api/protections', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ camera: c.id, from, to, note: note.slice(0, 500) }) });
      done.push(c.name);
    } catch (err) {
      toast(`${c.name}: ${(err as Error).message}`);
      await loadProtections();
      return;
    }
  }
  toast(`protected: ${done.join(', ')}`, true);
  await loadProtections();
}

interface ProtectionList {
  filesystems: Array<{ fs: number; dirname: string; cameras: number[]; protections: Array<{ id: number; from: number; to: number; note: string; blocks: number }> }>;
}
let protections: ProtectionList['filesystems'] = [];

async function loadProtections(): Promise<void> {
  const r = await api<ProtectionList>('/api/protections').catch(() => undefined);
  if (!r) return;
  protections = r.filesystems;
  const byCamera = new Map<number, Array<[number, number]>>();
  for (const fs of r.filesystems) {
    for (const id of fs.cameras) byCamera.set(id, fs.protections.map((p) => [p.from, p.to]));
  }
  timeline.setProtected(byCamera);
  if (!$('protected-list').hidden) showProtections(true);
}

/** The protected ranges, each with a button to go there and one to release it. */
function showProtections(refresh = false): void {
  const popup = $('protected-list');
  if (!refresh && !popup.hidden) {
    popup.hidden = true;
    return;
  }
  const head = document.createElement('h3');
  head.textContent = 'Protected ranges';
  const items = protections.flatMap((fs) =>
    fs.protections.map((p) => {
      const row = document.createElement('div');
      row.className = 'item';
      const what = document.createElement('span');
      const names = fs.cameras.map((id) => cameras.find((c) => c.id === id)?.name ?? String(id)).join(', ');
      what.innerHTML = '<span class="band"></span>';
      what.append(`${names}: ${new Date(p.from).toLocaleString(undefined, { hour12: false })} + ${duration(p.to - p.from)}${p.note ? ` — ${p.note}` : ''}`);
      const go = document.createElement('button');
      go.textContent = 'go';
      go.addEventListener('click', () => {
        const pad = Math.max(5000, (p.to - p.from) * 0.2);
        timeline.setView(p.from - pad, p.to + pad);
        seek(p.from);
      });
      const release = document.createElement('button');
      release.textContent = 'release';
      release.addEventListener('click', () => {
        if (!window.confirm(`Release this protection of ${names}? Its video returns to the ring and will be overwritten.`)) return;
        void api(`/api/protections/${fs.fs}/${p.id}`, { method: 'DELETE' }).then(
          () => loadProtections(),
          (err: Error) => toast(err.message),
        );
      });
      row.append(what, go, release);
      return row;
    }),
  );
  if (items.length === 0) {
    const none = document.createElement('div');
    none.className = 'when';
    none.textContent = 'none: select a range (shift+drag the timeline) and press protect';
    items.push(none);
  }
  popup.replaceChildren(head, ...items);
  popup.hidden = false;
}

// ---------- ranges and thumbnails ----------

let rangesTimer: number | undefined;
function scheduleRanges(): void {
  clearTimeout(rangesTimer);
  rangesTimer = setTimeout(() => void loadRanges(), 120) as unknown as number;
}

async function loadRanges(): Promise<void> {
  const from = Math.max(0, Math.round(timeline.from));
  const to = Math.round(timeline.to);
  const r = await api<{ cameras: Array<{ id: number; ranges: Array<[number, number]> }>; all: Array<[number, number]> }>(
    `/api/ranges?from=${from}&to=${to}&resolution=${Math.round(timeline.resolution)}`,
  ).catch(() => undefined);
  if (r) timeline.setRanges(new Map(r.cameras.map((c) => [c.id, c.ranges])), r.all);
}

let hoverTimer: number | undefined;
function hover(t: number | undefined, camera: number | 'all' | undefined, x: number): void {
  const popup = $('thumb');
  clearTimeout(hoverTimer);
  if (t === undefined || camera === undefined || performance.now() < thumbsQuietUntil) {
    popup.hidden = true;
    return;
  }
  popup.style.left = `${Math.min(window.innerWidth - 420, Math.max(8, x - 100))}px`;
  hoverTimer = setTimeout(async () => {
    const ids = camera === 'all' ? shownCameras().slice(0, 4) : [camera];
    const items = await Promise.all(
      ids.map(async (id) => {
        const fig = document.createElement('figure');
        const pic = await still(withToken(`/api/still?camera=${id}&time=${Math.round(t)}`), id, t).catch((err: Error) => err.message);
        const cap = document.createElement('figcaption');
        cap.textContent = cameras.find((c) => c.id === id)?.name ?? String(id);
        if (typeof pic === 'string') {
          const p = document.createElement('div');
          p.className = 'nothumb';
          p.textContent = pic;
          fig.append(p, cap);
        } else fig.append(pic, cap);
        return fig;
      }),
    );
    const when = document.createElement('div');
    when.className = 'when';
    when.textContent = new Date(t).toLocaleString();
    popup.replaceChildren(when, ...items);
    popup.hidden = false;
  }, 120) as unknown as number;
}

// ---------- the frame loop ----------

function frameLoop(): void {
  const now = clock.now();
  for (const tile of tiles.values()) tile.present(now, clock.rate);
  timeline.setPlayhead(now);
  $('time').textContent = now > 0 ? new Date(now).toLocaleString(undefined, { hour12: false }) + `.${String(Math.floor(now % 1000)).padStart(3, '0')}` : '—';
  // The play head stays in view while playing.
  const span = timeline.to - timeline.from;
  if (clock.rate !== 0 && (now > timeline.to - span * 0.05 || now < timeline.from)) timeline.setView(now - span * 0.5, now + span * 0.5);
  requestAnimationFrame(frameLoop);
}

// ---------- controls and keys ----------

function wire(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-layout]')) {
    b.addEventListener('click', () => {
      layout = Number(b.dataset.layout);
      maximized = undefined;
      buildGrid();
    });
  }
  $('pick').addEventListener('click', () => showCameraList());
  const select = $<HTMLSelectElement>('rate');
  for (const r of RATES) select.append(new Option(fmtRate(r), String(r), r === 1, r === 1));
  select.addEventListener('change', () => setRate(Number(select.value)));
  $('play').addEventListener('click', () => (clock.rate === 0 ? play() : stop()));
  $('reverse').addEventListener('click', () => reverse());
  $('step-back').addEventListener('click', () => step(-1));
  $('step-fwd').addEventListener('click', () => step(1));
  $('live').addEventListener('click', () => live());
  $('prev-rec').addEventListener('click', () => void jumpRecording(-1));
  $('next-rec').addEventListener('click', () => void jumpRecording(1));
  $('zoom-in').addEventListener('click', () => zoom(0.5));
  $('zoom-out').addEventListener('click', () => zoom(2));
  $('date').addEventListener('click', () => calendar.toggle(clock.now() || Date.now()));
  $('clip').addEventListener('click', () => showClips());
  $('protect').addEventListener('click', () => void protectSelection());
  $('protections').addEventListener('click', () => showProtections());
  $('clear-sel').addEventListener('click', () => {
    timeline.setSelection(undefined);
    selectRange(undefined);
  });

  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    const faster = (r: number): number => Math.min(32, r * 2);
    switch (e.key) {
      case ' ':
        if (clock.rate === 0) play();
        else stop();
        break;
      case 'ArrowLeft':
        step(-1);
        break;
      case 'ArrowRight':
        step(1);
        break;
      case 'ArrowUp':
        setRate(RATES.find((r) => r > rate) ?? rate);
        break;
      case 'ArrowDown':
        setRate([...RATES].reverse().find((r) => r < rate) ?? rate);
        break;
      case 'j':
      case 'J':
        reverse(clock.rate < 0 ? faster(-clock.rate) : 1);
        break;
      case 'k':
      case 'K':
        stop();
        break;
      case 'l':
      case 'L':
        play(clock.rate > 0 ? faster(clock.rate) : 1);
        break;
      case 'End':
        live();
        break;
      case 'Escape':
        if (maximized !== undefined) toggleMaximize(maximized);
        calendar.el.hidden = true;
        $('clips').hidden = true;
        $('protected-list').hidden = true;
        $('camera-list').hidden = true;
        break;
      case 'i':
      case 'I':
        setPoint(0);
        break;
      case 'o':
      case 'O':
        setPoint(1);
        break;
      case '+':
        zoom(0.5);
        break;
      case '-':
        zoom(2);
        break;
      default:
        return;
    }
    e.preventDefault();
  });
}

function zoom(factor: number): void {
  const mid = clock.now() || (timeline.from + timeline.to) / 2;
  const span = (timeline.to - timeline.from) * factor;
  timeline.setView(mid - span / 2, mid + span / 2);
}

async function startPage(): Promise<void> {
  wire();
  const { cameras: list, timeRange } = await api<{ cameras: CameraInfo[]; timeRange: [number, number] | null }>('/api/cameras');
  setCameras(list);
  const end = timeRange?.[1] ?? Date.now();
  const start = timeRange ? Math.max(timeRange[0], end - 10 * 60_000) : end - 10 * 60_000;
  timeline.setView(start - (end - start) * 0.05, end + (end - start) * 0.05);
  setInterval(() => void loadRanges(), 3000);
  void loadProtections();
  setInterval(() => void loadProtections(), 5000);
  setInterval(() => void api<{ timeRange: [number, number] | null }>('/api/cameras').then((r) => (globalRange = r.timeRange ?? globalRange), () => undefined), 5000);
  requestAnimationFrame(frameLoop);
}

/** For tests and the benchmark: what every tile shows, the clock, the view. */
(window as unknown as { __valkka: unknown }).__valkka = {
  tiles: () => [...tiles.values()].map((t) => t.state()),
  clock: () => ({ now: clock.now(), rate: clock.rate, live: clock.live, generation: clock.generation }),
  view: () => ({ from: timeline.from, to: timeline.to }),
  timeAt: (x: number) => timeline.timeAt(x),
  xOf: (t: number) => timeline.xOf(t),
  layout: (n: number) => {
    layout = n;
    maximized = undefined;
    buildGrid();
  },
  choose: (ids: number[]) => choose(ids),
  seekTo: (t: number) => seek(t),
  shown: () => shownCameras(),
  connected: () => connection.open,
  rowTop: (camera: number) => timeline.rowTop(camera),
  selection: () => selection,
  select: (from: number, to: number) => {
    timeline.setSelection([from, to]);
    selectRange([from, to]);
  },
};

void startPage().catch((err: Error) => toast(`cannot load the cameras: ${err.message}`));
