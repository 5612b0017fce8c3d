// A fleet on loopback: a 3-server NATS JetStream cluster (Debian's nats-server) and two recorders, each its own
// process (test/fleet-node.mjs: `valkka serve --record --fleet --archive`) with 2 sample cameras in small rings.
// Node 1 lists all 4 cameras and Chromium plays them in one grid in step; recorder 2 killed: shown offline, its
// archive plays and exports the same frames it recorded; node-to-node routes refuse requests without the fleet
// token; one NATS server stopped and back: nothing sealed missing from the archive; NATS gone: node 1 records and
// serves its own cameras on. Then everything restarted (the 3 servers, both recorders, same directories and names):
// the catalog lists the 4 cameras again, the archive lost no block, and an archived range exports the same frames.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectFleet } from '@valkka/fleet';
import { type NatsCluster, natsMissing, startNatsCluster } from '@valkka/vitest-preset/nats-cluster';
import { hasCommand, skipReason } from '@valkka/vitest-preset/skip';
import type { BrowserContext, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraInfo } from '../src/protocol.js';
import { chromiumMissing, launch, settle, type Shown, shot, tiles } from './browser.js';
import { FIXTURES } from './recordings.js';

const why = skipReason('demo-web fleet (NATS cluster, 2 recorders)', [
  [natsMissing() === undefined, natsMissing() ?? ''],
  [hasCommand('ffmpeg', ['-version']), 'ffmpeg is not installed (the export check)'],
]);
const noChromium = skipReason('demo-web fleet UI in Chromium', [[!chromiumMissing(), 'chromium not installed (/usr/bin/chromium)']]);
const NODE_SCRIPT = resolve(import.meta.dirname, 'fleet-node.mjs');
const TOKEN = randomBytes(18).toString('base64url');
const FRAME_MS = 40;
const BLOCKSIZE = 32768;

interface Node {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  output: () => string;
}

