#!/usr/bin/env bash
# netdx-trace beside tcptrace, tshark and a bare libpcap read loop (the floor), on synthetic
# captures written by gen_trace_pcap: 440,000 connections, 3.96M packets, 2,000 open at a
# time, with spread and with clustered addresses. Medians of the runs, wall time including
# process start; peak RSS from /usr/bin/time. Never pass/fail.
# usage: bench/trace_bench.sh [build-dir] [runs] [peer-runs]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${2:-3}
PEER_RUNS=${3:-1}
BIN=$BUILD/bin
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BIN/gen_trace_pcap" "$DIR/spread.pcap" 440000 2000 spread
"$BIN/gen_trace_pcap" "$DIR/clustered.pcap" 440000 2000 clustered
"$BIN/gen_trace_pcap" "$DIR/quarter.pcap" 110000 2000 spread
python3 - "$BIN" "$DIR" "$RUNS" "$PEER_RUNS" << 'PY'
import json, shutil, statistics, subprocess, sys
bin_dir, d, runs, peer_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
packets = 3_960_000
spread, clustered, quarter = f"{d}/spread.pcap", f"{d}/clustered.pcap", f"{d}/quarter.pcap"
trace = f"{bin_dir}/netdx-trace"

def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    secs, kb = r.stderr.strip().splitlines()[-1].split()
    return float(secs), int(kb) * 1024

rows = {}  # label -> (median seconds, peak RSS bytes)
def measure(label, cmd, n):
    out = [timed(cmd) for _ in range(n)]
    rows[label] = (statistics.median(o[0] for o in out), max(o[1] for o in out))

measure("floor: libpcap read loop", [f"{bin_dir}/floor_trace", spread], runs)
measure("netdx-trace (summary)", ["sh", "-c", f"{trace} -r {spread} > /dev/null"], runs)
measure("netdx-trace --ndjson (every record)", ["sh", "-c", f"{trace} -r {spread} --ndjson > /dev/null"], runs)
measure("netdx-trace --zeek (conn.log)", ["sh", "-c", f"{trace} -r {spread} --zeek > /dev/null"], runs)
measure("netdx-trace, clustered addresses", ["sh", "-c", f"{trace} -r {clustered} > /dev/null"], runs)
measure("netdx-trace, a quarter of the file", ["sh", "-c", f"{trace} -r {quarter} > /dev/null"], runs)
if shutil.which("tcptrace"):
    measure("tcptrace -n", ["sh", "-c", f"tcptrace -n {spread} > /dev/null"], peer_runs)
if shutil.which("tshark"):
    measure("tshark -q -z conv,tcp", ["sh", "-c", f"tshark -q -z conv,tcp -r {spread} > /dev/null"], peer_runs)

floor = rows["floor: libpcap read loop"][0]
print(f"\nnetdx-trace bench: {packets:,} packets, 440,000 connections, 2,000 open at a time "
      f"(median of {runs} runs; peers {peer_runs})")
print(f"{'case':42} {'time':>8} {'packets/s':>11} {'peak RSS':>10} {'vs floor':>9}")
for label, (t, rss) in rows.items():
    n = packets // 4 if "quarter" in label else packets
    print(f"{label:42} {t:7.2f}s {n / t / 1e6:9.2f}M/s {rss / 2**20:8.1f}MiB {t / floor:8.2f}x")
net = rows["netdx-trace --ndjson (every record)"][0]
for peer in ("tcptrace -n", "tshark -q -z conv,tcp"):
    if peer in rows:
        print(f"{peer} takes {rows[peer][0] / net:.1f}x as long as netdx-trace --ndjson, "
              f"{rows[peer][0] / rows['netdx-trace (summary)'][0]:.1f}x the summary; "
              f"{rows[peer][1] / rows['netdx-trace --ndjson (every record)'][1]:.0f}x its memory")
doc = json.loads(subprocess.run([trace, "-r", spread, "--json"], stdout=subprocess.PIPE, text=True).stdout)
cap = doc["capture"]
print(f"tracker: {cap['tracker_bytes'] / cap['peak_open']:.0f} bytes per record held "
      f"({cap['peak_open']:,} at the peak: the 2,000 open plus those in their 1 s linger)")
q = rows["netdx-trace, a quarter of the file"][1]
f = rows["netdx-trace (summary)"][1]
print(f"peak RSS: {q / 2**20:.1f}MiB for a quarter of the file, {f / 2**20:.1f}MiB for all of it")
PY
