#!/usr/bin/env bash
# netdx-mux beside a bare C floor (bench/floor_mux.c: one select/poll/epoll_wait with
# timeout 0 between two clock reads, nothing else), same run, ready mode at N = 100, 1000,
# 10000 with K = 1 and K = N, eventfds. Prints both medians, the ratio to the floor, and the
# shape the issue asks for (epoll vs select/poll at N=10,000, K=1; all within 1.5x at K=N).
# Never pass/fail. usage: bench/mux_bench.sh [build-dir] [repeats]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
REPEATS=${2:-5}
BIN=$BUILD/bin
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# K = N rounds make and read N events each (20 ms at N=10,000 here): 100 rounds suffice.
for ((i = 0; i < REPEATS; i++)); do
  for n in 100 1000 10000; do
    "$BIN/floor_mux" "$n" 1 1000 >> "$OUT/floor.txt"
    "$BIN/floor_mux" "$n" "$n" 100 >> "$OUT/floor.txt"
  done
  "$BIN/netdx-mux" -m ready -b select,poll,epoll,uring-multishot -n 100,1000,10000 -k 1 \
    --processes 1 --rounds 1000 --json > "$OUT/netdx-$i.json"
  "$BIN/netdx-mux" -m ready -b select,poll,epoll,uring-multishot -n 100,1000,10000 -k 100% \
    --processes 1 --rounds 100 --warmup 10 --json > "$OUT/netdx-all-$i.json"
done
python3 - "$OUT" "$REPEATS" << 'PY'
import glob, json, statistics, sys
out, repeats = sys.argv[1], int(sys.argv[2])
floor = {}
for line in open(f"{out}/floor.txt"):
    b, n, k, ns = line.split()
    floor.setdefault((b, int(n), int(k)), []).append(float(ns))
netdx = {}
for path in glob.glob(f"{out}/netdx-*.json"):
    for row in json.load(open(path))["ready"]:
        netdx.setdefault((row["backend"], row["fds"], row["active"]), []).append(row["median_ns"])
med = lambda d: {key: statistics.median(v) for key, v in d.items()}
floor, netdx = med(floor), med(netdx)
print(f"== netdx-mux ready mode vs the C floor ({repeats} runs, median of per-run medians, ns per call)")
print(f"  {'backend':<16}{'N':>7}{'K':>7}{'floor':>10}{'netdx':>10}{'ratio':>8}")
for key in sorted(netdx, key=lambda k: (k[1], k[2], k[0])):
    f = floor.get(key)
    ratio = f"{netdx[key] / f:.2f}x" if f else "-"
    print(f"  {key[0]:<16}{key[1]:>7}{key[2]:>7}{f if f else float('nan'):>10.0f}{netdx[key]:>10.0f}{ratio:>8}")
e = netdx.get(("epoll", 10000, 1))
if e:
    for b in ("select", "poll"):
        if (b, 10000, 1) in netdx:
            print(f"  N=10,000 K=1: epoll is {netdx[(b, 10000, 1)] / e:.0f}x cheaper than {b} (goal >= 50x)")
full = [netdx[(b, 10000, 10000)] for b in ("select", "poll", "epoll") if (b, 10000, 10000) in netdx]
if full:
    print(f"  N=K=10,000: select, poll, epoll within {max(full) / min(full):.2f}x of each other (goal <= 1.5x)")
PY
