"""Runs split across agents (--shard, --start-at) and put together again (netdx merge).

The truth is outside the code under test: shares and the pooled percentile are computed here
from the documents' own slot counts, the server's connections are counted by iproute2's ss
while the agents hold them, and the start instant is the test's own clock."""
import copy
import json
import os
import subprocess
import tempfile
import time
import unittest

from echo_server import EchoProcess
from netdx_test import binary, require_program, run

BUCKET_SUB = 1024  # histogram.hpp: 1024 sub-buckets per power of two, bucket 0 is [0, 2048)


def slot_low(slot):
    """The lowest value of a netdx-hdr-v1 slot (histogram.hpp's layout)."""
    if slot < 2048:
        return slot
    b = (slot - 2048) // BUCKET_SUB + 1
    return (BUCKET_SUB + (slot - 2048) % BUCKET_SUB) << b


def pooled_rank_slot(histograms, rank):
    """The slot holding the rank-th smallest sample of the pooled histograms."""
    counts = {}
    for h in histograms:
        for slot, n in h["counts"]:
            counts[slot] = counts.get(slot, 0) + n
    seen = 0
    for slot in sorted(counts):
        seen += counts[slot]
        if seen >= rank:
            return slot
    raise AssertionError("rank beyond the samples")


def slot_of(value):
    if value < 2048:
        return value
    b = value.bit_length() - 11
    return 2048 + (b - 1) * BUCKET_SUB + ((value >> b) - 1024)


def share(n, i, k):
    return (i + 1) * n // k - i * n // k


class Agents:
    """k agents of one run, each a process of its own, writing JSON into a folder."""

    def __init__(self, test, tool, args, k, run_id, start_at=None):
        self.dir = tempfile.mkdtemp(prefix="netdx-merge-")
        test.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))
        self.files = [os.path.join(self.dir, f"agent{i}.json") for i in range(k)]
        self.procs = []
        self.outputs = []
        for i in range(k):
            cmd = [binary(tool)] + args + ["--shard", f"{i}/{k}", "--run-id", run_id,
                                           "--agent", f"agent{i}", "--json", "-q"]
            if start_at:
                cmd += ["--start-at", start_at]
            self.outputs.append(open(self.files[i], "w"))
            self.procs.append(subprocess.Popen(cmd, stdout=self.outputs[-1],
                                               stderr=subprocess.PIPE, text=True))

    def wait(self, timeout=60):
        self.errors = ""
        for p, out in zip(self.procs, self.outputs):
            p.wait(timeout=timeout)
            self.errors += p.stderr.read()
            p.stderr.close()
            out.close()
        return [json.load(open(f)) for f in self.files]


def merge(*args, **kw):
    return run(["netdx-merge"] + list(args), **kw)


def merge_json(*args):
    r = merge(*(list(args) + ["--json"]))
    return r, json.loads(r.stdout)


