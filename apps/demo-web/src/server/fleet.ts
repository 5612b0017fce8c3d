/**
 * `valkka serve --fleet`: this server as a node of a fleet of recorders on NATS JetStream (@valkka/fleet).
 * - announces its filesystems and cameras in the fleet catalog every heartbeat;
 * - with `archive`, an Archiver per local filesystem copies every sealed block into the archive;
 * - every `watchMs` it reads the catalog and the archive's list and keeps a mirror directory (a read-only
 *   ValkkaFS whose blocks come through this server) per remote filesystem and per archived filesystem,
 *   added to the Catalog as cameras: remote ones play through the same sessions, manager and export as local ones;
 * - it answers the node-to-node routes (fleet-routes.ts).
 * NATS down: recording and local playback go on; remote cameras keep playing from their nodes (HTTP, not NATS)
 * with the last catalog known; the archive catches up when NATS returns. A node that stops heartbeating is shown
 * offline, kept; its archive stays playable. Credentials and tokens are never logged.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type Archive, Archiver, blockfileOf, capRanges, connectFleet, type Fleet, type FleetNode, type MirrorSyncSpec, type NodeEntry, serveBlock, syncMirror } from '@valkka/fleet';
import type { Logger } from 'pino';
import { HOLE_MS } from '../protocol.js';
import { type AnyFS, type Catalog, joinRanges } from './catalog.js';
import type { FleetBlocks } from './fleet-routes.js';

export interface FleetOptions {
  /** nats://host:port of the cluster's servers. */
  servers: string[];
  /** This node's name (letters, digits, - and _). */
  node: string;
  /** The token every node of the fleet shares (node-to-node requests carry it). */
  token: string;
  /** The URL other nodes reach this server at (default: from the address it is bound to). */
  url?: string;
  /** Archive every sealed block (limits apply when this node creates the bucket). */
  archive?: { maxBytes?: number; maxAgeMs?: number };
  user?: string;
  pass?: string;
  credsFile?: string;
  /** Catalog heartbeat (default 2000 ms). */
  heartbeatMs?: number;
  /** How often the catalog and the archive are looked at for mirrors (default 2000 ms). */
  watchMs?: number;
}

/** A mirror's streams as the catalog shows them. */
type Streams = Array<{ streamId: number; name: string; codec: 'h264' | 'h265' | 'other' | null }>;
/** Omit applied to each member of a union (so a spec keeps its `kind` discriminant). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a mirror spec leaves to this server: its own block route and token. */
type Spec = OmitEach<MirrorSyncSpec, 'blockUrl' | 'token'>;

