#!/usr/bin/env bash
# Smoke test of what the container image runs, without a container engine:
# builds the binary with scripts/build.sh (the Dockerfile's build command),
# serves the destinations file the image ships (deploy/destinations.example.yaml),
# then checks /ready, `transformer healthcheck` (the image's HEALTHCHECK),
# one POST /transform and a clean exit 0 on SIGTERM.
#
# Needs: go, curl. Exits non-zero with a message on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEST_FILE=deploy/destinations.example.yaml
work=$(mktemp -d)
bin="$work/transformer"
log="$work/serve.log"
pid=""

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "container-smoke: FAIL: $*" >&2
	if [ -s "$log" ]; then
		echo "--- last lines of the server log:" >&2
		tail -n 30 "$log" >&2
	fi
	exit 1
}
step() { echo "container-smoke: $*"; }

command -v curl >/dev/null || fail "curl is not installed"
[ -f "$DEST_FILE" ] || fail "$DEST_FILE is missing"

# A free loopback port: the first one nothing answers on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Nothing from this shell's environment may change what is tested.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^TRANSFORMER_' || true)

step "building with scripts/build.sh"
VERSION=smoke COMMIT=smoke0000 OUT="$bin" ./scripts/build.sh || fail "scripts/build.sh failed"
version_out=$("$bin" version) || fail "transformer version failed"
case "$version_out" in
*smoke*) step "version: $version_out" ;;
*) fail "transformer version does not show the VERSION given to scripts/build.sh: $version_out" ;;
esac

port=$(free_port) || fail "no free port found"
addr="127.0.0.1:$port"
dest_id=$(grep -m1 -E '^[A-Za-z0-9_.-]+:' "$DEST_FILE" | cut -d: -f1)
[ -n "$dest_id" ] || fail "no destination id found in $DEST_FILE"

step "starting: transformer serve -listen $addr -destinations $DEST_FILE"
"$bin" serve -listen "$addr" -destinations "$DEST_FILE" >"$log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 100); do
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" && rc=0 || rc=$?
		pid=""
		fail "transformer serve exited with status $rc before it was ready"
	}
	if curl -fsS -o /dev/null --max-time 2 "http://$addr/ready" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.2
done
[ -n "$ready" ] || fail "GET http://$addr/ready did not answer 200 within 20s"
step "ready"

curl -fsS -o /dev/null --max-time 2 "http://$addr/health" || fail "GET /health did not answer 200"
"$bin" healthcheck -addr "$addr" || fail "transformer healthcheck -addr $addr exited non-zero against a healthy server"
step "healthcheck ok"

batch='{"batch":[{"type":"track","event":"Order Completed","messageId":"smoke-1","userId":"u1","properties":{"order_id":"o1","revenue":10,"currency":"USD"}}]}'
resp=$(curl -sS --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
	--data "$batch" "http://$addr/transform?destination=$dest_id") || fail "POST /transform: curl failed"
code=${resp##*$'\n'}
body=${resp%$'\n'*}
[ "$code" = 200 ] || fail "POST /transform?destination=$dest_id answered HTTP $code: $body"
grep -q '"results"' <<<"$body" || fail "POST /transform answered 200 without \"results\": $body"
step "POST /transform?destination=$dest_id: 200 with results"

step "SIGTERM"
kill -TERM "$pid"
exited=""
for _ in $(seq 1 150); do
	if ! kill -0 "$pid" 2>/dev/null; then
		exited=1
		break
	fi
	sleep 0.2
done
[ -n "$exited" ] || fail "transformer did not exit within 30s of SIGTERM"
wait "$pid" && rc=0 || rc=$?
pid=""
[ "$rc" = 0 ] || fail "transformer exited with status $rc after SIGTERM, want 0"

if "$bin" healthcheck -addr "$addr" >/dev/null 2>&1; then
	fail "transformer healthcheck exits 0 with no server on $addr"
fi

echo "container-smoke: PASS"
