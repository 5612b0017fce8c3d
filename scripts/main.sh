#!/usr/bin/env bash
# The main job on the embedded default. Until the web demo exists: format a ValkkaFS under ./data
# (once), record the sample clip into it, and show what it holds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
source scripts/env.sh
valkka() { node apps/cli/bin/valkka.js "$@"; }
valkka --help
