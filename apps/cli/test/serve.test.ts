// `valkka serve` as a user runs it: a child process that prints the URL, answers, records with --record, and
// stops cleanly on SIGINT / SIGTERM with what it recorded durable. Runs the built CLI (bin/valkka.js → dist).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
function serve(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
