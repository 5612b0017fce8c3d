// One export in its own process, so that /usr/bin/time measures its peak RSS alone.
// usage: node export-child.mjs DIR FROM TO OUT
import { loadValkkaFS } from '@valkka/fs';
import { exportRange } from '../dist/index.js';

const [dir, from, to, output] = process.argv.slice(2);
const fs = await loadValkkaFS(dir, { readOnly: true });
const started = performance.now();
const result = await exportRange(fs, { from: Number(from), to: Number(to), output });
const seconds = (performance.now() - started) / 1000;
await fs.close();
console.log(JSON.stringify({ seconds, frames: result.frames, framesInFile: result.framesInFile, bytes: result.bytes }));