class Shards(unittest.TestCase):
    def test_flood_shards_add_up_to_n_and_to_the_connections_the_server_holds(self):
        require_program("ss")
        server = EchoProcess("--max-connections", "5000")
        self.addCleanup(server.stop)
        n, k = 1001, 3
        start = time.time() + 1.5
        agents = Agents(self, "netdx-flood",
                        [f"127.0.0.1:{server.port}", "-n", str(n), "--rate", "2000/s",
                         "--hold", "3s", "--verify", "none"],
                        k, "flood-shards", start_at=f"@{start:.6f}")
        # While they hold: the server's established connections, as ss counts them.
        deadline = time.time() + 20
        held = 0
        while time.time() < deadline and held < n:
            time.sleep(0.2)
            out = subprocess.run(["ss", "-Htn", "state", "established",
                                  f"( sport = :{server.port} )"],
                                 capture_output=True, text=True).stdout
            held = len([line for line in out.splitlines() if line.strip()])
        docs = agents.wait()
        self.assertEqual(held, n)
        for i, d in enumerate(docs):
            self.assertEqual(d["run"]["shard"], {"index": i, "count": k})
            self.assertEqual(d["flood"]["connections_asked"], share(n, i, k))
            self.assertEqual(d["result"]["established"], share(n, i, k))
            # Every agent woke at the instant asked, on the test's clock.
            self.assertLess(abs(d["run"]["start_at_ns"] - int(start * 1e9)), 1_000)
            self.assertGreaterEqual(d["run"]["start_lateness_ns"], 0)
            self.assertLess(d["run"]["start_lateness_ns"], 50_000_000)
        r, merged = merge_json(*agents.files)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(merged["result"]["established"], n)
        self.assertEqual(merged["flood"]["connections_asked"], n)
        self.assertEqual(merged["run"]["agents"], k)
        self.assertEqual(merged["run"]["shards_merged"], {"count": k, "indices": [0, 1, 2]})
        self.assertEqual(merged["target_endpoints"], [{"address": "127.0.0.1", "port": server.port}])
        self.assertEqual(docs[0]["target_endpoints"], [{"address": "127.0.0.1", "port": server.port}])
        self.assertEqual(docs[0]["source_addresses"], [])
        # The striped schedule: slot j at start + j/rate across the agents, so the whole
        # run's last connection is slot 1000, at 500 ms (plus its handshake).
        t100 = merged["result"]["time_to_100_ns"]
        self.assertGreaterEqual(t100, 500_000_000)
        self.assertLess(t100, 650_000_000)
        # Time to 50% is the 501st connection of the pooled established_at histogram.
        pooled = pooled_rank_slot([d["histograms"]["established_at"] for d in docs], 501)
        self.assertEqual(slot_of(merged["result"]["time_to_50_ns"]), pooled)
        self.assertEqual(
            merge(*agents.files, "--fail-if", f"established<{n}").returncode, 0)
        failing = merge(*agents.files, "--fail-if", f"established<{n + 1}")
        self.assertEqual(failing.returncode, 1, failing.stdout)

    def test_probe_shards_merge_to_the_histogram_of_every_sample(self):
        server = EchoProcess()
        self.addCleanup(server.stop)
        n, k = 3000, 3
        agents = Agents(self, "netdx-probe",
                        [f"127.0.0.1:{server.port}", "-n", str(n), "--rate", "6000/s",
                         "--warmup", "0"], k, "probe-shards",
                        start_at=f"@{time.time() + 1.0:.6f}")
        docs = agents.wait()
        for i, d in enumerate(docs):
            self.assertEqual(d["results"][0]["count"], share(n, i, k), agents.errors)
        r, merged = merge_json(*agents.files)
        self.assertEqual(r.returncode, 0, r.stderr)
        row = merged["results"][0]
        self.assertEqual(row["count"], n)
        self.assertEqual(row["sent"], sum(d["results"][0]["sent"] for d in docs))
        # Slot by slot, the merged histogram is the sum of the agents'.
        expect = {}
        for d in docs:
            for slot, c in d["histograms"][0]["rtt"]["counts"]:
                expect[slot] = expect.get(slot, 0) + c
        got = {slot: c for slot, c in merged["histograms"][0]["rtt"]["counts"]}
        self.assertEqual(got, expect)
        self.assertEqual(merged["histograms"][0]["rtt"]["min"],
                         min(d["histograms"][0]["rtt"]["min"] for d in docs))
        self.assertEqual(merged["histograms"][0]["rtt"]["max"],
                         max(d["histograms"][0]["rtt"]["max"] for d in docs))
        # p99 is the 2970th of the 3000 pooled samples (nearest rank), not a mean of p99s.
        self.assertEqual(slot_of(row["p99_ns"]), pooled_rank_slot(
            [d["histograms"][0]["rtt"] for d in docs], 2970))
        self.assertEqual(merged["target"]["rate_per_s"], 6000)
        # A port is not a count: the agents' must agree, and it is not summed.
        self.assertEqual(merged["target"]["target_port"], server.port)
        self.assertEqual(merged["target"]["target_address"], "127.0.0.1")
        self.assertEqual([a["agent"] for a in merged["agents"]], ["agent0", "agent1", "agent2"])

    def test_striped_connect_schedules_interleave_on_one_server(self):
        # Three agents at 300/s in all: the server sees one connect every 3.3 ms, not three
        # at once every 10 ms. Their start times come from the agents' own histograms: each
        # agent's established_at slots are 3 apart in the global schedule.
        server = EchoProcess()
        self.addCleanup(server.stop)
        agents = Agents(self, "netdx-flood",
                        [f"127.0.0.1:{server.port}", "-n", "30", "--rate", "300/s",
                         "--hold", "0", "--verify", "none"], 3, "stripes",
                        start_at=f"@{time.time() + 1.0:.6f}")
        docs = agents.wait()
        firsts = sorted(d["histograms"]["established_at"]["min"] for d in docs)
        # Slots 0, 1, 2 at 0, 3.33 and 6.67 ms (plus the handshake): never all at once.
        self.assertGreater(firsts[1], 3_333_333)
        self.assertGreater(firsts[2], 6_666_666)


    def test_worker_processes_of_one_agent_interleave_too(self):
        # --processes 3 at 300/s: the workers used to fire their k-th connects together (three
        # at once every 10 ms); now each has every third slot of the one schedule.
        server = EchoProcess()
        self.addCleanup(server.stop)
        r = run(["netdx-flood", f"127.0.0.1:{server.port}", "-n", "30", "--rate", "300/s",
                 "--processes", "3", "--hold", "0", "--verify", "none", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["flood"]["processes"], 3)
        times = []
        for slot, n in doc["histograms"]["established_at"]["counts"]:
            times += [slot_low(slot)] * n
        times.sort()
        gaps = [b - a for a, b in zip(times, times[1:])]
        close = sum(g < 1_000_000 for g in gaps)  # the schedule's gap is 3.33 ms
        self.assertLessEqual(close, 5, gaps)


class Refusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="netdx-merge-")
        cls.files = []
        for i in range(3):
            path = os.path.join(cls.dir, f"s{i}.json")
            r = run(["netdx-flood", "-n", "20", "--hold", "0", "--shard", f"{i}/3",
                     "--run-id", "refusals", "--json"])
            assert r.returncode == 0, r.stderr
            open(path, "w").write(r.stdout)
            cls.files.append(path)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir])

    def write(self, name, doc):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def refused(self, files, *words):
        r = merge(*files)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        for w in words:
            self.assertIn(w, r.stderr)
        rj = merge(*(list(files) + ["--json"]))
        doc = json.loads(rj.stdout)
        self.assertEqual(doc["error"]["kind"], "usage")
        return r.stderr

    def test_missing_and_duplicate_shards_are_named(self):
        self.refused(self.files[:2], "shard 2/3 is missing")
        self.refused([self.files[0], self.files[1], self.files[1]], "shard 1/3 twice",
                     self.files[1])
        self.assertEqual(merge("--partial", *self.files[:2]).returncode, 0)

    def test_other_runs_tools_encodings_and_errors_are_refused(self):
        doc = json.load(open(self.files[2]))
        other = copy.deepcopy(doc)
        other["run"]["id"] = "another"
        self.refused([self.files[0], self.files[1], self.write("other.json", other)],
                     "different runs", "another", "--run-id")
        enc = copy.deepcopy(doc)
        enc["histograms"]["connect_latency"]["encoding"] = "hdrhistogram-v2"
        self.refused([self.files[0], self.files[1], self.write("enc.json", enc)],
                     "enc.json", "hdrhistogram-v2", "netdx-hdr-v1")
        states = run(["netdx-states", "--json"]).stdout
        self.refused([self.write("states.json", states)], "netdx-states", "netdx-probe")
        err = run(["netdx-flood", "-n", "0", "--json"]).stdout
        self.refused([self.write("err.json", err)], "error report")
        self.refused([self.write("junk.json", "{not json")], "junk.json", "not a JSON")
        self.refused([os.path.join(self.dir, "absent.json")], "cannot read", "absent.json")
        v2 = copy.deepcopy(doc)
        v2["schema_version"] = 2
        self.refused([self.write("v2.json", v2)], "schema_version 2")
        probe = run(["netdx-probe", "-n", "10", "--warmup", "0", "--json"]).stdout
        self.refused([self.files[0], self.write("probe.json", probe)], "netdx-flood",
                     "netdx-probe")
        self.refused([self.files[0], self.write("unsharded.json", run(
            ["netdx-flood", "-n", "5", "--hold", "0", "--run-id", "refusals", "--json"]).stdout)],
            "has a shard", "unsharded.json")

    def test_merge_is_associative_and_commutative_and_one_file_is_itself(self):
        _, whole = merge_json(*self.files)
        _, reordered = merge_json(self.files[2], self.files[0], self.files[1])
        part = self.write("part.json", merge("--partial", "--json", *self.files[:2]).stdout)
        _, staged = merge_json(part, self.files[2])
        for other in (reordered, staged):
            self.assertEqual(other["result"], whole["result"])
            self.assertEqual(other["histograms"], whole["histograms"])
            self.assertEqual(other["flood"], whole["flood"])
        self.assertEqual(sorted(a["agent"] for a in staged["agents"]),
                         sorted(a["agent"] for a in whole["agents"]))
        # One file: its own numbers.
        one = json.load(open(self.files[0]))
        _, alone = merge_json("--partial", self.files[0])
        for key in ("established", "handshakes", "connect_p50_ns", "connect_p99_ns",
                    "connect_max_ns", "time_to_100_ns", "failed", "rate_per_s"):
            self.assertEqual(alone["result"][key], one["result"][key], key)
        self.assertEqual(alone["histograms"], one["histograms"])

    def test_pretty_printed_files_merge_the_same(self):
        # jq or Python may have rewritten the files (spaces, newlines): the same result.
        pretty = []
        for i, f in enumerate(self.files):
            pretty.append(self.write(f"pretty{i}.json", json.dumps(json.load(open(f)), indent=2)))
        _, a = merge_json(*self.files)
        _, b = merge_json(*pretty)
        self.assertEqual(a["histograms"], b["histograms"])
        self.assertEqual(a["result"], b["result"])

    def test_checks_name_the_merged_tools_metrics(self):
        r = merge(*self.files, "--fail-if", "p99>1ms")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown metric 'p99'", r.stderr)
        self.assertIn("connect_p99", r.stderr)


if __name__ == "__main__":
    unittest.main()
