#!/usr/bin/env bash
# CI entry point of deploy/edge: installs the pinned packages (npm ci), makes
# sure a Chromium is there for the browser tests (Debian's package, installed
# only when missing), builds the real Go transformer and runs every test.
# Exits non-zero when a test fails. Needs Node >= 20.19, npm, Go.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)

have_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then [ -x "$CHROMIUM_PATH" ]; else [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; fi
}
if ! have_chromium; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
    echo "=== installing Debian's chromium for the browser tests"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; }; then
      echo "WARNING: chromium could not be installed; the browser emitter tests will be skipped" >&2
    fi
  else
    echo "WARNING: no chromium and no way to apt-get it; the browser emitter tests will be skipped" >&2
  fi
fi

echo "=== npm ci"
npm ci --no-audit --no-fund
echo "=== npm test"
npm test
echo "=== deploy/edge: all tests passed in $(( $(date +%s) - start )) s"
