// The one build every package shares: ESM for Node 20 with type declarations, from src/index.ts.
/** @param {import('tsup').Options} [extra] entries, defines and the like on top of the defaults */
export function packageBuild(extra = {}) {
  return {
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...extra,
  };
}
