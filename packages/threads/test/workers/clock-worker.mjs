// Advances a shared manual PlaybackClock `times` times by 1 ms, racing other workers doing the same.
import { parentPort, workerData } from 'node:worker_threads';
import { PlaybackClock } from '../../dist/index.js';

const clock = PlaybackClock.attach(workerData.buffer);
for (let i = 0; i < workerData.times; i++) {
  clock.advance(1);
  if (i % 7 === 0) clock.setRate(i % 14 === 0 ? 2 : 1); // re-anchors: reads the timeline under the lock too
}
parentPort.postMessage('done');
