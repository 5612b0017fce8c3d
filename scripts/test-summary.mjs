// Sums the vitest JSON reports of every package into the line CI reads.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const resultsDir = join(root, '.test-results');
let passed = 0, failed = 0, skipped = 0;
const rows = [];

for (const group of ['packages', 'apps', 'tooling']) {
  for (const dir of readdirSync(join(root, group))) {
    const manifest = join(root, group, dir, 'package.json');
    if (!existsSync(manifest)) continue;
    if (!JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test) continue;
    const report = join(resultsDir, `${dir}.json`);
    if (!existsSync(report)) {
      failed += 1;
      rows.push(`${dir}: no test report (the test run crashed or did not start)`);
      continue;
    }
    const r = JSON.parse(readFileSync(report, 'utf8'));
    const s = r.numPendingTests + (r.numTodoTests ?? 0);
    // A suite that failed to load counts as a failure even when it had no test to run.
    const suiteErrors = (r.testResults ?? []).filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
    passed += r.numPassedTests;
    failed += r.numFailedTests + suiteErrors;
    skipped += s;
    rows.push(`${dir}: ${r.numPassedTests} passed, ${r.numFailedTests + suiteErrors} failed, ${s} skipped`);
  }
}
if (process.argv.includes('--checks-failed')) {
  failed += 1;
  rows.push('typecheck/lint: failed (see the turbo output above)');
}
console.log(rows.join('\n'));
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
