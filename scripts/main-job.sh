#!/usr/bin/env bash
# The main job: the tool against the built-in simulators (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
exec ./.build/debug/ttn-migrate demo "$@"
