// Time → block lookup at 10^6 blocks: the indexed binary search against the original's linear
// scan, measured in the same run. Prints both and their ratio; writes bench/results/fs-search.json.
// It bundles the table, the queries and the specification (test/linear-search.ts) on the fly (tsup),
// so it needs no build of the package.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_BLOCKS ?? 1_000_000);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 200_000);
const LINEAR_LOOKUPS = Number(process.env.BENCH_LINEAR_LOOKUPS ?? 50);

const out = mkdtempSync(join(tmpdir(), 'searchbench-'));
const entry = { 'block-table': '../src/block-table.ts', search: '../src/search.ts', 'linear-search': '../test/linear-search.ts' };
await build({ entry: Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, resolve(here, v)])), format: ['esm'], outDir: out, config: false, silent: true, dts: false });
const load = (name) => import(pathToFileURL(join(out, `${name}.js`)).href);
const [{ BlockTable }, { blockAt, getIndNeigh }, { linearSearch }] = await Promise.all(['block-table', 'search', 'linear-search'].map(load));
rmSync(out, { recursive: true, force: true });

// A full wrapped ring: one block per second, current block in the middle, a few holes.
const current = Math.floor(N / 2);
const table = new BlockTable(N, current);
const t0 = 1_700_000_000_000;
for (let p = 0; p < N - 1; p++) {
  const row = (current + 1 + p) % N;
  if (p % 1000 !== 999) table.set(row, t0 + p * 1000, t0 + p * 1000 + 960);
}
let t = performance.now();
table.timeOrder();
const indexMs = performance.now() - t;

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const targets = Array.from({ length: LOOKUPS }, () => t0 + Math.floor(rand() * (N - 1) * 1000));

// Check the two agree before timing them.
for (const x of targets.slice(0, LINEAR_LOOKUPS)) {
  if (blockAt(table, x) !== linearSearch.blockAt(table, x)) throw new Error(`blockAt disagrees at ${x}`);
}

function perLookupUs(fn, xs) {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (const x of xs) sink += fn(x) ?? 0;
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === -1) console.log(sink);
  return ns / 1000 / xs.length;
}
perLookupUs((x) => blockAt(table, x), targets.slice(0, 10_000)); // warm-up
const fastUs = perLookupUs((x) => blockAt(table, x), targets);
const neighUs = perLookupUs((x) => getIndNeigh(table, 1, x).length, targets);
const linearUs = perLookupUs((x) => linearSearch.blockAt(table, x), targets.slice(0, LINEAR_LOOKUPS));

const result = {
  name: 'fs-search',
  blocks: N,
  lookups: LOOKUPS,
  indexBuildMs: Number(indexMs.toFixed(1)),
  blockAtUs: Number(fastUs.toFixed(3)),
  getIndNeighUs: Number(neighUs.toFixed(3)),
  peer: 'linear scan of the table (the original numpy-style O(n) search)',
  linearBlockAtUs: Number(linearUs.toFixed(1)),
  speedupVsLinear: Number((linearUs / fastUs).toFixed(0)),
  goalUs: 5,
  meetsGoal: fastUs <= 5,
};
console.log(`time→block at ${N} blocks: blockAt ${fastUs.toFixed(3)} µs, getIndNeigh ${neighUs.toFixed(3)} µs, index build ${indexMs.toFixed(1)} ms`);
console.log(`peer linear scan: ${linearUs.toFixed(1)} µs per lookup; indexed search is ${result.speedupVsLinear}× faster (goal ≤ 5 µs: ${result.meetsGoal ? 'met' : 'NOT met'})`);
const resultsDir = resolve(here, '../../../bench/results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'fs-search.json'), JSON.stringify(result, null, 2) + '\n');
