// The jitter peer: a plain setTimeout scheduler in its own worker, as a cacher would be without a futex clock:
// `streams` streams at `fps`, every frame scheduled at its instant with setTimeout, for `seconds`.
// Posts back every frame's lateness (firing instant − scheduled instant, ms), measured with the same time base
// as PlaybackClock.system() (performance.timeOrigin + performance.now()).
import { parentPort, workerData } from 'node:worker_threads';

const { streams, fps, seconds } = workerData;
const now = () => performance.timeOrigin + performance.now();
const frameMs = 1000 / fps;
const start = now() + 100;
const lateness = [];
const total = Math.floor(seconds * fps);
let pending = streams * total;
for (let s = 0; s < streams; s++) {
  const schedule = (k) => {
    const due = start + k * frameMs;
    setTimeout(() => {
      lateness.push(now() - due);
      if (--pending === 0) parentPort.postMessage(lateness);
      else if (k + 1 < total) schedule(k + 1);
    }, Math.max(0, due - now()));
  };
  schedule(0);
}
