#!/usr/bin/env bash
# Engine throughput as a ratio of the gjson.Valid baseline over the same
# bytes, measured in alternating rounds (one round = both benchmarks, back to
# back) so that a shared machine's noise hits both sides alike. Prints each
# round (with the engine's own validator, jsonscan.Check, for reference) and
# the median ratio. Without PGO set, the engine is built without
# profile-guided optimisation (the service is built with it: ~9% faster).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
bin="$(mktemp -d)/spotify.bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
# PGO=cmd/transformer/default.pgo builds the engine as the service is built.
go test -pgo="${PGO:-off}" -c -o "$bin" ./internal/spotify >/dev/null
ratios=()
for i in $(seq "$rounds"); do
  out=$("$bin" -test.run '^$' -test.bench 'BenchmarkTransform$|BenchmarkValidate$|BenchmarkCheck$' -test.benchmem -test.benchtime 2s)
  t=$(awk '/^BenchmarkTransform-/{for(i=1;i<=NF;i++) if($(i+1)=="MB/s") print $i}' <<<"$out")
  v=$(awk '/^BenchmarkValidate-/{for(i=1;i<=NF;i++) if($(i+1)=="MB/s") print $i}' <<<"$out")
  c=$(awk '/^BenchmarkCheck-/{for(i=1;i<=NF;i++) if($(i+1)=="MB/s") print $i}' <<<"$out")
  allocs=$(awk '/^BenchmarkTransform-/{for(i=1;i<=NF;i++) if($(i+1)=="allocs/event") print $i}' <<<"$out")
  r=$(awk -v t="$t" -v v="$v" 'BEGIN{printf "%.3f", t/v}')
  ratios+=("$r")
  echo "round $i: engine $t MB/s, gjson.Valid $v MB/s, ratio $r, allocs/event $allocs (jsonscan.Check $c MB/s)"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "median engine/baseline MB/s ratio over $rounds rounds: $median"
