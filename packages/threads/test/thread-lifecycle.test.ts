import { describe, expect, it } from 'vitest';
import { FrameQueue, ThreadDiedError, ValkkaThread, type ThreadCommand } from '../src/index.js';

const workerFile = new URL('./workers/test-thread-worker.mjs', import.meta.url);

/** A ValkkaThread on the test worker (built on runWorker/runLoop from dist). */
class TestThread extends ValkkaThread<{ failAtStart?: string }> {
  readonly input: FrameQueue;
  constructor(data: { failAtStart?: string } = {}) {
    const input = FrameQueue.create({ capacity: 4096 });
    super({ name: 'test', worker: workerFile, input, counters: ['frames'], data });
    this.input = input;
  }
  send(command: ThreadCommand): Promise<void> {
    return this.command(command);
  }
  query(command: ThreadCommand): Promise<unknown> {
    return this.ask(command);
  }
}

const frame = (ts: number) => ({ slot: 4, subsession: 0, timestamp: ts, mediaType: 0 as const, codec: 27 as const, flags: 0, payload: new Uint8Array(8) });

describe('ValkkaThread lifecycle', () => {
  it('starts, handles frames and commands in order, stops cleanly', async () => {
    const t = new TestThread();
    const seen: string[] = [];
    t.on('frame', (f: { ts: number }) => seen.push(`f${f.ts}`));
    t.on('command', (c: { type: string }) => seen.push(c.type));
    await t.start();
    expect(t.isRunning).toBe(true);
    await t.input.pushFrameAsync(frame(1));
    await t.send({ type: 'a' });
    await t.input.pushFrameAsync(frame(2));
    await t.send({ type: 'b' });
    await t.close();
    expect(seen).toEqual(['f1', 'a', 'f2', 'b']);
    expect(t.counters()).toEqual({ frames: 2 });
    expect(t.isRunning).toBe(false);
    await t.close(); // idempotent
  });

  it('a worker that throws reports the reason as an error event and a rejected waitStop; the process lives on', async () => {
    const t = new TestThread();
    const errors: unknown[] = [];
    t.on('error', (e) => errors.push(e));
    await t.start();
    await t.send({ type: 'throw', message: 'disk on fire' });
    const err = await t.waitStop().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThreadDiedError);
    expect(err).toMatchObject({ code: 'ERR_THREAD_DIED' });
    expect((err as Error).message).toMatch(/thread "test" died: disk on fire/);
    expect(((err as Error).cause as { code?: string }).code).toBe('ETESTFAIL');
    expect(errors).toEqual([err]);
    // Commands to a dead thread are refused with the same reason.
    await expect(t.send({ type: 'a' })).rejects.toBe(err);
  });

  it('without an error listener, a dying worker only rejects waitStop (no unhandled error)', async () => {
    const t = new TestThread();
    await t.start();
    await t.send({ type: 'exit' });
    await expect(t.waitStop()).rejects.toThrow(/worker exited with code 3/);
  });

  it('a question whose worker dies before answering is rejected with the reason, not left hanging', async () => {
    const t = new TestThread();
    await t.start();
    await expect(t.query({ type: 'throw', message: 'gone' })).rejects.toThrow(/died: gone/);
  });

  it('overlapping questions each get their own answer', async () => {
    const t = new TestThread();
    await t.start();
    const answers = await Promise.all([1, 2, 3].map((value) => t.query({ type: 'echo', value })));
    expect(answers).toEqual([1, 2, 3]);
    await t.close();
  });

  it('a question before start() is refused with the reason, not a crash', async () => {
    const t = new TestThread();
    await expect(t.query({ type: 'echo', value: 1 })).rejects.toMatchObject({ code: 'ERR_THREAD_STATE', message: expect.stringMatching(/not running \(start\(\) it first\)/) });
  });

  it('terminate() stops a worker at once without calling it a failure', async () => {
    const t = new TestThread();
    await t.start();
    await t.terminate();
    expect(t.isRunning).toBe(false);
    await expect(t.waitStop()).resolves.toBeUndefined();
    await expect(t.send({ type: 'a' })).rejects.toThrow(/is not running/);
  });

  it('start rejects with the reason when the worker fails while setting up', async () => {
    const t = new TestThread({ failAtStart: '/no/such/dir' });
    await expect(t.start()).rejects.toThrow(/died: cannot open: \/no\/such\/dir/);
    await expect(t.waitStop()).rejects.toBeInstanceOf(ThreadDiedError);
  });
});
