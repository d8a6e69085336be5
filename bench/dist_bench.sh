#!/usr/bin/env bash
# Distributed runs on one machine: netdx merge of 1,000 shard files, the --start-at spread of
# three local agents, and striped shards' rate against the rate asked. Medians of repeated
# runs; never pass/fail. usage: bench/dist_bench.sh [build-dir] [repeats]
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-5}
BIN=$BUILD/bin
source "$(dirname "$0")/lib.sh" # median
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

"$BIN/netdx-echo" --listen 127.0.0.1:0 -q --json > /dev/null 2>&1 &
PIDS+=($!)
PORT=""
for _ in $(seq 50); do
  PORT=$(ss -Htlnp 2>/dev/null | grep "pid=${PIDS[0]}," | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
  [[ -n $PORT ]] && break
  sleep 0.1
done

echo "== netdx merge of 1,000 result files (a probe of 100,000 samples copied as 1,000 shards)"
"$BIN/netdx-probe" "127.0.0.1:$PORT" -n 100000 --warmup 0 --run-id bench --json > "$DIR/base.json"
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
doc = json.load(open(f"{d}/base.json"))
for i in range(1000):
    doc["run"]["shard"] = {"index": i, "count": 1000}
    json.dump(doc, open(f"{d}/s{i:04}.json", "w"))
print(f"   {len(doc['histograms'][0]['rtt']['counts'])} non-empty histogram slots per file")
PY
times=() py=()
for _ in $(seq "$REPEATS"); do
  t0=$(date +%s%N); "$BIN/netdx-merge" "$DIR"/s*.json --json > "$DIR/merged.json"; t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000000 )))
  t0=$(date +%s%N); python3 -c 'import json,glob,sys; [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/s*.json")]' "$DIR"; t1=$(date +%s%N)
  py+=($(( (t1 - t0) / 1000000 )))
done
m=$(printf '%s\n' "${times[@]}" | median)
p=$(printf '%s\n' "${py[@]}" | median)
count=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["count"])' "$DIR/merged.json")
echo "   netdx merge: median ${m} ms (goal < 1000 ms); Python's json.load of the same files alone: ${p} ms; ratio $(python3 -c "print(f'{$m/$p:.2f}x')")"
echo "   merged count ${count} (1,000 x 100,000)"

# agents PREFIX RUN_ID DELAY FLOOD_ARGS...: three shards of one flood started together, waited for.
agents() {
  local prefix=$1 run_id=$2 delay=$3 pids=() at
  shift 3
  at=$(python3 -c "import time; print(f'@{time.time() + $delay:.6f}')")
  for i in 0 1 2; do
    "$BIN/netdx-flood" "127.0.0.1:$PORT" "$@" --hold 0 --verify none --shard "$i/3" --run-id "$run_id" --start-at "$at" --json > "$DIR/$prefix$i.json" &
    pids+=($!)
  done
  wait "${pids[@]}"
}

echo "== --start-at spread: three local agents (netdx-flood, 300 connections each)"
spreads=()
for _ in $(seq "$REPEATS"); do
  agents a spread 1.5 -n 900 --rate max
  spreads+=($(python3 - "$DIR" <<'PY'
import json, sys
late = [json.load(open(f"{sys.argv[1]}/a{i}.json"))["run"]["start_lateness_ns"] for i in range(3)]
print((max(late) - min(late)) // 1000)
PY
))
done
echo "   spread of the three real starts: median $(printf '%s\n' "${spreads[@]}" | median) us (goal <= 5000 us); runs: ${spreads[*]}"

echo "== striped shards against the rate asked: 3 agents, 6,000 connections at 3,000/s in all"
ratios=()
for _ in $(seq "$REPEATS"); do
  agents r rate 1.0 -n 6000 --rate 3000/s
  "$BIN/netdx-merge" "$DIR"/r?.json --json > "$DIR/rate-merged.json"
  ratios+=($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["rate_per_s"] / 3000)' "$DIR/rate-merged.json"))
done
echo "   merged connect rate / asked: median $(printf '%s\n' "${ratios[@]}" | median) (goal within 1%); runs: ${ratios[*]}"
