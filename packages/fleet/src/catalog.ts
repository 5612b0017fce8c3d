/**
 * The fleet catalog: a JetStream KV bucket, one key per node (node.<name>) holding its NodeEntry,
 * rewritten every heartbeat. Entries are validated on read: a hostile or old one is skipped and
 * counted, never trusted. A node that stops heartbeating stays listed, shown offline.
 */
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

import { type FleetNode, type NodeEntry, nodeEntrySchema } from './entry.js';
import { FleetError } from './errors.js';
import { withTimeout } from './timeout.js';

/** Longest a catalog operation may take before it counts as NATS being unreachable. */
const OP_TIMEOUT_MS = 10_000;

export const CATALOG_BUCKET = 'valkka_fleet';
/** The bucket's stream (read directly by list()). */
const STREAM = `KV_${CATALOG_BUCKET}`;
export const DEFAULT_HEARTBEAT_MS = 2000;
/** Largest entry read back (the bucket's max value size too): a hostile value is not parsed. */
export const MAX_ENTRY_BYTES = 4 * 2 ** 20;

export interface CatalogOptions {
  name: string;
  log: Logger;
  replicas: () => number;
  heartbeatMs?: number;
}

export class Catalog {
  readonly heartbeatMs: number;
  /** Entries skipped by the last list() (invalid JSON, failing the schema, key and node name differing). */
  skipped = 0;
  /** Heartbeats that could not be written (NATS down); they resume by themselves. */
  failedHeartbeats = 0;
  private kv: Promise<KV> | undefined;
  private jsm: Promise<JetStreamManager> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: CatalogOptions,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  /** The bucket, created on first use (made again after a failure: NATS may have been down). */
  private bucket(): Promise<KV> {
    if (!this.kv) {
      const kvm = new Kvm(this.nc);
      const opts = { replicas: this.options.replicas(), history: 1, maxValueSize: MAX_ENTRY_BYTES };
      this.kv = kvm.create(CATALOG_BUCKET, opts).catch(async (err: unknown) => {
        // Made elsewhere with other settings (another replica count): use it as it is.
        if (/already in use|exists/i.test(String((err as Error).message))) return kvm.open(CATALOG_BUCKET);
        throw err;
      });
      this.kv.catch(() => (this.kv = undefined));
    }
    return this.kv;
  }

  /**
   * Writes this node's entry now and then every heartbeatMs until stop() (or the connection closes).
   * `make` is called each time: the ranges and cameras grow while it records.
   */
  announce(make: () => NodeEntry | Promise<NodeEntry>): void {
    clearTimeout(this.timer);
    this.stopped = false;
    const beat = async (): Promise<void> => {
      try {
        await withTimeout(this.put(await make()), OP_TIMEOUT_MS, `fleet catalog ${CATALOG_BUCKET}: heartbeat`);
        this.failedHeartbeats = 0;
      } catch (err) {
        if (this.failedHeartbeats++ === 0) this.options.log.warn({ err: (err as Error).message }, 'fleet: heartbeat not written (retrying every interval)');
      }
      if (!this.stopped && !this.nc.isClosed()) {
        this.timer = setTimeout(() => void beat(), this.heartbeatMs);
        this.timer.unref();
      }
    };
    void beat();
  }

