#!/usr/bin/env bash
# netdx-probe and netdx-echo beside the floor and sockperf, same run, interleaved, medians.
# Never pass/fail. usage: bench/probe_bench.sh [build-dir] [repeats] [seconds] [rtt|echo|all]
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-5}
SECS=${3:-3}
PART=${4:-all}
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

if [[ $PART != echo ]]; then
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

fi

[[ $PART == rtt ]] && exit 0
echo
echo "== echo messages/s, 64 bytes, one server thread, netdx-probe as the client (medians of $REPEATS)"
echo "   netdx-echo on each backend beside the C floors: epoll (readiness) and io_uring (completions)"
start_echo 1; ECHO1=$ECHO_PORT
start_echo 1 --spin 0; ECHO0=$ECHO_PORT
start_echo 1 --backend poll; ECHOP=$ECHO_PORT
start_echo 1 --backend uring; ECHOU=$ECHO_PORT
start_echo 1 --backend uring-oneshot; ECHOUP=$ECHO_PORT
floor_port() { # starts a floor server $1; sets FLOOR_PORT
  local file
  file=$(mktemp)
  "$BIN/$1" > "$file" &
  PIDS+=($!)
  for _ in $(seq 50); do
    FLOOR_PORT=$(head -1 "$file")
    [[ -n $FLOOR_PORT ]] && { rm -f "$file"; return; }
    sleep 0.1
  done
  echo "$1 did not start" >&2; exit 1
}
floor_port floor_epoll_echo; FLOOR_EPOLL=$FLOOR_PORT
floor_port floor_uring_echo; FLOOR_URING=$FLOOR_PORT
ulimit -n "$(ulimit -Hn)" # 10,000 connections
for conns in 1 100 10000; do
  f=(); fu=(); n=(); z=(); pl=(); ur=(); up=()
  rate() { "$BIN/netdx-probe" "127.0.0.1:$1" -c "$conns" -t 1 --warmup 500ms -q -d "${SECS}s" --json | jq_rate; }
  for ((i = 0; i < REPEATS; i++)); do
    f+=("$(rate "$FLOOR_EPOLL")")
    fu+=("$(rate "$FLOOR_URING")")
    n+=("$(rate "$ECHO1")")
    z+=("$(rate "$ECHO0")")
    pl+=("$(rate "$ECHOP")")
    ur+=("$(rate "$ECHOU")")
    up+=("$(rate "$ECHOUP")")
  done
  F=$(printf '%s\n' "${f[@]}" | median)
  FU=$(printf '%s\n' "${fu[@]}" | median)
  N=$(printf '%s\n' "${n[@]}" | median)
  Z=$(printf '%s\n' "${z[@]}" | median)
  P=$(printf '%s\n' "${pl[@]}" | median)
  U=$(printf '%s\n' "${ur[@]}" | median)
  UP=$(printf '%s\n' "${up[@]}" | median)
  x() { echo "$1/$F" | bc -l; }
  printf '  %6d connections: C epoll floor %8.0f msg/s   C io_uring floor %8.0f (%.2fx)\n' \
    "$conns" "$F" "$FU" "$(x "$FU")"
  printf '  %6s   netdx-echo epoll %8.0f (%.2fx)  --spin 0 %8.0f (%.2fx)  poll %8.0f (%.2fx)\n' \
    "" "$N" "$(x "$N")" "$Z" "$(x "$Z")" "$P" "$(x "$P")"
  printf '  %6s   netdx-echo uring (completions) %8.0f (%.2fx)  uring-oneshot (readiness) %8.0f (%.2fx)\n' \
    "" "$U" "$(x "$U")" "$UP" "$(x "$UP")"
done
