#!/usr/bin/env bash
# Installs the system libraries ttn-migrate builds against (Debian/Ubuntu), when missing, and the tools
# its tests run: openssl and stunnel4 (the TLS tests' CA and front; they fail, not skip, without them).
set -euo pipefail
need=()
for pkg in libcurl4-openssl-dev libsqlite3-dev pkg-config openssl stunnel4; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}"
