#!/usr/bin/env bash
# The main job on a fresh machine: install the system libraries, build, and run the demo (the example
# estate migrated between the built-in v2 and v3 simulators). Arguments go to `ttn-migrate demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build
exec ./.build/debug/ttn-migrate demo "$@"
