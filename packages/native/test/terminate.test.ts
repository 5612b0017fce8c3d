// A worker thread terminated while its native I/O is in flight must not take the process with it:
// the completion then runs in an environment that can no longer call into JavaScript, and a
// failed throw there used to abort Node ("FATAL ERROR ... napi_throw"), and node-addon-api's
// rethrow of V8's termination value used to crash the thread (SIGSEGV in about one run of 100
// terminations in two).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackend, nativeUnavailableReason } from '../src/index.js';
import { bundleForChildren, makeTempDir } from './backends.js';

const TERMINATIONS = 100;

// The worker keeps four 1 MiB O_DIRECT writes and a fdatasync in flight at all times.
const workerSource = (entry: string) => `
import { parentPort, workerData } from 'node:worker_threads';
const { nativeBackend } = await import(${JSON.stringify(entry)});
const file = await nativeBackend.open(workerData.path, { write: true, create: true, direct: true });
const buffer = nativeBackend.allocAligned(1 << 20);
parentPort.postMessage('ready');
for (;;) {
  const inFlight = [0, 1, 2, 3].map((i) => file.write(buffer, i << 20));
  inFlight.push(file.datasync());
  await Promise.allSettled(inFlight);
  parentPort.postMessage('round');
}
`;

// The parent terminates the worker at a random instant after it has completed some I/O.
const parentSource = (workerFile: string, path: string) => `
import { Worker } from 'node:worker_threads';
let rounds = 0;
for (let i = 0; i < ${TERMINATIONS}; i++) {
  const worker = new Worker(${JSON.stringify(workerFile)}, { workerData: { path: ${JSON.stringify(path)} } });
  await new Promise((resolve) => worker.on('message', (m) => { if (m === 'round') { rounds++; resolve(); } }));
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
  await worker.terminate();
}
console.log(JSON.stringify({ terminations: ${TERMINATIONS}, rounds }));
`;

describe.skipIf(skipReason('@valkka/native worker termination', [[nativeBackend !== undefined, `the addon is not available: ${nativeUnavailableReason}`]]))(
  'native I/O in a terminated worker',
  () => {
    let dir = '';
    let entry = '';
    const cleanups: Array<() => Promise<void>> = [];
    beforeAll(async () => {
      const temp = await makeTempDir();
      dir = temp.dir;
      cleanups.push(temp.remove);
      const bundle = await bundleForChildren();
      entry = bundle.entry;
      cleanups.push(bundle.remove);
    });
    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it(`survives ${TERMINATIONS} terminations with writes and fdatasync in flight`, async () => {
      const { writeFile } = await import('node:fs/promises');
      const workerFile = join(dir, 'worker.mjs');
      const parentFile = join(dir, 'parent.mjs');
      await writeFile(workerFile, workerSource(entry));
      await writeFile(parentFile, parentSource(workerFile, join(dir, 'data.bin')));
      const child = spawnSync(process.execPath, [parentFile], { encoding: 'utf8', timeout: 120_000 });
      expect(child.stderr, 'the child must not abort').not.toMatch(/FATAL ERROR/);
      expect(child.signal).toBeNull();
      expect(child.status).toBe(0);
      const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
      expect(result.terminations).toBe(TERMINATIONS);
      expect(result.rounds).toBeGreaterThanOrEqual(TERMINATIONS); // each worker completed I/O before it was stopped
    }, 180_000);
  },
);
