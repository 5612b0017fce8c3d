// `valkka serve` as a user runs it: a child process that prints the URL, answers, records with --record, and
// stops cleanly on SIGINT / SIGTERM with what it recorded durable. Runs the built CLI (bin/valkka.js → dist).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { natsMissing, startNatsCluster } from '@valkka/vitest-preset/nats-cluster';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valkka } from './run-cli.js';

const BIN = resolve(import.meta.dirname, '../bin/valkka.js');
const CLIP = resolve(import.meta.dirname, '../../../packages/threads/test/fixtures/h264-baseline-gop1s.h264');
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'valkka-serve-'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

/** Starts `valkka serve ...` and resolves with the URL it prints. */
function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; url: string; output: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s:\n${out}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1]!, output: () => out, exit });
      }
    });
    void exit.then((code) => reject(new Error(`exited with ${code} before printing the URL:\n${out}`)));
  });
}

describe('valkka serve', () => {
  it('refuses bad arguments in the user words', async () => {
    expect(await valkka('serve')).toMatchObject({ code: 2, stderr: expect.stringContaining('give at least one filesystem directory') });
    expect(await valkka('serve', join(base, 'x'), '--port', 'http')).toMatchObject({ code: 2, stderr: expect.stringContaining('--port') });
    expect(await valkka('serve', '--record', join(base, 'missing.json'))).toMatchObject({ code: 2, stderr: expect.stringContaining('missing.json') });
    await writeFile(join(base, 'bad.json'), JSON.stringify({ cameras: [{ dir: 'a', source: 'b', id: 0 }] }));
    expect(await valkka('serve', '--record', join(base, 'bad.json'))).toMatchObject({ code: 2, stderr: expect.stringContaining('cameras.0.id') });
    expect(await valkka('serve', join(base, 'nothing-here'), '--port', '0')).toMatchObject({ code: 1, stderr: expect.stringContaining('cannot serve') });
  });

  it('records with --record, serves the UI, and stops cleanly on Ctrl-C with the recording durable', async () => {
    const config = join(base, 'cams.json');
    await writeFile(config, JSON.stringify({ cameras: [{ dir: 'cam1', source: CLIP, id: 5, format: { blocksize: 65536, blocks: 16 } }] }));
    const s = await serve(['--record', config, '--port', '0']);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await (await fetch(s.url)).text()).toContain('<title>');
    // Until the recorder has written a couple of seconds.
    for (let i = 0; i < 100; i++) {
      const health = (await (await fetch(`${s.url}api/health`)).json()) as { recorders: Array<{ written: number }> };
      if ((health.recorders[0]?.written ?? 0) >= 50) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    s.child.kill('SIGINT');
    expect(await s.exit).toBe(0);
    expect(s.output()).toContain('stopped');
    const info = await valkka('info', join(base, 'cam1'), '--json');
    const streams = JSON.parse(info.stdout).streams as Array<{ streamId: number; frames: number }>;
    expect(streams[0]!.streamId).toBe(5);
    expect(streams[0]!.frames).toBeGreaterThanOrEqual(50);

    // Again: the recording continues in the same ring; SIGTERM stops it too.
    const again = await serve([join(base, 'cam1'), '--port', '0']);
    const cams = (await (await fetch(`${again.url}api/cameras`)).json()) as { cameras: Array<{ streamId: number }> };
    expect(cams.cameras.map((c) => c.streamId)).toEqual([5]);
    again.child.kill('SIGTERM');
    expect(await again.exit).toBe(0);
  });
});

