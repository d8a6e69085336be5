#!/usr/bin/env bash
# netdx-probe and netdx-echo beside the floor and sockperf, same run, interleaved, medians.
# Never pass/fail. usage: bench/probe_bench.sh [build-dir] [repeats] [seconds]
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-5}
SECS=${3:-3}
BIN=$BUILD/bin
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

source "$(dirname "$0")/lib.sh" # median
jq_p50() { python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["p50_ns"])'; }
jq_rate() { python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["count"]/'"$SECS"')'; }
have_sockperf=1
command -v sockperf >/dev/null || { echo "(sockperf not installed: apt-get install sockperf)"; have_sockperf=0; }

ECHO_PORT=""
start_echo() { # starts a netdx-echo with $1 threads (and options $2...); sets ECHO_PORT
  # Not in a $(...) subshell: the pid must reach PIDS here, or cleanup would miss it.
  "$BIN/netdx-echo" --listen 127.0.0.1:0 --threads "$1" "${@:2}" -q --json > /dev/null 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 50); do
    ECHO_PORT=$(ss -Htlnp 2>/dev/null | grep "pid=$pid," | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
    [[ -n $ECHO_PORT ]] && return
    sleep 0.1
  done
  echo "netdx-echo did not start" >&2; exit 1
}

echo "== RTT p50, 64-byte messages, loopback ($REPEATS interleaved runs of ${SECS}s, medians)"
start_echo 1; ECHO1=$ECHO_PORT
start_echo 1 --spin 0; ECHO0=$ECHO_PORT # the same server without its adaptive spin
for proto in tcp udp; do
  floor=(); spin=(); sp=(); nd=(); bp=(); bb=(); n0=()
  flag=""; [[ $proto == udp ]] && flag="--udp"
  for ((i = 0; i < REPEATS; i++)); do
    floor+=("$("$BIN/floor_pingpong" "$proto" 64 100000 | awk '{print $2}')")
    nd+=("$("$BIN/netdx-probe" "127.0.0.1:$ECHO1" $flag -q -d "${SECS}s" --json | jq_p50)")
    bp+=("$("$BIN/netdx-probe" "127.0.0.1:$ECHO1" $flag --busy-poll -q -d "${SECS}s" --json | jq_p50)")
    # Both sides spinning: the C pair, then netdx-probe against a netdx-echo that never
    # sleeps (started and stopped here, so it spins only for its own rows).
    spin+=("$("$BIN/floor_pingpong" "$proto" 64 100000 0 spin | awk '{print $2}')")
    start_echo 1 --busy-poll; ECHOB=$ECHO_PORT; ECHOB_PID=${PIDS[-1]}
    bb+=("$("$BIN/netdx-probe" "127.0.0.1:$ECHOB" $flag --busy-poll -q -d "${SECS}s" --json | jq_p50)")
    kill "$ECHOB_PID"; wait "$ECHOB_PID" 2>/dev/null || true
    n0+=("$("$BIN/netdx-probe" "127.0.0.1:$ECHO0" $flag -q -d "${SECS}s" --json | jq_p50)")
    if ((have_sockperf)); then
      port=$((20000 + RANDOM % 20000))
      spflag=(); [[ $proto == tcp ]] && spflag=(--tcp) # sockperf speaks UDP unless told
      sockperf sr "${spflag[@]}" -i 127.0.0.1 -p "$port" > /dev/null 2>&1 &
      sp_pid=$!
      sleep 0.3
      us=$(sockperf pp "${spflag[@]}" -i 127.0.0.1 -p "$port" -m 64 -t "$SECS" --full-rtt 2>&1 |
           sed 's/\x1b\[[0-9;]*m//g' | awk '/percentile 50.000/ {print $NF}')
      kill "$sp_pid" 2>/dev/null; wait "$sp_pid" 2>/dev/null || true
      sp+=("$(echo "$us * 1000" | bc -l)")
    fi
  done
  F=$(printf '%s\n' "${floor[@]}" | median)
  N=$(printf '%s\n' "${nd[@]}" | median)
  B=$(printf '%s\n' "${bp[@]}" | median)
  Z=$(printf '%s\n' "${n0[@]}" | median)
  SF=$(printf '%s\n' "${spin[@]}" | median)
  BB=$(printf '%s\n' "${bb[@]}" | median)
  printf '  %s %-44s %9.2f us  1.00x\n' "$proto" "floor (C, blocking, client+server)" "$(echo "$F/1000" | bc -l)"
  if ((have_sockperf)); then
    S=$(printf '%s\n' "${sp[@]}" | median)
    printf '  %s %-44s %9.2f us  %.2fx floor\n' "$proto" "sockperf pp --full-rtt vs sockperf sr" "$(echo "$S/1000" | bc -l)" "$(echo "$S/$F" | bc -l)"
  fi
  printf '  %s %-44s %9.2f us  %.2fx floor\n' "$proto" "netdx-probe vs netdx-echo" "$(echo "$N/1000" | bc -l)" "$(echo "$N/$F" | bc -l)"
  printf '  %s %-44s %9.2f us  %.2fx floor\n' "$proto" "netdx-probe --busy-poll vs netdx-echo" "$(echo "$B/1000" | bc -l)" "$(echo "$B/$F" | bc -l)"
  printf '  %s %-44s %9.2f us  %.2fx floor\n' "$proto" "netdx-probe vs netdx-echo --spin 0" "$(echo "$Z/1000" | bc -l)" "$(echo "$Z/$F" | bc -l)"
  printf '  %s %-44s %9.2f us  1.00x\n' "$proto" "spinning floor (C, client+server spin)" "$(echo "$SF/1000" | bc -l)"
  printf '  %s %-44s %9.2f us  %.2fx spinning floor\n' "$proto" "probe --busy-poll vs echo --busy-poll" "$(echo "$BB/1000" | bc -l)" "$(echo "$BB/$SF" | bc -l)"
