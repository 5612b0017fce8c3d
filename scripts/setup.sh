#!/usr/bin/env bash
# Installs everything this repository needs on a Debian machine that has Node 20 and npm:
# Debian packages (when root), pnpm at a pinned version, npm packages, the native addon, and a build.
#   scripts/setup.sh [demo|test]   (test also installs what the test suites drive: gdisk, chromium, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-demo}

PNPM_VERSION=10.34.8
DEBIAN_DEMO=(ffmpeg)
DEBIAN_TEST=(ffmpeg gdisk fdisk util-linux fio python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly chromium nats-server)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

install_debian_packages() {
  local wanted=("$@") missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "not root: cannot install ${missing[*]}; suites that need them will print SKIPPED"
    return 0
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$purpose" = test ]; then install_debian_packages "${DEBIAN_TEST[@]}"; else install_debian_packages "${DEBIAN_DEMO[@]}"; fi

if [ "$(.tools/node_modules/.bin/pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  log "installing pnpm $PNPM_VERSION into .tools/"
  npm install --prefix .tools --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >/dev/null
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
export TURBO_TELEMETRY_DISABLED=1 CI=${CI:-true}

log "pnpm install"
pnpm install --frozen-lockfile --reporter=silent
log "build"
pnpm exec turbo run build --output-logs=errors-only >&2
