# Sourced by the scripts: the pinned pnpm from .tools/ first on PATH.
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node_modules/.bin:$PATH"
export TURBO_TELEMETRY_DISABLED=1
true
