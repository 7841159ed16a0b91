#!/usr/bin/env bash
# Installs Debian's prometheus package (the prometheus server and promtool)
# for the rule unit tests and the real-Prometheus test in deploy/. Does
# nothing when both binaries are already on PATH; needs root or sudo otherwise.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "prometheus and promtool are installed: $(prometheus --version 2>&1 | head -n1)"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus
# The package starts a system service where an init system runs; the tests
# start their own server and need nothing from it.
prometheus --version 2>&1 | head -n1
promtool --version 2>&1 | head -n1
