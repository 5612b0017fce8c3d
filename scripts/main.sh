#!/usr/bin/env bash
# The main job on the embedded default, until the web demo exists: two sample cameras (the
# committed test clips, played as cameras) recorded for a while into one ValkkaFS each under
# ./data, then what the filesystems hold. Run it again and recording continues in the same rings.
#   SECONDS_TO_RECORD=60 npm start
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
valkka() { node apps/cli/bin/valkka.js "$@"; }

clips=packages/threads/test/fixtures
seconds=${SECONDS_TO_RECORD:-20}
cameras=("1:$clips/h264-baseline-gop1s.h264" "2:$clips/h264-high-gop2s.h264")

for camera in "${cameras[@]}"; do
  id=${camera%%:*}
  dir=data/cam$id
  [ -f "$dir/valkkafs.json" ] || valkka init "$dir" --blocksize 256KiB --blocks 400
done

echo "recording ${#cameras[@]} sample cameras for ${seconds} s into ./data ..."
pids=()
for camera in "${cameras[@]}"; do
  id=${camera%%:*}
  valkka record "data/cam$id" --source "${camera#*:}" --id "$id" --duration "$seconds" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

for camera in "${cameras[@]}"; do
  echo
  valkka info "data/cam${camera%%:*}"
done
echo
echo "Inspect further with: npx valkka --help (blocks, dump-block, check ...)"
