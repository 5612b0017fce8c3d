// Pushes frames (and a command every `commandEvery` frames) into a queue from a worker, where a full
// blocking queue makes it wait with Atomics.wait. Payload: seq (u32), then bytes (seq*7+i)&255.
import { workerData, parentPort } from 'node:worker_threads';
import { FrameQueue } from '../../dist/index.js';

const { buffer, count, size, commandEvery } = workerData;
const queue = FrameQueue.attach(buffer);
let accepted = 0;
for (let seq = 0; seq < count; seq++) {
  const payload = new Uint8Array(size + (seq % 13));
  new DataView(payload.buffer).setUint32(0, seq, true);
  for (let i = 4; i < payload.length; i++) payload[i] = (seq * 7 + i) & 255;
  if (queue.pushFrame({ slot: seq % 5, subsession: 0, timestamp: 1000 + seq, mediaType: 0, codec: 27, flags: seq % 10 === 0 ? 1 : 0, payload })) accepted++;
  if (commandEvery && seq % commandEvery === commandEvery - 1) queue.pushCommand({ type: 'after', seq });
}
queue.close();
parentPort.postMessage({ accepted });
