#!/usr/bin/env bash
# Held connections at scale, one netdx-flood command each, every connection counted on the
# server's side before it closes: the README's held-connections table, up to a million.
# Never pass/fail. usage: bench/flood_held.sh [build-dir] [largest N: 60000 ... 1000000]
#
# Each row waits for the machine's TIME-WAIT to drain first (ports held by the previous
# row would slow connect()'s port search and skew the next time to N).
set -euo pipefail
BUILD=${1:-build}
MAX=${2:-1000000}
BIN=$BUILD/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ulimit -n "$(ulimit -Hn)"

time_wait() { awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "tw") print $(i + 1)}' /proc/net/sockstat; }

printf '%-52s %-12s %-10s %-9s %-8s %-9s %s\n' "command" "established" "time to N" "check" "close" "procs" "mem/conn"
for args in "-n 60000" "-n 100000 --source 127.0.0.2-127.0.0.5" "-n 200000 --source 127.0.0.2-127.0.0.9" \
            "-n 500000 --source 127.0.0.2-127.0.0.33" "-n 1000000"; do
  n=$(echo "$args" | awk '{print $2}')
  ((n <= MAX)) || continue
  while (($(time_wait) > 1000)); do sleep 5; done
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN/netdx-flood" $args --hold 1s --json > "$WORK/out.json" || true
  python3 - "$args" "$WORK/out.json" "$WORK/time" <<'PY'
import json, sys
args, out, t = sys.argv[1:4]
d = json.load(open(out)); r = d["result"]; f = d["flood"]
wall, rss = open(t).read().split()
print(f"{'netdx-flood ' + args:<52} {r['established']:<12,} {r['time_to_100_ns'] / 1e9:<10.2f} "
      f"{r.get('check_ns', 0) / 1e6:<9.0f} {r['close_ns'] / 1e9:<8.1f} "
      f"{str(f['processes']) + '+' + str(f.get('sink_processes', 0)):<9} "
      f"{r.get('memory_per_conn_bytes')} B   (wall {wall} s, largest process {int(rss) // 1024} MB)")
PY
done
