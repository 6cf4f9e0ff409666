#!/usr/bin/env bash
# Installs the system libraries ttn-migrate builds against (Debian/Ubuntu), when missing.
set -euo pipefail
need=()
for pkg in libcurl4-openssl-dev libsqlite3-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}"