  /** Writes one entry (validated first: a node never publishes what others would skip). */
  async put(entry: NodeEntry): Promise<void> {
    const parsed = nodeEntrySchema.safeParse(entry);
    if (!parsed.success) throw new FleetError('EARGUMENT', `catalog entry of ${this.options.name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (parsed.data.node !== this.options.name) throw new FleetError('EARGUMENT', `catalog entry names node ${parsed.data.node}, this node is ${this.options.name}`);
    const kv = await this.bucket();
    await kv.put(`node.${this.options.name}`, JSON.stringify(parsed.data));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Every node's entry, online when its last heartbeat (the server's time of the write) is younger than three intervals. */
  async list(): Promise<FleetNode[]> {
    try {
      return await withTimeout(this.listNow(), OP_TIMEOUT_MS, `fleet catalog ${CATALOG_BUCKET}: list`);
    } catch (err) {
      if (err instanceof FleetError) throw err;
      throw new FleetError('ENATS', `fleet catalog ${CATALOG_BUCKET}: list failed (${(err as Error).message})`, { cause: err });
    }
  }

  /**
   * Reads the bucket from its stream leader only: the keys are the subjects the leader's stream info
   * names, each value is a STREAM.MSG.GET last_by_subj. Neither kv.keys() nor kv.get() is used:
   * - kv.keys() is a last-per-subject consumer and ends when the consumer says nothing is pending; on
   *   a loaded machine a fresh one was seen (nats-server 2.9.10, @nats-io/kv 3.4) to report 0 pending
   *   while the leader held every key, so a list came back without some or all nodes, and no error;
   * - kv.get() is a direct get (allow_direct), which any replica may answer, a lagging follower
   *   with an old value (a node shown offline) or none (a node missing).
   * The leader holds every write the cluster has acknowledged, also after a leader change; with no
   * leader reachable (the minority side of a partition, a restart under way) the list fails with ENATS
   * instead of showing a partial fleet. A leader cut off from its quorum still answers for up to about
   * 10 s, until nats-server steps it down: what it shows then is the fleet as it was (heartbeats aging).
   */
  private async listNow(): Promise<FleetNode[]> {
    let jsm: JetStreamManager;
    try {
      await this.bucket();
      jsm = await this.manager();
    } catch (err) {
      throw new FleetError('ENATS', `fleet catalog ${CATALOG_BUCKET}: unreachable (${(err as Error).message})`, { cause: err });
    }
    const prefix = `$KV.${CATALOG_BUCKET}.`;
    const info = await jsm.streams.info(STREAM, { subjects_filter: `${prefix}node.>` });
    // A stream still electing its leader (just made, a restart) is answered by a replica with an empty state.
    if (info.cluster && !info.cluster.leader) throw new FleetError('ENATS', `fleet catalog ${CATALOG_BUCKET}: its stream has no leader yet (NATS restarting or partitioned)`);
    const keys = Object.keys(info.state.subjects ?? {})
      .map((subject) => subject.slice(prefix.length))
      .sort();
    const nodes: FleetNode[] = [];
    let skipped = 0;
    // A few gets in flight at a time: one round trip each, bounded however many nodes there are.
    for (let i = 0; i < keys.length; i += 16) {
      const batch = keys.slice(i, i + 16);
      const msgs = await Promise.all(batch.map((key) => jsm.streams.getMessage(STREAM, { last_by_subj: prefix + key })));
      const now = Date.now();
      batch.forEach((key, j) => {
        const m = msgs[j];
        // Gone since the stream info, or a delete/purge marker: not a node.
        const op = m?.header?.get('KV-Operation');
        if (!m || op === 'DEL' || op === 'PURGE') return;
        const entry = parseEntry(m.data, key);
        if (typeof entry === 'string') {
          skipped++;
          this.options.log.warn({ key, reason: entry }, 'fleet: catalog entry skipped');
          return;
        }
        nodes.push({ ...entry, online: now - m.time.getTime() < 3 * this.heartbeatMs });
      });
    }
    this.skipped = skipped;
    return nodes;
  }

  /** The JetStream manager, made again after a failure (NATS may have been down). */
  private manager(): Promise<JetStreamManager> {
    if (!this.jsm) {
      this.jsm = jetstreamManager(this.nc);
      this.jsm.catch(() => (this.jsm = undefined));
    }
    return this.jsm;
  }
}

/** The entry of `key`, or why it is skipped. */
export function parseEntry(value: Uint8Array, key: string): NodeEntry | string {
  if (value.length > MAX_ENTRY_BYTES) return `${value.length} bytes, more than ${MAX_ENTRY_BYTES}`;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const parsed = nodeEntrySchema.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  if (`node.${parsed.data.node}` !== key) return `key ${key} holds node ${parsed.data.node}`;
  return parsed.data;
}
