#!/usr/bin/env python3
"""Runs the netdx-trace fuzz target for a bounded time: seeds made from every fixture
capture (tests/fixtures/trace), then libFuzzer mutating from them.

    run_fuzz.py FUZZER SECONDS WORKDIR
"""
import os
import shutil
import struct
import subprocess
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "trace")
# DLT in the file -> index into the target's kLinks.
LINKS = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 101: 5, 228: 6, 229: 7}


def seed_from_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        return None
    link, = struct.unpack("<I", data[20:24])
    if link not in LINKS:
        return None
    out = bytearray([LINKS[link]])
    off, prev = 24, None
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        us = sec * 1_000_000 + (frac // 1000 if magic == 0xA1B23C4D else frac)
        step = 0 if prev is None else min(max(us - prev, 0), 0xFFFF)
        prev = us
        out += struct.pack("<HH", caplen, step) + data[off + 16:off + 16 + caplen]
        off += 16 + caplen
    return bytes(out)


def main():
    fuzzer, seconds, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seeds = os.path.join(work, "seeds")
    corpus = os.path.join(work, "corpus")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(seeds)
    os.makedirs(corpus)
    n = 0
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".pcap"):
            seed = seed_from_pcap(os.path.join(FIXTURES, name))
            if seed:
                with open(os.path.join(seeds, name + ".bin"), "wb") as f:
                    f.write(seed)
                n += 1
    if n < 8:
        sys.exit(f"run_fuzz.py: only {n} seeds from {FIXTURES}")
    r = subprocess.run([fuzzer, f"-max_total_time={seconds}", "-rss_limit_mb=2048",
                        "-timeout=10", "-max_len=65536", "-print_final_stats=1",
                        f"-artifact_prefix={work}/", corpus, seeds],
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"),
                       timeout=seconds + 120)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
