#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (Chromium for the
# tracker and dashboard tests). Skips what is already there; needs root or sudo.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "amtspuls: please install: ${need[*]} (browser tests will be skipped)" >&2; exit 0
fi
echo "amtspuls: installing ${need[*]} …" >&2
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || echo "amtspuls: could not install ${need[*]} (browser tests will be skipped)" >&2
