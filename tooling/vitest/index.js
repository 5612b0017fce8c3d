// Shared vitest settings: every package writes a JSON report next to the others,
// so the root test command can print one "N passed, N failed" line for the whole repo.
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** @param {string} packageDir absolute path of the package  @param {object} [extra] */
export function packageTestConfig(packageDir, extra = {}) {
  const name = basename(packageDir);
  const outputDir = process.env.VALKKA_TEST_RESULTS ?? resolve(repoRoot, '.test-results');
  return {
    test: {
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: 120_000, // generous: suites share 2 cores with another package's tests in CI
      hookTimeout: 120_000,
      reporters: ['default', 'json'],
      outputFile: { json: resolve(outputDir, `${name}.json`) },
      ...extra,
    },
  };
}
