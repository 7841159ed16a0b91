#!/usr/bin/env bash
# Records the CPU profile that profile-guided optimisation builds with
# (cmd/transformer/default.pgo; cmd/loadgen/default.pgo is a link to it, so
# that the load tool's in-process product is built as the service is). The profile is the
# real server's, under the load generator's realistic batches (1, 100 and
# 1,000 SDK-like events, beacons on). Rerun it after changing the engine or
# the HTTP path, and commit the result:
#
#   scripts/pgo-profile.sh [seconds]        # default 30
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-30}"
work="$(mktemp -d)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -pgo=off -o "$work/transformer" ./cmd/transformer
go build -pgo=off -o "$work/loadgen" ./cmd/loadgen
"$work/transformer" serve -listen 127.0.0.1:18080 -metrics-listen 127.0.0.1:19090 -pprof -log-level error &
server=$!
for _ in $(seq 50); do
  curl -fsS http://127.0.0.1:18080/health >/dev/null 2>&1 && break
  sleep 0.1
done
per=$(( seconds / 3 + 2 ))
"$work/loadgen" -target http://127.0.0.1:18080 -baseline=false -rounds 1 -duration "${per}s" -batches 100,1000,1 >/dev/null &
load=$!
sleep 1
curl -fsS -o "$work/cpu.pprof" "http://127.0.0.1:19090/debug/pprof/profile?seconds=$seconds"
wait "$load"
cp "$work/cpu.pprof" cmd/transformer/default.pgo
echo "wrote cmd/transformer/default.pgo ($(wc -c < "$work/cpu.pprof") bytes; cmd/loadgen/default.pgo links to it)"
