// Sends `count` frames of `size` bytes to the main thread as fast as it can, through a FrameQueue
// (blocking: back-pressure) or, as the peer, through postMessage (a structured clone per frame).
import { parentPort, workerData } from 'node:worker_threads';
import { FrameQueue } from '../dist/index.js';

const { via, buffer, count, size } = workerData;
const payload = new Uint8Array(size).fill(0x55);
const queue = via === 'queue' ? FrameQueue.attach(buffer) : undefined;
for (let k = 0; k < count; k++) {
  const frame = { slot: 1, subsession: 0, timestamp: k, mediaType: 0, codec: 27, flags: 0, payload };
  if (queue) queue.pushFrame(frame);
  else parentPort.postMessage(frame);
}
queue?.close();
