import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Frames and blocks live in buffers outside V8's heap; V8 frees dead ones only under its own external-memory
 * pressure, which lets them pile up to tens of MiB per worker whatever the thread really holds. A worker that
 * moves many bytes calls the returned function with each amount: after every `everyBytes` a full collection
 * runs (a worker's heap is small: a few ms), so its memory stays near what it holds.
 */
export function collectEvery(everyBytes: number): (bytes: number) => void {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  let moved = 0;
  return (bytes) => {
    moved += bytes;
    if (moved >= everyBytes) {
      moved = 0;
      collect();
    }
  };
}
