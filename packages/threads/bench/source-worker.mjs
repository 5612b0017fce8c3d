// The bench's cameras: `streams` synthetic streams at `fps`, paced in real time in this worker, each frame
// pushed into its group's writer queue (dropping mode, as a live source: a full queue drops and counts).
import { parentPort, workerData } from 'node:worker_threads';
import { FrameQueue } from '../dist/index.js';

const { queues, streamsPerGroup, fps, keyBytes, deltaBytes, seconds } = workerData;
const targets = queues.map((b) => FrameQueue.attach(b));
const key = new Uint8Array(keyBytes).fill(0x65);
const delta = new Uint8Array(deltaBytes).fill(0x41);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const frameMs = 1000 / fps;
const t0 = Date.now();
const start = performance.now();
let pushed = 0;
let refused = 0;
for (let k = 0; k < seconds * fps; k++) {
  const wait = start + k * frameMs - performance.now();
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
  const isKey = k % fps === 0;
  for (const [g, queue] of targets.entries()) {
    for (let s = 0; s < streamsPerGroup; s++) {
      const slot = g * streamsPerGroup + s + 1;
      const frame = { slot, subsession: 0, timestamp: t0 + Math.round(k * frameMs), mediaType: 0, codec: 0, flags: isKey ? 1 : 0, payload: isKey ? key : delta };
      if (queue.pushFrame(frame)) pushed++;
      else refused++;
    }
  }
}
parentPort.postMessage({ pushed, refused, lateMs: performance.now() - start - seconds * 1000 });
