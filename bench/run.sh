#!/usr/bin/env bash
# Benchmarks: netdx beside the floor (and peers, as tools land), same run, medians of
# repeated runs, ratios printed. Never pass/fail. usage: bench/run.sh [build-dir] [repeats]
# Runs every benchmark: the histogram here, then probe_bench.sh (probe, echo, sockperf) and
# flood_bench.sh (flood, h2load), states_bench.sh (states, ss; root) and mux_bench.sh (mux).
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-7}
BIN=$BUILD/bin

source "$(dirname "$0")/lib.sh" # median
field() { awk -v k="$1" '{for (i=1;i<=NF;i++) if ($i==k) print $(i+1)}'; }

echo "== histogram record (20M samples, $REPEATS runs, medians)"
floor=(); netdx=(); sorting=(); query=()
for ((i = 0; i < REPEATS; i++)); do
  f=$("$BIN/floor_histogram")
  n=$("$BIN/histogram_bench")
  floor+=("$(echo "$f" | field floor_record_ns)")
  netdx+=("$(echo "$n" | field netdx_record_ns)")
  sorting+=("$(echo "$n" | field keep_and_sort_ns)")
  query+=("$(echo "$n" | field percentile_query_ns)")
done
F=$(printf '%s\n' "${floor[@]}" | median)
N=$(printf '%s\n' "${netdx[@]}" | median)
S=$(printf '%s\n' "${sorting[@]}" | median)
Q=$(printf '%s\n' "${query[@]}" | median)
printf '%-40s %8.2f ns/sample\n' "floor (C, log2 buckets, ~50% error)" "$F"
printf '%-40s %8.2f ns/sample  (%.2fx floor)\n' "netdx Histogram::record (0.1% error)" "$N" "$(echo "$N / $F" | bc -l)"
printf '%-40s %8.2f ns/sample  (%.2fx netdx)\n' "keep every sample + sort" "$S" "$(echo "$S / $N" | bc -l)"
printf '%-40s %8.0f ns/query\n' "netdx percentile query" "$Q"

echo
"$(dirname "$0")/probe_bench.sh" "$BUILD" "$REPEATS" 3
echo
"$(dirname "$0")/flood_bench.sh" "$BUILD" "$REPEATS"
"$(dirname "$0")/flood_held.sh" "$BUILD" 200000 # the million: bench/flood_held.sh build 1000000
echo
"$(dirname "$0")/states_bench.sh" "$BUILD" "$REPEATS"
echo
"$(dirname "$0")/mux_bench.sh" "$BUILD" "$REPEATS"
echo
"$(dirname "$0")/trace_bench.sh" "$BUILD" 3 1
