"""Every example in the README's "Using it" block, run: a README example that fails is a bug.

Each one runs in a network namespace of its own, with what it talks to started there
("host" is 127.0.0.1 with a netdx-echo on the port the example names; the capture files
are copies of a fixture; eth0 is a veth the test makes). Only what would run for minutes is
bounded (a --hold of a minute, a --watch without end, a live capture), and the EXAMPLES
table below says so line by line. The table must list exactly the README's lines: a new
example without a test fails here, and so does a test of an example no longer there."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from netdx_test import BIN, BUILD, FIXTURES, SOURCE, TIMEOUT, require_program, require_root

README = os.path.join(SOURCE, "README.md")
PCAP = os.path.join(FIXTURES, "trace", "en10mb.pcap")


def readme_examples():
    text = open(README).read()
    block = text.split("## Using it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]


# README line -> (what runs instead, exit codes accepted, servers: [(port, extra netdx-echo args)],
#                 check on the output). Only bounds and "host" differ from the README.
EXAMPLES = {
    "netdx doctor": ("netdx doctor", {0}, [], None),
    "netdx doctor --json | jq '.machine[] | select(.status == \"warn\")'":
        ("netdx doctor --json | jq '.machine[] | select(.status == \"warn\")'", {0}, [], None),
    "netdx doctor --fail-if 'warnings>0'": ("netdx doctor --fail-if 'warnings>0'", {0, 1}, [], None),
    "netdx tour": ("netdx tour", {0}, [], None),
    "netdx probe": ("netdx probe", {0}, [], "round trips (RTT)"),
    "netdx probe --udp --size 64,1KiB,64KiB": ("netdx probe --udp --size 64,1KiB,64KiB", {0}, [], "65,507"),
    "netdx probe host:7 --rate 10k/s --poisson":
        ("netdx probe 127.0.0.1:7 --rate 10k/s --poisson", {0}, [(7, [])], "uncorrected"),
    "netdx probe host:443 --connect --rate 50/s":
        ("netdx probe 127.0.0.1:443 --connect --rate 50/s", {0}, [(443, ["--tcp-only"])], "connect()"),
    "netdx probe host:7 --fail-if 'p99>500us' --fail-if 'errors>0'":
        ("netdx probe 127.0.0.1:7 --fail-if 'p99>500us' --fail-if 'errors>0'", {0, 1}, [(7, [])], "Checks"),
    "netdx flood -n 10000": ("netdx flood -n 10000", {0}, [], "10,000"),
    "netdx flood host:8080 -n 20000 --rate 5k/s --hold 1m --interval 1s":
        ("netdx flood 127.0.0.1:8080 -n 20000 --rate 5k/s --hold 2s --interval 1s", {0},
         [(8080, ["--tcp-only", "--processes", "2"])], "20,000"),
    "netdx flood 127.0.0.1:7007 -n 100000 --source 127.0.0.2-127.0.0.5":
        ("netdx flood 127.0.0.1:7007 -n 100000 --source 127.0.0.2-127.0.0.5", {0},
         [(7007, ["--tcp-only", "--processes", "7"])], "100,000"),
    "netdx states": ("netdx states", {0}, [(7, [])], "Sockets by state"),
    "netdx states -s close-wait -g process,raddr": ("netdx states -s close-wait -g process,raddr", {0}, [], None),
    "netdx states --explain": ("netdx states --explain", {0, 1}, [], None),
    "netdx states --watch 2s -s close-wait -g process":
        ("netdx states --watch 2s -s close-wait -g process --ticks 2", {0}, [], None),
    "netdx mux --quick": ("netdx mux --quick", {0}, [], "epoll"),
    "netdx mux -m ready -n 100,1000,10000 -k 1 --plot mux.svg":
        ("netdx mux -m ready -n 100,1000,10000 -k 1 --plot mux.svg", {0}, [], None),
    "netdx mux -m wakeup -b poll,epoll,uring-multishot":
        ("netdx mux -m wakeup -b poll,epoll,uring-multishot", {0}, [], "wakeup"),
    "netdx trace --demo": ("netdx trace --demo", {0}, [], "REJ"),
    "netdx trace -r web.pcap": ("netdx trace -r web.pcap", {0}, [], "Connections"),
    "netdx trace -i eth0 -Z nobody --ladder=REJ port 8080":
        ("netdx trace -i eth0 -Z nobody --ladder=REJ port 8080 --duration 1s", {0}, [], "Capture"),
    "netdx trace -r big.pcap --zeek > conn.log": ("netdx trace -r big.pcap --zeek > conn.log", {0}, [], None),
    "netdx trace -r ci.pcap --fail-if 'rst>0' --fail-if 'handshake_p99>1ms'":
        ("netdx trace -r ci.pcap --fail-if 'rst>0' --fail-if 'handshake_p99>1ms'", {1}, [], "FAIL"),
    # One agent of three; its instant is in the future here, not at the README's date.
    "netdx flood host:6379 -n 3000 --rate 3k/s --shard 0/3 --run-id r1 --start-at 2026-12-02T09:00:00Z --json > a0.json":
        ("netdx flood 127.0.0.1:6379 -n 3000 --rate 3k/s --shard 0/3 --run-id r1 --start-at +1s --json > a0.json"
         " && jq -e '.result.established == 1000 and .run.shard.count == 3' a0.json", {0},
         [(6379, ["--tcp-only"])], "true"),
    # The three agents' files made first, started together.
    "netdx merge a0.json a1.json a2.json --fail-if 'established<3000'":
        ("at=$(date -d +2sec +%s); for i in 0 1 2; do netdx flood 127.0.0.1:6379 -n 3000 --rate 3k/s"
         " --shard $i/3 --run-id r1 --start-at @$at --json > a$i.json & done; wait;"
         " netdx merge a0.json a1.json a2.json --fail-if 'established<3000'", {0},
         [(6379, ["--tcp-only"])], "Agents"),
    # base.json on "main", new.json on the branch: two probes of the same server here.
    "netdx compare base.json new.json --fail-if 'p99>+10%' --markdown":
        ("netdx probe 127.0.0.1:7 -n 2000 --json > base.json && netdx probe 127.0.0.1:7 -n 2000"
         " --json > new.json && netdx compare base.json new.json --fail-if 'p99>+10%' --markdown",
         {0, 1}, [(7, [])], "| p99 |"),
    "netdx echo --listen 127.0.0.1:7007 --threads 2 --idle-timeout 30s":
        ("netdx echo --listen 127.0.0.1:7007 --threads 2 --idle-timeout 30s --duration 2s", {0}, [],
         "listening on"),
    "echo hi | socat - TCP:127.0.0.1:7007": ("echo hi | socat - TCP:127.0.0.1:7007", {0}, [(7007, [])], "hi"),
    "man 7 netdx": ("man -P cat 7 netdx", {0}, [], "TIME_WAIT"),
}


class ReadmeExamplesSerial(unittest.TestCase):
    """Serial: some of these open 100,000 connections; nothing else should compete."""

    def test_the_table_lists_exactly_the_readme_examples(self):
        self.assertEqual(readme_examples(), list(EXAMPLES))


def make_test(line):
    command, codes, servers, needle = EXAMPLES[line]

    def test(self):
        require_root()
        for prog in ("jq", "socat", "man"):
            if prog in command:
                require_program(prog)
        ns = f"ndx-readme-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
        exec_ = ["ip", "netns", "exec", ns]
        subprocess.run(exec_ + ["ip", "link", "set", "lo", "up"], check=True)
        # eth0, for the live-capture example: a veth whose far end is in the namespace too.
        subprocess.run(exec_ + ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                       check=True, capture_output=True)
        for dev in ("eth0", "eth0p"):
            subprocess.run(exec_ + ["ip", "link", "set", dev, "up"], check=True)
        work = tempfile.mkdtemp(prefix="netdx-readme-")
        os.chmod(work, 0o755)
        self.addCleanup(shutil.rmtree, work, True)
        for name in ("web.pcap", "big.pcap", "ci.pcap"):
            shutil.copy(PCAP, os.path.join(work, name))
        procs = []
        for port, extra in servers:
            p = subprocess.Popen(exec_ + [os.path.join(BIN, "netdx-echo"), "--listen",
                                          f"127.0.0.1:{port}"] + extra,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.assertIn("listening on", p.stderr.readline())
            procs.append(p)
        for p in procs:
            self.addCleanup(p.wait, 10)
            self.addCleanup(p.terminate)
        # The built man pages, laid out as an installed man tree (man1/, man7/).
        mandir = os.path.join(work, "man")
        for page in os.listdir(os.path.join(BUILD, "man")):
            m = re.match(r".+\.([1-8])$", page)
            if m:
                os.makedirs(os.path.join(mandir, f"man{m.group(1)}"), exist_ok=True)
                os.symlink(os.path.join(BUILD, "man", page),
                           os.path.join(mandir, f"man{m.group(1)}", page))
        env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", MANPATH=mandir, NO_COLOR="1")
        r = subprocess.run(exec_ + ["bash", "-o", "pipefail", "-c", command], cwd=work, env=env,
                           capture_output=True, text=True, timeout=240)
        self.assertIn(r.returncode, codes, f"{command}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        if needle:
            self.assertIn(needle, r.stdout, command)
        if "--plot" in command:
            self.assertTrue(open(os.path.join(work, "mux.svg")).read().startswith("<svg"))
        if "conn.log" in command:
            self.assertIn("#fields\tts\tuid", open(os.path.join(work, "conn.log")).read())
        if command.startswith("netdx flood"):
            pass  # the exit code says the server held every connection (0)

    return test


for i, line in enumerate(EXAMPLES):
    slug = re.sub(r"[^a-z0-9]+", "_", line.lower()).strip("_")[:60]
    setattr(ReadmeExamplesSerial, f"test_{i:02d}_{slug}", make_test(line))


if __name__ == "__main__":
    unittest.main()