/** Starts a recorder process; resolves with the URL it prints. */
function startNode(name: string, config: string, servers: string[]): Promise<Node> {
  const fleet = { servers, node: name, token: TOKEN, archive: {}, heartbeatMs: 1000, watchMs: 1000 };
  const child = spawn(process.execPath, [NODE_SCRIPT, config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLEET: JSON.stringify(fleet) } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no URL within 30 s:\n${out}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1]!, exited, output: () => out });
      }
    });
    void exited.then((code) => reject(new Error(`${name} exited with ${code}:\n${out}`)));
  });
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Decoded frames of a video file, one MD5 per frame (exports are compared by what they show). */
const md5 = (f: string): string[] =>
  execFileSync('ffmpeg', ['-v', 'error', '-i', f, '-map', '0:v:0', '-fps_mode', 'passthrough', '-pix_fmt', 'yuv420p', '-f', 'framemd5', '-'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());

const camerasOf = (node: Node): Promise<CameraInfo[]> => json<{ cameras: CameraInfo[] }>(`${node.url}api/cameras`).then((r) => r.cameras);

describe.skipIf(why)('a fleet of two recorders on a 3-server NATS cluster', () => {
  let cluster: NatsCluster;
  let base: string;
  const nodes: Node[] = [];
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'valkka-fleet-web-'));
    cluster = await startNatsCluster({ nodes: 3 });
    for (const n of [1, 2]) {
      // 32 KiB blocks seal every second or two at the fixtures' bit rates: the archive fills while the test runs.
      const cameras = [
        { dir: `n${n}/camA`, source: join(FIXTURES, 'h264-baseline-gop1s.h264'), id: 1, format: { blocksize: BLOCKSIZE, blocks: 64 } },
        { dir: `n${n}/camB`, source: join(FIXTURES, 'h264-high-gop2s.h264'), id: 2, format: { blocksize: BLOCKSIZE, blocks: 64 } },
      ];
      const config = join(base, `node${n}.json`);
      await writeFile(config, JSON.stringify({ cameras }));
      nodes.push(await startNode(`node${n}`, config, cluster.urls));
    }
    if (!noChromium) browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await cluster?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  const live = (cams: CameraInfo[]): CameraInfo[] => cams.filter((c) => c.source !== 'archive');
  /** How long all of these cameras have recorded together. */
  const overlap = (cams: CameraInfo[]): number => Math.min(...cams.map((c) => c.timeRange?.[1] ?? 0)) - Math.max(...cams.map((c) => c.timeRange?.[0] ?? Infinity));
  /** The range of node 2's camA exported by node 2 itself before it was killed (later tests export it again). */
  let from = 0;
  let to = 0;
  const ownFile = (): string => join(base, 'node2-own.mp4');
  /** Every archived block as `fsId/seq`, listed through a connection of the test's own. */
  const archivedNow = async (): Promise<Set<string>> => {
    const fleet = await connectFleet({ servers: cluster.urls, name: 'test-reader', log: pino({ level: 'silent' }) });
    try {
      const { byFs } = await fleet.archive().listAll();
      return new Set([...byFs].flatMap(([fsId, blocks]) => blocks.map((b) => `${fsId}/${b.seq}`)));
    } finally {
      await fleet.close();
    }
  };
  let archivedBefore = new Set<string>();
  const archiveOf = (cams: CameraInfo[], name: string): CameraInfo | undefined => cams.find((c) => c.source === 'archive' && c.name === `${name} (archive)`);

  it('node 1 lists the 4 cameras of the fleet (2 its own, 2 of node 2) and the archived ones apart', async () => {
    const cams = await settle(
      () => camerasOf(nodes[0]!),
      (c) => live(c).filter((x) => x.codec === 'h264' && x.timeRange).length === 4 && overlap(live(c)) >= 6000 && archiveOf(c, 'node2/camA') !== undefined && archiveOf(c, 'node2/camB') !== undefined,
      30_000,
    );
    expect(overlap(live(cams)), 'the 4 cameras recorded 6 s together').toBeGreaterThanOrEqual(6000);
    expect(Object.fromEntries(live(cams).map((c) => [c.name, [c.source, c.node, c.online]])), nodes.map((n) => n.output()).join('\n')).toEqual({
      camA: ['local', 'node1', true],
      camB: ['local', 'node1', true],
      'node2/camA': ['remote', 'node2', true],
      'node2/camB': ['remote', 'node2', true],
    });
    expect(archiveOf(cams, 'node2/camA')).toMatchObject({ node: 'node2', source: 'archive', codec: 'h264' });
  });

  it.skipIf(noChromium)('Chromium on node 1 plays the 4 cameras in one grid, every tile at the same instant', async () => {
    const page: Page = await browser!.newPage();
    try {
      await page.goto(nodes[0]!.url);
      const cams = live(await camerasOf(nodes[0]!));
      await settle(() => page.evaluate(() => (window as any).__valkka.tiles().length as number), (n) => n > 0, 15_000);
      await page.evaluate((ids) => (window as any).__valkka.choose(ids), cams.map((c) => c.id));
      // An instant all four hold, a second and a half back from the newest they share.
      const start = Math.max(...cams.map((c) => c.timeRange![0]));
      const t = Math.min(...cams.map((c) => c.timeRange![1])) - 1500;
      await page.evaluate((time) => (window as any).__valkka.seekTo(time), t);
      const atSeek = await settle(
        () => tiles(page),
        (s) => s.length === 4 && s.every((x) => x.shownTs !== undefined && t - x.shownTs >= 0 && t - x.shownTs < FRAME_MS && typeof x.number === 'number'),
        20_000,
      );
      const atT = (s: Shown): boolean => s.shownTs !== undefined && t - s.shownTs >= 0 && t - s.shownTs < FRAME_MS;
      expect(Object.fromEntries(atSeek.map((s) => [s.name, atT(s) && typeof s.number === 'number'])), JSON.stringify({ t, atSeek })).toEqual(
        Object.fromEntries(cams.map((c) => [c.name, true])),
      );
      // Playing from the start they share (the recording stays ahead of the clock): one clock for the 4 tiles.
      const p = start + 500;
      await page.evaluate((time) => (window as any).__valkka.seekTo(time), p);
      await settle(() => tiles(page), (s) => s.every((x) => x.shownTs !== undefined && p - x.shownTs >= 0 && p - x.shownTs < FRAME_MS), 20_000);
      await page.keyboard.press(' ');
      await new Promise((r) => setTimeout(r, 1500));
      const readings = [];
      for (let i = 0; i < 5; i++) {
        const [shown, now] = await Promise.all([tiles(page), page.evaluate(() => (window as any).__valkka.clock().now as number)]);
        const ts = shown.map((s) => s.shownTs ?? NaN);
        readings.push({ spread: Math.max(...ts) - Math.min(...ts), behind: now - Math.min(...ts), ts });
        await new Promise((r) => setTimeout(r, 200));
      }
      await page.mouse.move(640, 20);
      await shot(page, 'fleet-1-playing');
      await page.keyboard.press('k');
      expect(readings.at(-1)!.ts[0]! - p, 'the clock moved').toBeGreaterThan(1000);
      // In step: every tile within two frame intervals of the others (cameras start at different milliseconds).
      expect(readings.filter((r) => r.spread <= 2 * FRAME_MS).length, JSON.stringify(readings)).toBeGreaterThanOrEqual(3);
      await page.click('#pick');
      await shot(page, 'fleet-2-cameras');
    } finally {
      await page.close();
    }
  });

  it('node-to-node routes refuse requests without the fleet token (401) and give another node only local blocks', async () => {
    const [n1] = nodes;
    const nodesView = await json<{ nodes: Array<{ node: string; filesystems: Array<{ fsId: string }> }> }>(`${n1!.url}api/fleet/nodes`);
    const fsId = nodesView.nodes.find((n) => n.node === 'node1')!.filesystems[0]!.fsId;
    const remoteFsId = nodesView.nodes.find((n) => n.node === 'node2')!.filesystems[0]!.fsId;
    const get = (path: string, token?: string): Promise<Response> => fetch(`${n1!.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    for (const path of [`api/fleet/block?fsId=${fsId}&block=0`, `api/fleet/blockfile?fsId=${fsId}`]) {
      expect((await get(path)).status, `${path} without a token`).toBe(401);
      expect((await get(path, 'not-the-fleet-token-at-all')).status, `${path} with a wrong token`).toBe(401);
      expect((await get(`${path}&token=${TOKEN}`)).status, `${path} with the token in the URL (only the header counts)`).toBe(401);
    }
    const block = await get(`api/fleet/block?fsId=${fsId}&block=0`, TOKEN);
    expect(block.status).toBe(200);
    expect((await block.arrayBuffer()).byteLength).toBe(BLOCKSIZE);
    const rows = await get(`api/fleet/blockfile?fsId=${fsId}`, TOKEN);
    expect(rows.status).toBe(200);
    expect((await rows.arrayBuffer()).byteLength).toBe(64 * 16);
    expect(rows.headers.get('x-valkka-current-block')).toMatch(/^\d+$/);
    // Not passed on: another node may not ask node 1 for node 2's blocks nor the archive.
    expect((await get(`api/fleet/block?fsId=${remoteFsId}&block=0&kind=node`, TOKEN)).status).toBe(403);
    expect((await get(`api/fleet/block?fsId=${remoteFsId}&block=0`, TOKEN)).status).toBe(404);
    expect((await get('api/fleet/block?fsId=nothex&block=0', TOKEN)).status).toBe(400);
  });

  it('one NATS server stopped while recording: once it is back, every block node 1 sealed is archived, none missed', async () => {
    const n1 = nodes[0]!;
    await cluster.stop(0);
    await new Promise((r) => setTimeout(r, 3000)); // blocks seal meanwhile (one every second or two per camera)
    await cluster.start(0);
    // The rings have not wrapped (64 blocks): every used block but the open one is sealed, and must be archived.
    type Fs = { dirname: string; usedBlocks: number };
    type Archivers = { archivers: Array<{ dir: string; uploaded: number; missed: number; refused: number; pending: number }> };
    const read = async (): Promise<Array<{ dir: string; sealed: number; uploaded: number; missed: number; refused: number }>> => {
      const [fss, view] = await Promise.all([json<Fs[]>(`${n1.url}api/filesystems`), json<Archivers>(`${n1.url}api/fleet/nodes`)]);
      return fss.map((f) => {
        const a = view.archivers.find((x) => x.dir === f.dirname);
        return { dir: f.dirname, sealed: f.usedBlocks - 1, uploaded: a?.uploaded ?? -1, missed: a?.missed ?? -1, refused: a?.refused ?? -1 };
      });
    };
    const state = await settle(read, (l) => l.length === 2 && l.every((x) => x.sealed > 2 && x.uploaded === x.sealed), 20_000);
    for (const x of state) {
      expect(x.sealed, `${x.dir}: blocks sealed`).toBeGreaterThan(2);
      expect({ uploaded: x.uploaded, missed: x.missed, refused: x.refused }, x.dir).toEqual({ uploaded: x.sealed, missed: 0, refused: 0 });
    }
  });

  it('recorder 2 killed: shown offline; its cameras and its archive play and export the frames it recorded', async () => {
    const [n1, n2] = nodes;
    // The range to export: 2 s inside what node 2 has archived so far, exported by node 2 itself first.
    const before = await camerasOf(n1!);
    const archived = archiveOf(before, 'node2/camA')!;
    const ranges = await json<{ cameras: Array<{ ranges: Array<[number, number]> }> }>(`${n1!.url}api/ranges?from=0&to=9999999999999&cameras=${archived.id}`);
    const [r0, r1] = ranges.cameras[0]!.ranges.at(-1)!;
    expect(r1 - r0, 'node 2 archived at least 3 s').toBeGreaterThan(3000);
    from = r0 + 500;
    to = from + 2000;
    const own = await fetch(`${n2!.url}api/export?stream=camA&from=${from}&to=${to}`);
    expect(own.status).toBe(200);
    await writeFile(ownFile(), new Uint8Array(await own.arrayBuffer()));

    n2!.child.kill('SIGKILL');
    await n2!.exited;
    const after = await settle(
      () => camerasOf(n1!),
      (c) => c.filter((x) => x.node === 'node2' && x.source === 'remote').every((x) => !x.online && x.fromArchive),
      20_000,
    );
    // Its own cameras keep their numbers and names, and play from the archive meanwhile.
    expect(Object.fromEntries(after.filter((c) => c.node === 'node2').map((c) => [c.name, [c.id, c.online, c.fromArchive]]))).toEqual({
      'node2/camA': [before.find((c) => c.name === 'node2/camA')!.id, false, true],
      'node2/camA (archive)': [archived.id, true, false],
      'node2/camB': [before.find((c) => c.name === 'node2/camB')!.id, false, true],
      'node2/camB (archive)': [archiveOf(before, 'node2/camB')!.id, true, false],
    });
    const nodesView = await json<{ nodes: Array<{ node: string; online: boolean }> }>(`${n1!.url}api/fleet/nodes`);
    expect(Object.fromEntries(nodesView.nodes.map((n) => [n.node, n.online]))).toEqual({ node1: true, node2: false });

    // The archive camera through node 1: the same frames, decoded, as node 2's own export of that range.
    const res = await fetch(`${n1!.url}api/export?stream=${archived.id}&from=${from}&to=${to}`);
    expect(res.status).toBe(200);
    const file = join(base, 'node2-archive.mp4');
    await writeFile(file, new Uint8Array(await res.arrayBuffer()));
    const fromArchive = md5(file);
    expect(fromArchive.length, '2 s at 25 fps').toBeGreaterThanOrEqual(2000 / FRAME_MS);
    expect(fromArchive).toEqual(md5(ownFile()));
    // The same range of node 2's camA itself (not its archive camera): node 1 reads it from the archive now.
    const remoteA = after.find((c) => c.name === 'node2/camA')!;
    const viaRemote = await fetch(`${n1!.url}api/export?stream=${remoteA.id}&from=${from}&to=${to}`);
    expect(viaRemote.status).toBe(200);
    const remoteFile = join(base, 'node2-offline.mp4');
    await writeFile(remoteFile, new Uint8Array(await viaRemote.arrayBuffer()));
    expect(md5(remoteFile)).toEqual(fromArchive);

    if (!noChromium) {
      // And in the grid: node 2's archive cameras (and node 1's own) at one instant of the archived range.
      const page = await browser!.newPage();
      try {
        await page.goto(n1!.url);
        await settle(() => page.evaluate(() => (window as any).__valkka.tiles().length as number), (n) => n > 0, 15_000);
        const ids = [archived.id, archiveOf(after, 'node2/camB')!.id, ...after.filter((c) => c.node === 'node2' && c.source === 'remote').map((c) => c.id)];
        await page.evaluate((list) => (window as any).__valkka.choose(list), ids);
        const t = from + 1000;
        await page.evaluate((time) => (window as any).__valkka.seekTo(time), t);
        const atT = (x: Shown | undefined): boolean => x?.shownTs !== undefined && t - x.shownTs >= 0 && t - x.shownTs < FRAME_MS && typeof x.number === 'number';
        const shown = await settle(() => tiles(page), (s) => atT(s.find((x) => x.camera === archived.id)) && atT(s.find((x) => x.camera === remoteA.id)), 20_000);
        expect(atT(shown.find((x) => x.camera === archived.id)), JSON.stringify({ t, shown })).toBe(true);
        expect(atT(shown.find((x) => x.camera === remoteA.id)), `node 2's camA itself, from the archive: ${JSON.stringify({ t, shown })}`).toBe(true);
        expect(await page.textContent(`.tile[data-camera="${remoteA.id}"] .badge`)).toBe('OFFLINE · ARCHIVE');
        await page.mouse.move(640, 20);
        await shot(page, 'fleet-3-offline');
      } finally {
        await page.close();
      }
    }
  });

  it('NATS down: node 1 records on and serves its own cameras; it stops cleanly', async () => {
    const n1 = nodes[0]!;
    archivedBefore = await archivedNow(); // what the restart below must find again
    for (let i = 0; i < 3; i++) await cluster.stop(i);
    const health = await settle(
      () => json<{ fleet: { nats: string } }>(`${n1.url}api/health`),
      (h) => h.fleet.nats !== 'connected',
      15_000,
    );
    expect(health.fleet.nats).toBe('disconnected');
    const end = async (): Promise<number> => Math.min(...(await camerasOf(n1)).filter((c) => c.source === 'local').map((c) => c.timeRange![1]));
    const first = await end();
    const later = await settle(end, (e) => e > first + 1500, 10_000);
    expect(later, 'local recording goes on').toBeGreaterThan(first + 1500);
    n1.child.kill('SIGTERM');
    const code = await Promise.race([n1.exited, new Promise((r) => setTimeout(() => r('still running 20 s after SIGTERM'), 20_000))]);
    expect(code).toBe(0);
    expect(n1.output()).toContain('stopped');
    expect(n1.output(), 'the fleet token is never logged').not.toContain(TOKEN);
  });

  it('restart everything (3 NATS servers, both recorders, same directories and names): the catalog and the archive are whole', async () => {
    expect(archivedBefore.size, 'blocks archived before the restart').toBeGreaterThan(8);
    await cluster.start(0, 1, 2);
    for (const n of [1, 2]) nodes[n - 1] = await startNode(`node${n}`, join(base, `node${n}.json`), cluster.urls);
    const n1 = nodes[0]!;
    const cams = await settle(
      () => camerasOf(n1),
      (c) => live(c).filter((x) => x.online && !x.fromArchive && x.timeRange).length === 4 && archiveOf(c, 'node2/camA') !== undefined,
      30_000,
    );
    expect(Object.fromEntries(live(cams).map((c) => [c.name, [c.source, c.node, c.online, c.fromArchive]])), nodes.map((n) => n.output()).join('\n')).toEqual({
      camA: ['local', 'node1', true, false],
      camB: ['local', 'node1', true, false],
      'node2/camA': ['remote', 'node2', true, false],
      'node2/camB': ['remote', 'node2', true, false],
    });
    // Every block archived before is listed again (per filesystem: none lost).
    const after = await archivedNow();
    const count = (set: Set<string>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const k of set) out[k.split('/')[0]!] = (out[k.split('/')[0]!] ?? 0) + 1;
      return out;
    };
    const lost = [...archivedBefore].filter((k) => !after.has(k));
    expect(lost, 'archived blocks missing after the restart').toEqual([]);
    const perFs = count(after);
    for (const [fsId, n] of Object.entries(count(archivedBefore))) expect(perFs[fsId], fsId).toBeGreaterThanOrEqual(n);
    expect(Object.keys(perFs).length, 'archived filesystems (2 per recorder)').toBe(4);
    // The archived range exported before the kill, through the restarted node 1: the same frames.
    const archived = archiveOf(cams, 'node2/camA')!;
    const res = await fetch(`${n1.url}api/export?stream=${archived.id}&from=${from}&to=${to}`);
    expect(res.status).toBe(200);
    const file = join(base, 'node2-archive-restarted.mp4');
    await writeFile(file, new Uint8Array(await res.arrayBuffer()));
    expect(md5(file)).toEqual(md5(ownFile()));

    // Node 2 stopped again: node 1 plays its cameras from the archive, and from node 2 again once it is back.
    const node2 = (c: CameraInfo[]): Array<[string, boolean, boolean]> => c.filter((x) => x.node === 'node2' && x.source === 'remote').map((x) => [x.name, x.online, x.fromArchive]);
    nodes[1]!.child.kill('SIGTERM');
    await nodes[1]!.exited;
    const away = await settle(() => camerasOf(n1), (c) => node2(c).every(([, online, fromArchive]) => !online && fromArchive), 20_000);
    expect(node2(away)).toEqual([
      ['node2/camA', false, true],
      ['node2/camB', false, true],
    ]);
    nodes[1] = await startNode('node2', join(base, 'node2.json'), cluster.urls);
    const back = await settle(() => camerasOf(n1), (c) => node2(c).every(([, online, fromArchive]) => online && !fromArchive), 20_000);
    expect(node2(back)).toEqual([
      ['node2/camA', true, false],
      ['node2/camB', true, false],
    ]);
  });
});
