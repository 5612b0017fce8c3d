// connectFleet's signal: a join waiting for a NATS that never answers gives up when aborted, and the attempt
// stops dialling, so a process shutting down is free to exit (no NATS server needed: port 1 refuses every dial).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FleetError, connectFleet } from '../src/index.js';

const NOWHERE = 'nats://127.0.0.1:1';
const log = pino({ level: 'silent' });

describe('connectFleet with a signal', () => {
  it('rejects with EABORTED naming the servers when aborted while every dial is refused', async () => {
    const ac = new AbortController();
    const pending = connectFleet({ servers: [NOWHERE], name: 'lonely', log, signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).code).toBe('EABORTED');
    expect((err as FleetError).message).toContain('127.0.0.1:1');
  });

  it('refuses at once when the signal is already aborted', async () => {
    const err = await connectFleet({ servers: [NOWHERE], name: 'lonely', log, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((err as FleetError).code).toBe('EABORTED');
  });

  it('leaves nothing running: a process that aborted its join exits by itself', async () => {
    // The built package, as `valkka serve` runs it; without the abort this process would dial forever.
    const dist = pathToFileURL(resolve(import.meta.dirname, '../dist/index.js')).href;
    const script = `
      import { connectFleet } from ${JSON.stringify(dist)};
      import { pino } from 'pino';
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 500);
      connectFleet({ servers: [${JSON.stringify(NOWHERE)}], name: 'lonely', log: pino({ level: 'silent' }), signal: ac.signal })
        .then(() => console.log('connected?'), (err) => console.log(err.code));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running 10 s after the abort'), 10_500))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    expect(code, out).toBe(0);
    expect(out.trim()).toBe('EABORTED');
  });
});
