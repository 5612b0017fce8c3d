// A JetStream cluster of Debian's nats-server on loopback ports, for the fleet suites and benches:
// each server gets its own config, store directory and log file in one temp directory.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Generous: after a whole-cluster restart on a loaded 2-core CI machine the meta group once needed over 20 s to
// elect a leader (routes reconnect with backoff, then Raft). An upper bound only: a quick cluster is not held up.
const UP_WITHIN_MS = 60_000;

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server'];

/** The nats-server binary, or undefined. */
export function natsServerPath() {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  return spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0 ? 'nats-server' : undefined;
}

/** Why a cluster cannot be started here, or undefined when it can. */
export function natsMissing() {
  const bin = natsServerPath();
  if (!bin) return 'nats-server is not installed (apt-get install nats-server)';
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) return `${bin} --version failed: ${v.stderr || v.stdout}`;
  return undefined;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `nodes` servers forming one cluster with JetStream (and, given user/pass, password auth for
 * clients, or users by nkey). Resolves when every server is up and the JetStream meta group has a leader.
 * @param {{ nodes?: number, user?: string, pass?: string, nkeys?: string[] }} [options] nkeys: public keys (U...) of users allowed in
 */
export async function startNatsCluster(options = {}) {
  const nodes = options.nodes ?? 3;
  const bin = natsServerPath();
  if (!bin) throw new Error(natsMissing());
  const dir = await mkdtemp(join(tmpdir(), 'valkka-nats-'));
  const servers = [];
  for (let i = 0; i < nodes; i++) servers.push({ port: await freePort(), cport: await freePort(), mport: await freePort(), child: undefined, exited: undefined });
  const users = [
    ...(options.user ? [`{ user: ${JSON.stringify(options.user)}, password: ${JSON.stringify(options.pass ?? '')} }`] : []),
    ...(options.nkeys ?? []).map((k) => `{ nkey: ${JSON.stringify(k)} }`),
  ];
  const auth = users.length > 0 ? `authorization { users: [ ${users.join(', ')} ] }\n` : '';
  for (let i = 0; i < nodes; i++) {
    const s = servers[i];
    const routes = servers.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.cport}`);
    const conf = [
      `server_name: n${i + 1}`,
      `listen: 127.0.0.1:${s.port}`,
      `http: 127.0.0.1:${s.mport}`,
      `log_file: ${JSON.stringify(join(dir, `n${i + 1}.log`))}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, `js${i + 1}`))}, max_memory_store: 64MB, max_file_store: 2GB }`,
      nodes > 1 ? `cluster { name: valkka, listen: 127.0.0.1:${s.cport}, routes: [ ${routes.join(', ')} ] }` : '',
      auth,
    ].join('\n');
    s.conf = join(dir, `n${i + 1}.conf`);
    await writeFile(s.conf, conf, { mode: 0o600 });
  }

  const launch = (i) => {
    const s = servers[i];
    const child = spawn(bin, ['-c', s.conf], { stdio: 'ignore' });
    s.child = child;
    s.exited = new Promise((resolve) => child.once('exit', resolve));
  };
  const healthy = async (i, deadline) => {
    while (Date.now() < deadline) {
      // js-enabled-only: a server whose peers are down is up, though its JetStream has no quorum.
      const h = await getJson(`http://127.0.0.1:${servers[i].mport}/healthz?js-enabled-only=true`);
      if (h?.status === 'ok') return;
      if (servers[i].child.exitCode !== null) throw new Error(`nats-server n${i + 1} exited (${servers[i].child.exitCode}); see ${join(dir, `n${i + 1}.log`)}`);
      await sleep(100);
    }
    throw new Error(`nats-server n${i + 1} not healthy in time; see ${join(dir, `n${i + 1}.log`)}`);
  };
  const metaLeader = async (deadline) => {
    while (Date.now() < deadline) {
      for (let i = 0; i < nodes; i++) {
        if (!servers[i].child || servers[i].child.exitCode !== null) continue;
        const j = await getJson(`http://127.0.0.1:${servers[i].mport}/jsz`);
        if (nodes === 1 ? j?.config : j?.meta_cluster?.leader) return;
      }
      await sleep(100);
    }
    // The directory goes with the cluster: the error carries the end of each server's log.
    const tails = await Promise.all(servers.map(async (_s, i) => {
      const log = await readFile(join(dir, `n${i + 1}.log`), 'utf8').catch(() => '(no log)');
      return `n${i + 1}:\n${log.split('\n').slice(-12).join('\n')}`;
    }));
    throw new Error(`no JetStream meta leader within ${UP_WITHIN_MS / 1000} s\n${tails.join('\n')}`);
  };
  const stop = async (i, signal = 'SIGTERM') => {
    const s = servers[i];
    if (!s.child || s.child.exitCode !== null) return;
    s.child.kill(signal);
    const killer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
    await s.exited;
    clearTimeout(killer);
  };

  try {
    for (let i = 0; i < nodes; i++) launch(i);
    const deadline = Date.now() + UP_WITHIN_MS;
    for (let i = 0; i < nodes; i++) await healthy(i, deadline);
    await metaLeader(deadline);
  } catch (err) {
    for (let i = 0; i < nodes; i++) await stop(i, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    urls: servers.map((s) => `nats://127.0.0.1:${s.port}`),
    dir,
    pid: (i) => servers[i].child?.pid,
    running: (i) => servers[i].child !== undefined && servers[i].child.exitCode === null && servers[i].child.signalCode === null,
    stop,
    /**
     * Starts servers again (same ports, configs and stores); resolves when they are up and, when a
     * majority of the cluster runs, the JetStream meta group has a leader.
     */
    async start(...indices) {
      const todo = indices.filter((i) => !(servers[i].child && servers[i].child.exitCode === null && servers[i].child.signalCode === null));
      for (const i of todo) launch(i);
      const deadline = Date.now() + UP_WITHIN_MS;
      for (const i of todo) await healthy(i, deadline);
      const up = servers.filter((s) => s.child && s.child.exitCode === null && s.child.signalCode === null).length;
      if (up > nodes / 2) await metaLeader(deadline);
    },
    /** Stops every server (SIGTERM), the cluster's total outage. */
    async stopAll() {
      await Promise.all(servers.map((_, i) => stop(i)));
    },
    async close() {
      for (let i = 0; i < nodes; i++) await stop(i);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
