#!/usr/bin/env bash
# Runs every test of every package and ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test || { echo "0 passed, 1 failed"; exit 1; }
source scripts/env.sh
rm -rf .test-results && mkdir -p .test-results
# Types and lint first: a package that does not typecheck fails the run even when its tests pass.
pnpm exec turbo run typecheck lint --output-logs=errors-only
checks=$?
pnpm exec turbo run test --concurrency=2 --continue --output-logs=full
rc=$?
# A failed typecheck or lint counts as one failed test in the closing line.
node scripts/test-summary.mjs $([ $checks -eq 0 ] || echo --checks-failed) || rc=1
exit $rc
