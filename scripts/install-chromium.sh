#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (the playground page in
# cmd/transformer, the browser emitter in deploy/edge). Does nothing when a
# Chromium is already there (CHROMIUM_PATH, or Debian's /usr/bin/chromium);
# needs root or sudo otherwise.
set -euo pipefail
for c in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then
    echo "chromium is installed: $("$c" --version 2>/dev/null | head -n1)"
    exit 0
  fi
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version 2>/dev/null | head -n1
