"""netdx compare as a CI gate: no significant change between two samples of the same
conditions (two shards of one paced run, interleaved on one server at the same time), and a
regression with its interval against a server slowed on purpose by a delaying proxy."""
import copy
import json
import os
import random
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from echo_server import EchoProcess
from netdx_test import binary, run


def slot_low(slot):
    """The lowest value of a netdx-hdr-v1 slot (histogram.hpp's layout)."""
    if slot < 2048:
        return slot
    b = (slot - 2048) // 1024 + 1
    return (1024 + (slot - 2048) % 1024) << b


class DelayingProxy:
    """Forwards TCP to `upstream`, holding each chunk from the client for `delay` seconds."""

    def __init__(self, upstream, delay):
        self.upstream, self.delay = upstream, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        self.listener.settimeout(0.2)
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            server = socket.create_connection(self.upstream)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.pipe, args=(client, server, self.delay), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, 0), daemon=True).start()

    def pipe(self, src, dst, delay):
        try:
            while not self.stopped:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        self.listener.close()


def compare(*args):
    return run(["netdx-compare"] + list(args))


class Compare(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="netdx-compare-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.dir])

    def path(self, name):
        return os.path.join(self.dir, name)

    def probe(self, name, *args):
        r = run(["netdx-probe"] + list(args) + ["--json"])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        open(self.path(name), "w").write(r.stdout)
        return self.path(name)

    def test_two_samples_of_one_distribution_show_no_significant_change(self):
        # Two runs one after the other on a 2-CPU VM differ in truth (their p90s by half,
        # measured here): the interval is right to call that. The same distribution twice
        # is one run's samples dealt at random into two documents, here, slot by slot.
        server = EchoProcess()
        self.addCleanup(server.stop)
        whole = json.load(open(self.probe("whole.json", f"127.0.0.1:{server.port}", "-n",
                                          "20000", "--warmup", "0")))
        rng = random.Random(20261201)
        halves = [copy.deepcopy(whole), copy.deepcopy(whole)]
        counts = ([], [])
        for slot, n in whole["histograms"][0]["rtt"]["counts"]:
            a = sum(rng.random() < 0.5 for _ in range(n))
            for half, c in zip(counts, (a, n - a)):
                if c:
                    half.append([slot, c])
        paths = []
        for i, (doc, c) in enumerate(zip(halves, counts)):
            h = doc["histograms"][0]["rtt"]
            values = [(slot_low(slot), k) for slot, k in c]
            h["counts"] = c
            h["count"] = sum(k for _, k in values)
            h["min"] = values[0][0]
            h["max"] = values[-1][0]
            h["sum"] = str(sum(v * k for v, k in values))
            h["sum_squares"] = str(sum(v * v * k for v, k in values))
            doc["results"][0]["count"] = h["count"]
            paths.append(self.path(f"half{i}.json"))
            json.dump(doc, open(paths[-1], "w"))
        r = compare(*paths, "--fail-if", "p50>+10%", "--fail-if", "p99>+10%", "--json")
        self.assertEqual(r.returncode, 0, r.stdout)
        doc = json.loads(r.stdout)
        rows = {row["metric"]: row for row in doc["changes"]}
        for metric in ("p50", "p90", "p99", "mean"):
            self.assertEqual(rows[metric]["verdict"], "no significant change", rows[metric])
            # The interval holds 0 (its ends can be 0 exactly: the halves' slots coincide).
            self.assertLessEqual(rows[metric]["ci_low_percent"], 0)
            self.assertGreaterEqual(rows[metric]["ci_high_percent"], 0)
        self.assertEqual(rows["count"]["base_value"] + rows["count"]["new_value"], 20000)
        self.assertEqual([c["failed"] for c in doc["checks"]], [False, False])
        # A file against itself: every change is 0.
        same = json.loads(compare(paths[0], paths[0], "--json").stdout)
        self.assertTrue(all(row["change_percent"] in (0, None) for row in same["changes"]))

    def test_a_slowed_server_is_a_regression_with_its_interval(self):
        server = EchoProcess()
        self.addCleanup(server.stop)
        proxy = DelayingProxy(("127.0.0.1", server.port), 0.002)
        self.addCleanup(proxy.stop)
        base = self.probe("base.json", f"127.0.0.1:{server.port}", "-n", "300", "--warmup", "0")
        slow = self.probe("slow.json", f"127.0.0.1:{proxy.port}", "-n", "300", "--warmup", "0")
        r = compare(base, slow, "--fail-if", "p50>+10%", "--json")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        p50 = {row["metric"]: row for row in doc["changes"]}["p50"]
        self.assertEqual(p50["verdict"], "higher (significant)")
        # 2 ms added to a loopback round trip of tens of microseconds: the interval's lower
        # end is far above +10%, and the new p50 is at least the 2 ms the proxy holds.
        self.assertGreater(p50["ci_low_percent"], 100)
        self.assertGreaterEqual(p50["new_value"], 2_000_000)
        self.assertLess(p50["base_value"], 2_000_000)
        self.assertTrue(doc["checks"][0]["failed"])
        md = compare(base, slow, "--fail-if", "p50>+10%", "--markdown")
        self.assertEqual(md.returncode, 1)
        self.assertIn("| p50 |", md.stdout)
        self.assertIn("higher (significant)", md.stdout)
        self.assertIn("**FAIL**", md.stdout)
        # The other way round it is an improvement, and a fall check says so.
        back = compare(slow, base, "--fail-if", "p50<-50%")
        self.assertEqual(back.returncode, 1, back.stdout)
        self.assertIn("lower (significant)", back.stdout)

    def test_bad_inputs_and_checks_are_named(self):
        a = self.probe("a.json", "-n", "50", "--warmup", "0")
        flood = self.path("flood.json")
        open(flood, "w").write(run(["netdx-flood", "-n", "5", "--hold", "0", "--json"]).stdout)
        for args, words in (
                ([a, flood], ["netdx-probe", "netdx-flood"]),
                ([a, a, "--fail-if", "p99>10%"], ["needs a sign"]),
                ([a, a, "--fail-if", "p99>+ten%"], ["bad change", "ten%"]),
                ([a, a, "--fail-if", "rtt>+10%"], ["unknown metric 'rtt'", "p99"]),
                ([a, self.path("absent.json")], ["cannot read", "absent.json"]),
                ([a], ["two results"])):
            r = compare(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            for w in words:
                self.assertIn(w, r.stderr, args)


if __name__ == "__main__":
    unittest.main()
