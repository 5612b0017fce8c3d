// The fleet catalog on a real 3-node JetStream cluster: announce, list, online/offline, hostile
// entries skipped, and credentials never in a log line or an error.
import { writeFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';

import { Kvm } from '@nats-io/kv';
import { createUser } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CATALOG_BUCKET, type Fleet, type NodeEntry, capRanges, connectFleet } from '../src/index.js';
import { captureLog, natsSkip, startNatsCluster, tempDir } from './helpers.js';

const skip = natsSkip('fleet catalog');
const USER = 'valkka-node';
const PASS = 'S3cret-pass-word';
// A user the servers know by its nkey (public key); the node holds the seed in a file.
const nkey = createUser();
const SEED = new TextDecoder().decode(nkey.getSeed());

const entry = (node: string, cameras = 2): NodeEntry => ({
  node,
  url: `http://127.0.0.1:80${node.length}`,
  heartbeatAt: Date.now(),
  startedAt: 1,
  filesystems: [
    {
      fsId: 'ab'.repeat(16),
      name: 'cams',
      variant: 'multi',
      blocksize: 65536,
      nBlocks: 64,
      cameras: Array.from({ length: cameras }, (_, i) => ({ streamId: i + 1, name: `cam${i + 1}`, codec: 'h264', width: 640, height: 480, ranges: [[1000, 2000]] as Array<[number, number]> })),
    },
  ],
});