describe('valkka serve --fleet', () => {
  const token = 'a-fleet-token-for-tests';
  const config = (): string => join(base, 'fleet.json');

  it('refuses bad fleet flags in the user words, never repeating a password', async () => {
    const bad = async (args: string[], says: string): Promise<string> => {
      const r = await valkka('serve', join(base, 'x'), ...args);
      expect(r, args.join(' ')).toMatchObject({ code: 2, stderr: expect.stringContaining(says) });
      return r.stderr;
    };
    await bad(['--archive'], '--archive needs --fleet');
    await bad(['--node', 'n1'], '--node needs --fleet');
    await bad(['--fleet', 'nats://127.0.0.1:4222'], '--fleet needs the fleet token');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', 'short'], 'at least 16');
    await bad(['--fleet', 'http://127.0.0.1:4222', '--fleet-token', token], 'is not a nats://');
    await bad(['--fleet', 'nats://127.0.0.1:4222,', '--fleet-token', token], 'an empty server');
    expect(await bad(['--fleet', 'nats://me:hunter2-secret@127.0.0.1:4222', '--fleet-token', token], '--nats-user')).not.toContain('hunter2-secret');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--node', 'a.b'], '--node');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--nats-user', 'u'], '--nats-user needs --nats-pass');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--archive-max-age', '30d'], '--archive-max-age needs --archive');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--archive', '--archive-max-bytes', 'lots'], '--archive-max-bytes');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--nats-creds', join(base, 'none.creds')], '--nats-creds');
    await bad(['--fleet', 'nats://127.0.0.1:4222', '--fleet-token', token, '--fleet-url', 'ftp://x'], '--fleet-url');
  });

  it('stops at once while NATS is unreachable (the fleet join still waiting is aborted)', async () => {
    await writeFile(config(), JSON.stringify({ cameras: [{ dir: 'fleet-cam-down', source: CLIP, id: 4, format: { blocksize: 65536, blocks: 16 } }] }));
    // Port 1 on loopback: nothing listens, every dial is refused, the join keeps trying.
    const s = await serve(['--record', config(), '--port', '0', '--fleet', 'nats://127.0.0.1:1', '--node', 'lonely', '--log-level', 'info'], { ...process.env, VALKKA_FLEET_TOKEN: token });
    const health = (await (await fetch(`${s.url}api/health`)).json()) as { fleet: { nats: string } };
    expect(health.fleet.nats).toBe('connecting');
    s.child.kill('SIGTERM');
    // No backstop exits the process: it ends because nothing holds it (a hang here fails the race below).
    const code = await Promise.race([s.exit, new Promise((r) => setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))]);
    expect(code, s.output()).toBe(0);
    expect(s.output()).toContain('stopped');
    expect(s.output(), 'an aborted join is not an error').not.toContain('cannot join');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  const why = skipReason('cli serve --fleet (NATS)', [[natsMissing() === undefined, natsMissing() ?? '']]);
  it.skipIf(why)('joins the fleet (the token from VALKKA_FLEET_TOKEN, never printed) and stops cleanly', async () => {
    const cluster = await startNatsCluster({ nodes: 1 });
    try {
      await writeFile(config(), JSON.stringify({ cameras: [{ dir: 'fleet-cam', source: CLIP, id: 3, format: { blocksize: 65536, blocks: 16 } }] }));
      const s = await serve(['--record', config(), '--port', '0', '--fleet', cluster.urls[0]!, '--node', 'cli-node', '--archive', '--log-level', 'info'], { ...process.env, VALKKA_FLEET_TOKEN: token });
      expect(s.output()).toContain('fleet: node cli-node on 1 NATS server(s), archiving');
      let nodes: { node: string; nodes: Array<{ node: string; online: boolean }> } | undefined;
      for (let i = 0; i < 100 && !nodes?.nodes.some((n) => n.node === 'cli-node' && n.online); i++) {
        nodes = (await (await fetch(`${s.url}api/fleet/nodes`)).json()) as typeof nodes;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(nodes?.nodes.map((n) => [n.node, n.online])).toEqual([['cli-node', true]]);
      expect((await fetch(`${s.url}api/fleet/blockfile?fsId=${'0'.repeat(32)}`)).status).toBe(401);
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
      expect(s.output()).not.toContain(token);
    } finally {
      await cluster.close();
    }
  });
});
