"""Every JSON document carries schema_version and the run block: who ran what, where and
when. The truth is outside netdx: the host name from Python, the test's own clock around
the run, the kernel's adjtimex(2) state read through libc, the command line as given."""
import ctypes
import json
import re
import socket
import time
import unittest
from datetime import datetime, timezone

from netdx_test import REPORTING_TOOLS, binary, run


class Timex(ctypes.Structure):  # struct timex (x86-64): the fields read here, then room
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_char * 256)]


def adjtimex():
    tx = Timex()
    state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(tx))
    return state, tx.maxerror, tx.esterror


def rfc3339_ns(text):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z", text)
    assert m, text
    secs = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(secs.timestamp()) * 1_000_000_000 + int(m.group(2))


class RunBlock(unittest.TestCase):
    def test_every_tool_says_who_ran_what_where_and_when(self):
        ids = set()
        for tool, args in REPORTING_TOOLS.items():
            t0 = time.time_ns()
            r = run([tool, "--json"] + args)
            t1 = time.time_ns()
            self.assertEqual(r.returncode, 0, (tool, r.stderr))
            doc = json.loads(r.stdout)
            self.assertEqual(doc["schema_version"], 1, tool)
            run_ = doc["run"]
            self.assertEqual(run_["agent"], socket.gethostname(), tool)
            self.assertEqual(run_["command"], [binary(tool), "--json"] + args, tool)
            self.assertLessEqual(t0, run_["start_ns"], tool)
            self.assertLessEqual(run_["start_ns"], t1, tool)
            self.assertEqual(rfc3339_ns(run_["start"]), run_["start_ns"], tool)
            # The offset turns the run's monotonic clock into wall time: the start it gives
            # on CLOCK_MONOTONIC is before now on this (the same) machine's monotonic clock.
            mono_start = run_["start_ns"] - run_["mono_to_wall_ns"]
            self.assertLess(mono_start, time.monotonic_ns(), tool)
            self.assertGreater(mono_start, time.monotonic_ns() - (t1 - t0) - 10**9, tool)
            self.assertRegex(run_["id"], r"^[0-9a-f]{32}$", tool)
            ids.add(run_["id"])
            self.assertIsNone(run_["shard"])
            self.assertIsNone(run_["start_lateness_ns"])
        self.assertEqual(len(ids), len(REPORTING_TOOLS))  # a fresh id per run

    def test_clock_error_is_the_kernels(self):
        state, maxerror_us, esterror_us = adjtimex()
        r = run(["netdx-doctor", "--json"])
        after = adjtimex()
        clock = json.loads(r.stdout)["run"]["clock"]
        self.assertEqual(clock["synchronized"], state != 5 and after[0] != 5)  # 5: TIME_ERROR
        # maxerror grows by 500 ppm while unsynchronised: between the two reads, or equal.
        self.assertGreaterEqual(clock["max_error_ns"], min(maxerror_us, after[1]) * 1000)
        self.assertLessEqual(clock["max_error_ns"], max(maxerror_us, after[1]) * 1000)
        self.assertIn(clock["est_error_ns"], {esterror_us * 1000, after[2] * 1000})

    def test_agent_and_run_id_are_taken_as_given(self):
        r = run(["netdx-doctor", "--json", "--agent", "agent-7", "--run-id", "nightly-42"])
        run_ = json.loads(r.stdout)["run"]
        self.assertEqual((run_["agent"], run_["id"]), ("agent-7", "nightly-42"))
        r = run(["netdx-doctor", "--run-id", ""])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--run-id", r.stderr)

    def test_error_documents_and_ndjson_streams_carry_it_too(self):
        r = run(["netdx-probe", "--json", "--agent", "a1", "--fail-if", "bogus>1"])
        self.assertEqual(r.returncode, 2)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["schema_version"], doc["run"]["agent"]), (1, "a1"))
        r = run(["netdx-probe", "--ndjson", "--duration", "300ms", "--warmup", "0", "--interval",
                 "100ms"])
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(lines[0]["type"], "run")
        self.assertEqual(lines[0]["schema_version"], 1)
        self.assertEqual([line["type"] for line in lines].count("run"), 1)
        self.assertTrue(r.stdout.startswith('{"type":"run",'))
        r = run(["netdx-trace", "--ndjson", "-r", REPORTING_TOOLS["netdx-trace"][1]])
        first = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(first["type"], "run")


if __name__ == "__main__":
    unittest.main()