export class FleetMember implements FleetBlocks {
  private fleet: Fleet | undefined;
  private archive: Archive | undefined;
  private readonly archivers: Archiver[] = [];
  private nodesSeen: FleetNode[] = [];
  /** Nodes the previous look at the catalog found offline. */
  private offlineBefore = new Set<string>();
  /** Per mirror directory: its streams' ranges as the fleet knows them (the timeline draws these). */
  private readonly mirrors = new Map<string, Map<number, Array<[number, number]>>>();
  private mirrorRoot: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  /** Ends a join still waiting for NATS when the server closes. */
  private readonly stopJoin = new AbortController();
  private url = '';
  /** This server's own address (the mirror devices ask it for blocks). */
  private localUrl = '';
  private readonly startedAt = Date.now();
  /** Problems already logged (each once until it clears). */
  private readonly said = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly options: FleetOptions,
    private readonly log: Logger,
    private readonly localToken: string,
  ) {}

  get name(): string {
    return this.options.node;
  }

  /** Joins the fleet in the background (the server serves its local cameras meanwhile, and if NATS never answers). */
  start(serverUrl: string, host: string): void {
    this.url = this.options.url ?? advertisedUrl(serverUrl, host);
    this.localUrl = localUrl(serverUrl, host);
    this.starting = this.join().catch((err: Error) => {
      if (!this.closed) this.log.error({ err: err.message }, 'fleet: cannot join');
    });
  }

  private async join(): Promise<void> {
    this.mirrorRoot = await mkdtemp(join(tmpdir(), `valkka-fleet-${this.options.node}-`));
    const { servers, node, user, pass, credsFile, heartbeatMs } = this.options;
    const fleet = await connectFleet({ servers, name: node, log: this.log, signal: this.stopJoin.signal, ...(user !== undefined ? { user, pass } : {}), ...(credsFile ? { credsFile } : {}), ...(heartbeatMs ? { heartbeatMs } : {}) });
    if (this.closed) {
      await fleet.close();
      return;
    }
    this.fleet = fleet;
    this.archive = fleet.archive(this.options.archive ?? {});
    this.log.info({ node, url: this.url }, 'fleet: joined');
    fleet.catalog.announce(() => this.entry());
    if (this.options.archive) {
      for (const fs of this.catalog.filesystems) {
        if (fs.isLegacy) continue;
        const archiver = await Archiver.start({ dirname: fs.dirname, archive: this.archive, log: this.log });
        // Closed meanwhile: close() has already stopped the others.
        if (this.closed) return archiver.stop();
        this.archivers.push(archiver);
      }
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.ticking = this.watch()
        .catch((err: Error) => this.once('watch', 'fleet: watching the catalog failed', err))
        .finally(() => {
          this.ticking = undefined;
          this.schedule(this.options.watchMs ?? 2000);
        });
    }, ms);
  }

  // ---------- the catalog entry ----------

  private async entry(): Promise<NodeEntry> {
    const filesystems: NodeEntry['filesystems'] = [];
    for (const fs of this.catalog.filesystems) {
      if (fs.isLegacy) continue;
      const ranges = await fs.recordedRanges(undefined, { maxGapMs: HOLE_MS }).catch(() => new Map<number, Array<[number, number]>>());
      const cameras = this.catalog.cameras
        .filter((c) => c.fs === fs)
        .map((c) => ({ streamId: c.streamId, name: c.name, codec: c.codec ?? 'unknown', ranges: capRanges(ranges.get(c.streamId) ?? []) }));
      filesystems.push({ fsId: fs.fsId, name: basename(fs.dirname), variant: fs.variant, blocksize: fs.blocksize, nBlocks: fs.nBlocks, cameras });
    }
    return { node: this.options.node, url: this.url, heartbeatAt: Date.now(), startedAt: this.startedAt, filesystems };
  }

  // ---------- mirrors ----------

  /** One look at the catalog and the archive: mirrors made, updated, or marked offline. */
  private async watch(): Promise<void> {
    const fleet = this.fleet;
    if (!fleet || fleet.status() !== 'connected') return;
    const nodes = await fleet.catalog.list();
    this.nodesSeen = nodes;
    this.clear('watch');
    // Offline in two looks running: one late heartbeat on a loaded machine does not switch a camera to the archive.
    const offlineNow = new Set(nodes.filter((n) => !n.online).map((n) => n.node));
    this.catalog.setOffline([...offlineNow].filter((n) => this.offlineBefore.has(n)));
    this.offlineBefore = offlineNow;

    for (const node of nodes) {
      if (node.node === this.options.node || !node.online) continue; // an offline node's mirror stays as it was last seen
      for (const f of node.filesystems) {
        const ranges = new Map(f.cameras.map((c) => [c.streamId, c.ranges.map(([a, b]) => [a, b] as [number, number])]));
        const streams = f.cameras.map((c) => ({ streamId: c.streamId, name: `${node.node}/${c.name}`, codec: codecOf(c.codec) }));
        const spec: Spec = { kind: 'node', fsId: f.fsId, variant: f.variant, blocksize: f.blocksize, nBlocks: f.nBlocks, nodeUrl: node.url, fleetToken: this.options.token, ...single(f) };
        await this.mirror(spec, node.node, ranges, streams).catch((err: Error) => this.once(`node ${f.fsId}`, `fleet: mirror of ${node.node}/${f.name} not updated`, err));
      }
    }

    const archived = await this.archive?.listAll().catch((err: Error) => this.once('archive', 'fleet: the archive cannot be listed', err));
    if (!archived) return;
    this.clear('archive');
    for (const [fsId, blocks] of archived.byFs) {
      if (blocks.length === 0) continue;
      const owner = nodes.find((n) => n.filesystems.some((f) => f.fsId === fsId));
      const f = owner?.filesystems.find((x) => x.fsId === fsId);
      const nodeName = owner?.node ?? 'unknown';
      const ranges = new Map<number, Array<[number, number]>>();
      for (const b of blocks) for (const [id, t0, t1] of b.streams) (ranges.get(id) ?? ranges.set(id, []).get(id)!).push([t0, t1]);
      for (const [id, list] of ranges) ranges.set(id, joinRanges(list, HOLE_MS));
      const streams = [...ranges.keys()].map((streamId) => {
        const cam = f?.cameras.find((c) => c.streamId === streamId);
        return { streamId, name: `${nodeName}/${cam?.name ?? `${fsId.slice(0, 8)}/${streamId}`} (archive)`, codec: codecOf(cam?.codec) };
      });
      const first = blocks[0]!;
      const spec: Spec = { kind: 'archive', fsId, variant: first.variant, blocksize: first.blocksize, blocks, ...(first.variant === 'single' && streams[0] ? { streamId: streams[0].streamId } : {}) };
      await this.mirror(spec, nodeName, ranges, streams).catch((err: Error) => this.once(`archive ${fsId}`, `fleet: archive mirror of ${nodeName}/${f?.name ?? fsId} not updated`, err));
    }
  }

  /** Writes or updates a mirror directory; adds it to the catalog when new, rebuilt (a new geometry) or holding new streams. */
  private async mirror(spec: Spec, node: string, ranges: Map<number, Array<[number, number]>>, streams: Streams): Promise<void> {
    const dir = join(this.mirrorRoot!, `${spec.kind}-${spec.fsId}`);
    const r = await syncMirror(dir, { ...spec, blockUrl: new URL('api/fleet/block', this.localUrl).toString(), token: this.localToken } as MirrorSyncSpec);
    this.mirrors.set(dir, ranges);
    this.clear(`${spec.kind} ${spec.fsId}`);
    const known = this.catalog.mirror(dir);
    const grown = known !== undefined && streams.some((s) => !known.info.streams.some((k) => k.streamId === s.streamId));
    if (known && !r.rebuilt && !grown) return;
    await this.catalog.addFilesystem(dir, {
      node,
      source: spec.kind === 'node' ? 'remote' : 'archive',
      streams,
      ranges: (id) => this.mirrors.get(dir)?.get(id) ?? [],
    });
    this.log.info({ node, fsId: spec.fsId, kind: spec.kind, cameras: streams.length, nBlocks: r.nBlocks }, 'fleet: mirror added');
  }

  // ---------- blocks (the routes) ----------

  async nodes(): Promise<unknown> {
    return {
      node: this.options.node,
      nats: this.fleet?.status() ?? 'connecting',
      nodes: this.nodesSeen.map((n) => ({
        node: n.node,
        url: n.url,
        online: n.online,
        heartbeatAt: n.heartbeatAt,
        startedAt: n.startedAt,
        filesystems: n.filesystems.map((f) => ({ fsId: f.fsId, name: f.name, cameras: f.cameras.map((c) => ({ streamId: c.streamId, name: c.name, codec: c.codec })) })),
      })),
      archivers: this.archivers.map((a) => ({ fsId: a.fsId, dir: a.fs.dirname, ...a.stats })),
    };
  }

  private localFs(fsId: string): AnyFS | undefined {
    return this.catalog.filesystems.find((fs) => !fs.isLegacy && fs.fsId === fsId);
  }

  blockfile(fsId: string): { body: Buffer; currentBlock: number } | undefined {
    const fs = this.localFs(fsId);
    return fs && blockfileOf(fs);
  }

  block(query: URLSearchParams, local: boolean): Promise<Buffer> {
    return serveBlock(query, {
      localFs: (fsId) => this.localFs(fsId),
      // Only for this server's mirrors (the route refuses kinds other than local to other nodes).
      remoteFs: (fsId) => {
        if (!local) return undefined;
        const node = this.nodesSeen.find((n) => n.online && n.node !== this.options.node && n.filesystems.some((f) => f.fsId === fsId));
        const f = node?.filesystems.find((x) => x.fsId === fsId);
        return node && f && { url: node.url, blocksize: f.blocksize };
      },
      archive: local ? this.archive : undefined,
      fleetToken: this.options.token,
    });
  }

  // ---------- state and shutdown ----------

  stats(): { node: string; nats: string; nodes: number; online: number; mirrors: number; archivers: Array<{ fsId: string; uploaded: number; missed: number; pending: number; refused: number }> } {
    return {
      node: this.options.node,
      nats: this.fleet?.status() ?? 'connecting',
      nodes: this.nodesSeen.length,
      online: this.nodesSeen.filter((n) => n.online).length,
      mirrors: this.mirrors.size,
      archivers: this.archivers.map((a) => ({ fsId: a.fsId, uploaded: a.stats.uploaded, missed: a.stats.missed, pending: a.stats.pending, refused: a.stats.refused })),
    };
  }

  /** The archivers (tests wait for them to be idle). */
  get archiving(): readonly Archiver[] {
    return this.archivers;
  }

  /**
   * Stops the archivers (after the block in flight), the catalog heartbeat and the connection. Every wait is
   * bounded: with NATS down a request in flight may never be answered, and shutdown must not wait for it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopJoin.abort();
    clearTimeout(this.timer);
    await this.bounded(this.ticking, 2000, 'the catalog watch');
    // A join under way finishes its step (an archiver starting) before the archivers are stopped; one still
    // waiting for NATS has just been aborted.
    await this.bounded(this.starting, 1000);
    await this.bounded(Promise.all(this.archivers.map((a) => a.stop().catch(() => undefined))), 5000, 'the archivers (a block upload in flight)');
    const fleet = this.fleet;
    if (fleet && !(await this.bounded(fleet.close().catch(() => undefined), 2000, 'draining the NATS connection'))) await fleet.nc.close().catch(() => undefined);
    for (const dir of this.mirrors.keys()) await this.catalog.removeFilesystem(dir);
    if (this.mirrorRoot) await rm(this.mirrorRoot, { recursive: true, force: true });
  }

  /** Waits for `p` at most `ms`; false (and a warning naming `what`, when given) if it did not settle in time. */
  private async bounded(p: Promise<unknown> | undefined, ms: number, what?: string): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([Promise.resolve(p).then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    if (!settled && what) this.log.warn({ waitedMs: ms }, `fleet: shutdown did not wait longer for ${what}`);
    return settled;
  }

  private once(key: string, message: string, err: Error): undefined {
    if (!this.said.has(key)) this.log.warn({ err: err.message }, message);
    this.said.add(key);
    return undefined;
  }

  private clear(key: string): void {
    this.said.delete(key);
  }
}

/** A single filesystem's stream id (its mirror's valkkafs.json carries it). */
function single(f: { variant: 'single' | 'multi'; cameras: Array<{ streamId: number }> }): { streamId?: number } {
  return f.variant === 'single' && f.cameras[0] ? { streamId: f.cameras[0].streamId } : {};
}

function codecOf(codec: string | undefined): 'h264' | 'h265' | 'other' | null {
  return codec === 'h264' || codec === 'h265' || codec === 'other' ? codec : null;
}

/** This server as seen from itself (loopback when it listens on every address). */
function localUrl(serverUrl: string, host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return serverUrl;
  const u = new URL(serverUrl);
  u.hostname = host === '::' ? '[::1]' : '127.0.0.1';
  return u.toString();
}

/** The URL other nodes use: the server's own, or with the host name when it listens on every address. */
function advertisedUrl(serverUrl: string, host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return serverUrl;
  const u = new URL(serverUrl);
  u.hostname = hostname();
  return u.toString();
}
