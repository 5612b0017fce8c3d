#!/usr/bin/env bash
# The main job: four sample cameras (the committed test clips played as cameras: holes at different
# times, one starting 20 s late, one H.265) recorded continuously into ./data (formatted on the first
# run), and played back in sync in the browser at http://127.0.0.1:8080. Ctrl-C stops cleanly (open
# blocks flushed durably); run it again and the recordings continue in the same rings.
#   PORT=8081 npm start
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
exec node apps/cli/bin/valkka.js serve --record apps/demo-web/sample-cameras.json --port "${PORT:-8080}"