describe.skipIf(skip)('fleet catalog (3 NATS servers)', () => {
  let cluster: Awaited<ReturnType<typeof startNatsCluster>>;
  const logs = captureLog();
  const fleets: Fleet[] = [];
  const join = async (name: string, heartbeatMs = 300): Promise<Fleet> => {
    const f = await connectFleet({ servers: cluster.urls, name, user: USER, pass: PASS, log: logs.log, heartbeatMs });
    fleets.push(f);
    return f;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster({ nodes: 3, user: USER, pass: PASS, nkeys: [nkey.getPublicKey()] });
  });
  afterAll(async () => {
    for (const f of fleets) await f.close().catch(() => undefined);
    await cluster?.close();
  });

  it('lists every announced node online; a stopped node stays listed, offline', async () => {
    const a = await join('node-a');
    const b = await join('node-b');
    expect(a.replicas()).toBe(3);
    a.catalog.announce(() => entry('node-a', 2));
    b.catalog.announce(() => entry('node-b', 3));
    await expect.poll(async () => (await a.catalog.list()).map((n) => [n.node, n.online]), { timeout: 10_000 }).toEqual([
      ['node-a', true],
      ['node-b', true],
    ]);
    const listed = await b.catalog.list();
    expect(listed[1]!.filesystems[0]!.cameras.map((c) => c.name)).toEqual(['cam1', 'cam2', 'cam3']);
    b.catalog.stop();
    await expect.poll(async () => (await a.catalog.list()).map((n) => [n.node, n.online]), { timeout: 10_000 }).toEqual([
      ['node-a', true],
      ['node-b', false],
    ]);
  });

  it('skips and counts hostile entries in the bucket, never crashing on them', async () => {
    const a = fleets[0]!;
    const kv = await new Kvm(a.nc).open(CATALOG_BUCKET);
    await kv.put('node.evil1', 'not json {');
    await kv.put('node.evil2', JSON.stringify({ ...entry('evil2'), url: 'javascript:alert(1)' }));
    await kv.put('node.evil3', JSON.stringify({ ...entry('someone-else') })); // key and node name differ
    await kv.put('node.evil4', JSON.stringify({ ...entry('evil4'), filesystems: [{ ...entry('x').filesystems[0]!, nBlocks: -1 }] }));
    const nodes = await a.catalog.list();
    expect(nodes.map((n) => n.node)).toEqual(['node-a', 'node-b']);
    expect(a.catalog.skipped).toBe(4);
    expect(logs.lines.filter((l) => l.includes('catalog entry skipped')).length).toBeGreaterThanOrEqual(4);
  });

  it('refuses to publish an invalid entry of its own', async () => {
    const a = fleets[0]!;
    await expect(a.catalog.put({ ...entry('node-a'), url: 'ftp://x' })).rejects.toThrow(/catalog entry of node-a: url/);
    await expect(a.catalog.put(entry('node-z'))).rejects.toThrow(/names node node-z, this node is node-a/);
  });

  it('joins ranges beyond 2000 per camera, closing the smallest gaps', () => {
    const ranges = Array.from({ length: 2500 }, (_, i) => [i * 100, i * 100 + (i % 3 === 0 ? 10 : 50)] as [number, number]);
    const capped = capRanges(ranges);
    expect(capped.length).toBe(2000);
    expect(capped[0]![0]).toBe(0);
    expect(capped.at(-1)![1]).toBe(ranges.at(-1)![1]);
    // Nothing recorded is lost: the capped ranges cover every original one.
    for (const [t0, t1] of ranges) expect(capped.some(([a, b]) => a <= t0 && t1 <= b)).toBe(true);
  });

  it('keeps heartbeating through a NATS server restart, and never logs the credentials', async () => {
    const a = fleets[0]!;
    // Stop every server a's connection could be on, one at a time, so it reconnects at least once.
    const disconnects = () => logs.lines.filter((l) => l.includes('NATS disconnected')).length;
    const before = disconnects();
    for (let i = 0; i < 3 && disconnects() === before; i++) {
      await cluster.stop(i);
      await new Promise((r) => setTimeout(r, 1500));
      await cluster.start(i);
    }
    expect(disconnects()).toBeGreaterThan(before);
    await expect.poll(() => a.status(), { timeout: 15_000 }).toBe('connected');
    await expect.poll(async () => (await a.catalog.list()).find((n) => n.node === 'node-a')?.online, { timeout: 15_000 }).toBe(true);
    // A wrong password: the error says so without echoing it.
    const wrong = 'Wr0ng-pass-word';
    const err = await connectFleet({ servers: cluster.urls, name: 'intruder', user: USER, pass: wrong, log: logs.log }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot connect/);
    expect((err as Error).message).not.toContain(wrong);
    const all = logs.lines.join('\n');
    expect(all).toContain('fleet: connecting');
    for (const secret of [PASS, wrong]) expect(all).not.toContain(secret);
  });

  it('connects with an nkey seed file (--nats-creds), never logging or echoing the seed', async () => {
    const tmp = await tempDir();
    try {
      const seedFile = joinPath(tmp.dir, 'user.nk');
      await writeFile(seedFile, `${SEED}\n`, { mode: 0o600 });
      const f = await connectFleet({ servers: cluster.urls, name: 'node-nk', credsFile: seedFile, log: logs.log });
      fleets.push(f);
      // Connected by nkey; the JetStream API may still be settling after the previous test's restarts.
      const nodes = () => f.catalog.list().then((l) => l.map((n) => n.node), () => []);
      await expect.poll(nodes, { timeout: 30_000, interval: 500 }).toContain('node-a');
      // Another user's seed: refused by the servers, the error names neither seed.
      const other = new TextDecoder().decode(createUser().getSeed());
      const otherFile = joinPath(tmp.dir, 'other.nk');
      await writeFile(otherFile, other);
      const err = await connectFleet({ servers: cluster.urls, name: 'node-x', credsFile: otherFile, log: logs.log }).catch((e: unknown) => e as Error);
      expect((err as Error).message).toMatch(/cannot connect/);
      const junkFile = joinPath(tmp.dir, 'junk');
      await writeFile(junkFile, 'password=hunter2');
      const junk = await connectFleet({ servers: cluster.urls, name: 'node-x', credsFile: junkFile, log: logs.log }).catch((e: unknown) => e as Error);
      expect((junk as Error).message).toBe(`--nats-creds ${junkFile}: neither a creds file (user JWT and seed) nor a user nkey seed (SU...)`);
      for (const secret of [SEED, other, 'hunter2']) {
        expect(logs.lines.join('\n')).not.toContain(secret);
        expect([(err as Error).message, (junk as Error).message].join('\n')).not.toContain(secret);
      }
    } finally {
      await tmp.cleanup();
    }
  });

  it('never lists a fleet without an announced node, also while servers restart (leader changes)', async () => {
    // Each node on its own server, heartbeats rewriting their keys all the time; a reader on each server
    // too (a replica there may lag the stream leader: what it answers must not reach a list).
    const names = ['churn-0', 'churn-1', 'churn-2'];
    const readers: Fleet[] = [];
    for (const [i, name] of names.entries()) {
      const f = await connectFleet({ servers: [cluster.urls[i]!], name, user: USER, pass: PASS, log: logs.log, heartbeatMs: 300 });
      fleets.push(f);
      f.catalog.announce(() => entry(name, 1));
      const r = await connectFleet({ servers: [cluster.urls[i]!, ...cluster.urls], name: `reader-${i}`, user: USER, pass: PASS, log: logs.log });
      fleets.push(r);
      readers.push(r);
    }
    await expect.poll(async () => (await readers[0]!.catalog.list()).filter((n) => names.includes(n.node)).length, { timeout: 15_000 }).toBe(3);
    // A node whose entry the cluster has acknowledged is in the very next list of every reader, whichever
    // replica is nearest to it (one of the three may not have applied the write yet).
    const kv = await new Kvm(readers[0]!.nc).open(CATALOG_BUCKET);
    const late: string[] = [];
    for (let k = 0; k < 15; k++) {
      await kv.put(`node.fresh-${k}`, JSON.stringify(entry(`fresh-${k}`, 1)));
      const seen = await Promise.all(readers.map((r) => r.catalog.list()));
      seen.forEach((l, i) => l.some((n) => n.node === `fresh-${k}`) || late.push(`reader ${i}: without fresh-${k}`));
    }
    expect(late).toEqual([]);
    const short: string[] = [];
    let lists = 0;
    let failed = 0;
    let restarts = 0;
    let stepdowns = 0;
    let done = false;
    const churn = (async () => {
      try {
        // The catalog stream's leader made to step down a few times (a new election each), then every
        // server restarted once: each restart may move the leader, and the restarted replica catches up
        // while lists go on.
        for (let k = 0; k < 6; k++) {
          const res = await readers[0]!.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.KV_${CATALOG_BUCKET}`, undefined, { timeout: 5000 }).catch(() => undefined);
          if (res && !res.json<{ error?: unknown }>().error) stepdowns++;
          await new Promise((r) => setTimeout(r, 400));
        }
        for (let i = 0; i < 3; i++) {
          await cluster.stop(i);
          await new Promise((r) => setTimeout(r, 1000));
          await cluster.start(i);
          restarts++;
          await new Promise((r) => setTimeout(r, 1500));
        }
      } finally {
        done = true;
      }
    })();
    await Promise.all(
      readers.map(async (reader, i) => {
        while (!done) {
          const listed = await reader.catalog.list().catch((err: Error) => {
            // No leader for a moment: a clear ENATS error, never a partial fleet.
            expect(err.message).toMatch(/fleet catalog valkka_fleet/);
            failed++;
            return undefined;
          });
          if (listed) {
            lists++;
            const missing = [...names, 'fresh-0', 'fresh-14'].filter((n) => !listed.some((x) => x.node === n));
            if (missing.length > 0) short.push(`reader ${i}, list ${lists}: without ${missing.join(',')}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    await churn;
    expect(restarts).toBe(3);
    expect(stepdowns, 'leader stepdowns done').toBeGreaterThan(2);
    expect(short, `${lists} lists made, ${failed} failed while a leader was elected`).toEqual([]);
    expect(lists, `lists made (${failed} failed while a leader was elected)`).toBeGreaterThan(15);
  });

  it('refuses credentials inside a server URL without repeating them', async () => {
    const err = await connectFleet({ servers: [`nats://${USER}:${PASS}@127.0.0.1:4222`], name: 'x', log: logs.log }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/--fleet: server 1 carries credentials in its URL/);
    expect((err as Error).message).not.toContain(PASS);
  });
});