done

echo
echo "== echo messages/s, 64 bytes, one server thread, netdx-probe as the client (medians of $REPEATS)"
echo "   netdx-echo on each event-loop backend (--backend epoll, poll, uring) beside the C epoll floor"
start_echo 1 --backend poll; ECHOP=$ECHO_PORT
start_echo 1 --backend uring; ECHOU=$ECHO_PORT
FLOOR_PORT_FILE=$(mktemp)
"$BIN/floor_epoll_echo" > "$FLOOR_PORT_FILE" &
PIDS+=($!)
sleep 0.3
FLOOR_PORT=$(head -1 "$FLOOR_PORT_FILE")
for conns in 1 100 10000; do
  f=(); n=(); z=(); pl=(); ur=()
  rate() { "$BIN/netdx-probe" "127.0.0.1:$1" -c "$conns" -t 1 --warmup 500ms -q -d "${SECS}s" --json | jq_rate; }
  for ((i = 0; i < REPEATS; i++)); do
    f+=("$(rate "$FLOOR_PORT")")
    n+=("$(rate "$ECHO1")")
    z+=("$(rate "$ECHO0")")
    pl+=("$(rate "$ECHOP")")
    ur+=("$(rate "$ECHOU")")
  done
  F=$(printf '%s\n' "${f[@]}" | median)
  N=$(printf '%s\n' "${n[@]}" | median)
  Z=$(printf '%s\n' "${z[@]}" | median)
  P=$(printf '%s\n' "${pl[@]}" | median)
  U=$(printf '%s\n' "${ur[@]}" | median)
  printf '  %6d connections: floor epoll echo %8.0f msg/s  netdx-echo %8.0f (%.2fx)  --spin 0 %8.0f (%.2fx)\n' \
    "$conns" "$F" "$N" "$(echo "$N/$F" | bc -l)" "$Z" "$(echo "$Z/$F" | bc -l)"
  printf '  %6s              --backend poll %8.0f (%.2fx)  --backend uring %8.0f (%.2fx)\n' \
    "" "$P" "$(echo "$P/$F" | bc -l)" "$U" "$(echo "$U/$F" | bc -l)"
done
