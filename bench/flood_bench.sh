#!/usr/bin/env bash
# netdx-flood beside the C floor and h2load (Debian's nghttp2-client), same run, medians.
# Never pass/fail. usage: bench/flood_bench.sh [build-dir] [repeats]
#
# Time to N is measured the same way for every client: by the server (netdx-echo, one
# thread, statistics every 5 ms), from the client's launch until the server has counted N
# connections. netdx-flood's own figure (from its first connect) is printed beside it.
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-5}
BIN=$BUILD/bin
N=10000
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
source "$(dirname "$0")/lib.sh" # median
have_h2load=1
command -v h2load > /dev/null || { echo "(h2load not installed: apt-get install nghttp2-client)"; have_h2load=0; }

SERVER_PID=""; SERVER_PORT=""; SERVER_T0=0
start_server() { # netdx-echo streaming its counters; sets SERVER_PORT, SERVER_T0 (ns)
  SERVER_T0=$(date +%s%N)
  "$BIN/netdx-echo" --listen 127.0.0.1:0 --tcp-only --threads 1 --stats-interval 5ms --ndjson \
    > "$WORK/server.ndjson" 2> /dev/null &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    SERVER_PORT=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("type") == "listening": print(d["port"]); break' "$WORK/server.ndjson" 2> /dev/null || true)
    [[ -n $SERVER_PORT ]] && return
    sleep 0.05
  done
  echo "netdx-echo did not start" >&2; exit 1
}
stop_server() { kill "$SERVER_PID" 2> /dev/null || true; wait "$SERVER_PID" 2> /dev/null || true; }
# Seconds from $1 (client launch, ns) until the server counted N connections; and the most
# it ever counted (an overshoot shows as more than N).
server_time_to_n() {
  python3 - "$WORK/server.ndjson" "$SERVER_T0" "$1" "$N" << 'PY'
import json, sys
path, t0, launch, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
first, most = None, 0
for line in open(path):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("type") != "stats":
        continue
    most = max(most, d["connections_total"])
    if first is None and d["connections_total"] >= n:
        first = (t0 + d["elapsed_ns"] - launch) / 1e9
print(f"{first if first is not None else 'nan'} {most}")
PY
}
measure() { # the client command (given the port last); prints "seconds most-counted"
  start_server
  sleep 0.2
  local launch; launch=$(date +%s%N)
  "$@" "$SERVER_PORT" > "$WORK/client.out" 2>&1 || true
  sleep 0.1
  stop_server
  server_time_to_n "$launch"
}
run_netdx() { "$BIN/netdx-flood" "127.0.0.1:$1" -n "$N" --hold 0 --json > "$WORK/flood.json"; }
run_floor() { "$BIN/floor_connect" "$1" "$N"; }
run_h2load() { h2load -c "$N" -n "$N" -t 1 "http://127.0.0.1:$1/"; }

echo "== time to $N connections, rate max, loopback, one netdx-echo thread as the server ($REPEATS interleaved runs, medians)"
declare -A T OVER
self=()
for ((i = 0; i < REPEATS; i++)); do
  for tool in floor netdx h2load; do
    [[ $tool == h2load && $have_h2load == 0 ]] && continue
    read -r t most < <(measure "run_$tool")
    T[$tool]+="$t "
    OVER[$tool]+="$((most - N)) "
    [[ $tool == netdx ]] && self+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["time_to_100_ns"]/1e9)' "$WORK/flood.json")")
  done
done
F=$(tr ' ' '\n' <<< "${T[floor]}" | grep . | median)
for tool in floor netdx h2load; do
  [[ -z ${T[$tool]:-} ]] && continue
  M=$(tr ' ' '\n' <<< "${T[$tool]}" | grep . | median)
  O=$(tr ' ' '\n' <<< "${OVER[$tool]}" | grep . | sort -n | tail -1)
  printf '  %-44s %8.3f s  %5.2fx floor   server counted at most N%+d\n' \
    "$tool$([[ $tool == floor ]] && echo ' (C, epoll, 1000 in flight)')" "$M" "$(echo "$M/$F" | bc -l)" "$O"
done
S=$(printf '%s\n' "${self[@]}" | median)
printf '  %-44s %8.3f s  (first connect to last handshake)\n' "netdx-flood's own time to 100%" "$S"

echo
echo "== paced ramps: achieved rate vs asked, connect latency (netdx-flood, embedded sink, medians of $REPEATS)"
for rate in 1000 5000 20000; do
  r=(); p50=(); p99=()
  for ((i = 0; i < REPEATS; i++)); do
    out=$("$BIN/netdx-flood" -n "$N" --rate "$rate/s" --hold 0 --json)
    r+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["rate_per_s"])' <<< "$out")")
    p50+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["connect_p50_ns"]/1e3)' <<< "$out")")
    p99+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["connect_p99_ns"]/1e3)' <<< "$out")")
  done
  R=$(printf '%s\n' "${r[@]}" | median)
  printf '  asked %6d/s: achieved %9.1f/s (%+.2f%%)  connect p50 %7.1f us  p99 %8.1f us\n' "$rate" "$R" \
    "$(echo "($R/$rate - 1)*100" | bc -l)" "$(printf '%s\n' "${p50[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)"
done

echo
echo "== held connections: one command, workers and sink processes chosen by netdx-flood (one run each)"
for n in 60000 100000; do
  extra=(); [[ $n -gt 60000 ]] && extra=(--source 127.0.0.2-127.0.0.5)
  out=$("$BIN/netdx-flood" -n "$n" "${extra[@]}" --hold 2s --json || true)
  python3 - "$n" "${extra[*]:-}" << PY
import json, sys
d = json.loads('''$out''')
r, f = d["result"], d["flood"]
print(f"  {int(sys.argv[1]):>7,} {sys.argv[2]:<30} established {r['established']:,} in {r['time_to_100_ns']/1e9:.2f} s, "
      f"{f['processes']} workers + {f.get('sink_processes', 0)} sink processes, "
      f"{r['memory_per_conn_bytes']} B user memory per connection")
PY
done
