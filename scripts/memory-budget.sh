#!/usr/bin/env bash
# Peak resident memory of the real binary under concurrent large bodies,
# with the body budget (-body-budget-bytes, a quarter of GOMEMLIMIT by
# default) and, in the same run, without one (a budget far above what the
# clients send), so that the two peaks compare on one machine.
#
#   scripts/memory-budget.sh [clients] [body MiB] [rounds]   (default 32 8 2)
#
# Prints, per run: the statuses seen, the peak RSS (VmHWM) and the bytes the
# budget allowed. Needs: go, curl. Not part of .ci/run (it holds GiBs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
clients=${1:-32} mib=${2:-8} rounds=${3:-2}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/transformer" ./cmd/transformer
# One body of about $mib MiB: a batch of page events with a long property.
python3 - "$mib" > "$work/body.json" <<'PY'
import json, sys
mib = int(sys.argv[1])
ev = {"type": "page", "messageId": "m", "properties": {"pad": "x" * 4000}}
n = mib * (1 << 20) // len(json.dumps(ev))
print(json.dumps({"batch": [ev] * n}))
PY

serve() { # label, extra flags...
	local label=$1; shift
	GOMEMLIMIT=200MiB "$work/transformer" serve -listen 127.0.0.1:0 -max-body-bytes $((16 << 20)) -max-batch-events 100000 "$@" \
		>"$work/$label.log" 2>&1 &
	pid=$!
	local url=""
	for _ in $(seq 100); do
		url=$(grep -o '"addr":"[^"]*"' "$work/$label.log" | head -n1 | sed 's/"addr":"//; s/"//') || true
		[ -n "$url" ] && curl -fsS "http://$url/ready" >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ -n "$url" ] || { echo "memory-budget: the server did not start" >&2; cat "$work/$label.log" >&2; exit 1; }
	: >"$work/$label.codes"
	for _ in $(seq "$rounds"); do
		seq "$clients" | xargs -P "$clients" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
			-H 'Content-Type: application/json' --data-binary @"$work/body.json" \
			"http://$url/transform?destination=demo" >>"$work/$label.codes"
	done
	local hwm budget
	hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
	budget=$(curl -fsS "http://$url/metrics" | awk '/^spotify_transformer_body_budget_bytes / {print $2}')
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	printf '%-10s peak RSS %-12s budget %-12s statuses: %s\n' "$label" "$hwm" "$budget" \
		"$(sort "$work/$label.codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
}

echo "$clients clients × $(($(wc -c <"$work/body.json") >> 20)) MiB bodies × $rounds rounds, GOMEMLIMIT=200MiB"
serve budget
serve unbounded -body-budget-bytes $((64 << 30))
