#!/usr/bin/env bash
# netdx-states beside ss and a bare netlink count (the floor), on the same population in a
# network namespace this script creates: TIME-WAIT from netdx-flood and CLOSE-WAIT held by
# tests/cli/population.py. Medians of interleaved runs, wall time including process start.
# Never pass/fail. Needs root (ip netns). usage: bench/states_bench.sh [build-dir] [repeats]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
REPEATS=${2:-7}
BIN=$BUILD/bin
HERE=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) == 0 ]] || { echo "(states bench needs root for ip netns: skipped)"; exit 0; }
NS=netdx-states-bench-$$
FIFO=$(mktemp -u)
PIDS=()
cleanup() {
  exec 3>&- 2> /dev/null || true # population.py exits when its stdin closes
  for p in "${PIDS[@]:-}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -f "$FIFO"
  ip netns del "$NS" 2> /dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.tcp_max_tw_buckets=262144

measure() { # $1 = label for the population
  ip netns exec "$NS" python3 - "$REPEATS" "$BIN" "$1" << 'PY'
import statistics, subprocess, sys, time
repeats, bin_dir, label = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sh = lambda c: ["sh", "-c", c]
cases = [
    ("floor: bare netlink count, time-wait", [f"{bin_dir}/floor_sockdiag_count", str(1 << 6)]),
    ("netdx-states -s time-wait", [f"{bin_dir}/netdx-states", "-s", "time-wait", "--json"]),
    ("ss -tan state time-wait | wc -l", sh("ss -tan state time-wait | wc -l")),
    ("netdx-states (summary by state)", [f"{bin_dir}/netdx-states", "--json"]),
    ("ss -tan | awk | sort | uniq -c (by state)", sh("ss -Htan | awk '{print $1}' | sort | uniq -c")),
    ("netdx-states -s time-wait -g raddr,rport", [f"{bin_dir}/netdx-states", "-s", "time-wait", "-g", "raddr,rport", "--json"]),
    ("ss state time-wait | awk | sort | uniq -c", sh("ss -Htan state time-wait | awk '{print $4}' | sort | uniq -c")),
    ("netdx-states -s close-wait -g process", [f"{bin_dir}/netdx-states", "-s", "close-wait", "-g", "process", "--json"]),
    ("ss -tanp state close-wait (owners)", sh("ss -Htanp state close-wait | wc -l")),
]
times = {name: [] for name, _ in cases}
for _ in range(repeats):
    for name, cmd in cases:
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append((time.perf_counter() - t0) * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
floor = med[cases[0][0]]
print(f"== {label} ({repeats} interleaved runs, median wall ms, process start included)")
for name, _ in cases:
    print(f"  {name:<44} {med[name]:8.1f} ms  {med[name] / floor:5.2f}x floor")
print(f"  netdx grouping vs the ss|awk|sort|uniq pipeline: by state "
      f"{med[cases[4][0]] / med[cases[3][0]]:.1f}x faster, by peer {med[cases[6][0]] / med[cases[5][0]]:.1f}x faster")
PY
}

# Population 1: ~19,000 TIME-WAIT and 2,000 CLOSE-WAIT (the issue's ss figures). The echo
# server runs 6 processes: the floods below hold up to 81,000 connections at once.
ip netns exec "$NS" "$BIN/netdx-echo" --listen 127.0.0.1:7100 --tcp-only --processes 6 -q > /dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
ip netns exec "$NS" "$BIN/netdx-flood" 127.0.0.1:7100 -n 19000 --source 127.0.0.1-127.0.0.2 --hold 0 -q > /dev/null
mkfifo "$FIFO"
ip netns exec "$NS" python3 "$HERE/../tests/cli/population.py" 0 2000 0 < "$FIFO" > "$FIFO.out" &
PIDS+=($!)
exec 3> "$FIFO"
for _ in $(seq 100); do grep -q ready "$FIFO.out" 2> /dev/null && break; sleep 0.1; done
rm -f "$FIFO.out"
measure "$(ip netns exec "$NS" "$BIN/floor_sockdiag_count") sockets: ~19,000 TIME-WAIT + 2,000 CLOSE-WAIT + 2,000 orphans"

# Population 2: ~100,000 TIME-WAIT (6 more source addresses).
ip netns exec "$NS" "$BIN/netdx-flood" 127.0.0.1:7100 -n 81000 --source 127.0.0.3-127.0.0.8 --hold 0 -q > /dev/null
measure "$(ip netns exec "$NS" "$BIN/floor_sockdiag_count") sockets: ~100,000 TIME-WAIT + 2,000 CLOSE-WAIT"
