"""netdx-mux: every backend measured with exact ready sets, the report's schema, skipped
backends, RLIMIT_NOFILE handling, select above FD_SETSIZE, the SVG chart, usage errors."""
import json
import os
import signal
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from netdx_test import TIMEOUT, binary, io_uring_disabled, run, run_json

SMALL = ["--quick", "-n", "10,50", "-k", "1,5", "--rounds", "40", "--warmup", "5",
         "--throughput-time", "20ms"]
ALL_BACKENDS = {"select", "poll", "epoll", "epoll-et", "epoll-oneshot", "uring-oneshot",
                "uring-multishot"}


class MuxRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r, cls.doc = run_json(["netdx-mux"] + SMALL + ["-m", "ready,wakeup,ctl,throughput",
                                                           "--processes", "2"])

    def test_exit_and_schema(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        for section in ("backends", "environment", "baselines", "ready", "wakeup", "ctl",
                        "throughput", "model"):
            self.assertIn(section, self.doc)
        self.assertGreater(self.doc["baselines"]["clock_ns"], 0)
        self.assertIn("kernel", self.doc["environment"])

    def test_every_backend_is_measured_or_skipped_with_a_reason(self):
        rows = {b["backend"]: b for b in self.doc["backends"]}
        self.assertEqual(set(rows), ALL_BACKENDS)
        for name, row in rows.items():
            if row["status"] == "skipped":
                self.assertTrue(row["detail"], name)
        measured = {b for b, row in rows.items() if row["status"] == "measured"}
        self.assertTrue({"select", "poll", "epoll", "epoll-et", "epoll-oneshot"} <= measured)
        self.assertEqual({r["backend"] for r in self.doc["ready"]}, measured)

    def test_every_event_seen_exactly_once(self):
        # The checked ready sets: nothing missed, duplicated or spurious, ET and one-shot too.
        for point in self.doc["samples"]:
            self.assertEqual((point["missed"], point["duplicates"], point["spurious"]), (0, 0, 0), point)
        for row in self.doc["ready"] + self.doc["wakeup"] + self.doc["throughput"]:
            self.assertEqual(row["errors"], 0, row)

    def test_samples_pool_the_processes(self):
        ready = [p for p in self.doc["samples"] if p["mode"] == "ready"]
        self.assertTrue(ready)
        for p in ready:
            self.assertEqual(len(p["samples"]), 2 * 40)  # two processes x 40 rounds
        ks = {(r["fds"], r["active"]) for r in self.doc["ready"]}
        self.assertEqual(ks, {(10, 1), (10, 5), (50, 1), (50, 5)})
        ops = {r["op"] for r in self.doc["ctl"]}
        self.assertEqual(ops, {"add", "modify", "remove"})

    def test_ratios_and_ci_are_consistent(self):
        for row in self.doc["ready"]:
            self.assertGreaterEqual(row["p99_ns"], row["median_ns"])
            self.assertIsInstance(row["vs_best"], float)  # a number, not "1.23x"
            self.assertGreaterEqual(row["vs_best"], 1.0)
            self.assertIsInstance(row["ci_pct"], (int, float))
            self.assertGreaterEqual(row["ci_pct"], 0)
        best = {}
        for row in self.doc["ready"]:
            key = (row["fds"], row["active"])
            best[key] = min(best.get(key, 1e18), row["median_ns"])
        for row in self.doc["ready"]:
            if row["median_ns"] == best[(row["fds"], row["active"])]:
                self.assertEqual(row["vs_best"], 1.0)


    def test_no_median_is_zero_and_each_backend_says_what_it_times(self):
        # io_uring's completions are often posted before the timed call starts: its sample
        # is the whole submit-wait-reap cycle, and a median below the clock's step is shown
        # as the step, never 0 (0 made every ratio 0.00x).
        step = self.doc["baselines"]["clock_resolution_ns"]
        self.assertGreater(step, 0)
        for row in self.doc["ready"] + self.doc["wakeup"] + self.doc["ctl"]:
            self.assertGreaterEqual(row["median_ns"], step, row)
        what = {b["backend"]: b["measured"] for b in self.doc["backends"]}
        self.assertEqual(what["epoll"], "epoll_wait()")
        self.assertIn("reap", what["uring-multishot"])
        self.assertIn("re-arm", what["uring-oneshot"])


class MuxInterruptSerial(unittest.TestCase):
    def test_ctrl_c_stops_a_default_run_promptly_with_what_was_measured(self):
        # The default run: 3 processes, every mode, N up to 10,000. Workers used to look at
        # their stop pipe only between shares of points (about 40 s).
        p = subprocess.Popen([binary("netdx-mux"), "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2.0)
            p.send_signal(signal.SIGINT)
            t0 = time.monotonic()
            out, err = p.communicate(timeout=30)
            took = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
        self.assertEqual(p.returncode, 130, err)
        self.assertLess(took, 5.0)  # it was ~40 s; the bound is loose for a loaded machine
        doc = json.loads(out)
        self.assertTrue(doc["interrupted"])
        self.assertTrue(doc["samples"])  # what the first process measured before the signal


class MuxOptions(unittest.TestCase):
    def test_select_watches_fds_above_1024(self):
        r, doc = run_json(["netdx-mux", "--quick", "-b", "select,poll", "-n", "20", "--placement", "high",
                           "--rounds", "30", "-m", "ready,wakeup"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({row["backend"] for row in doc["ready"]}, {"select", "poll"})
        self.assertTrue(all(row["errors"] == 0 for row in doc["ready"] + doc["wakeup"]))

    def test_fd_limit_names_the_largest_n_that_fits(self):
        cmd = ["prlimit", "--nofile=300:300", binary("netdx-mux"), "--quick", "-b", "epoll", "--rounds", "10"]
        r = subprocess.run(cmd + ["-n", "200", "--fd-kind", "pipe"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--fds 200", r.stderr)
        self.assertIn("pipe (2 each)", r.stderr)
        self.assertRegex(r.stderr, r"largest N that fits is 1\d\d")
        self.assertIn("--fd-kind eventfd takes one each", r.stderr)
        r = subprocess.run(cmd + ["-n", "200", "--fd-kind", "eventfd", "-m", "ready"], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_each_fd_kind_works(self):
        for kind in ("pipe", "socketpair", "tcp"):
            r, doc = run_json(["netdx-mux", "--quick", "-b", "poll,epoll-et", "-n", "8", "-k", "3",
                               "--rounds", "20", "-m", "ready,wakeup", "--fd-kind", kind])
            self.assertEqual(r.returncode, 0, (kind, r.stderr))
            self.assertEqual(doc["environment"]["fd_kind"], kind)
            self.assertTrue(all(row["errors"] == 0 for row in doc["ready"]), kind)

    def test_plot_writes_an_svg_and_the_table_has_a_chart(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"netdx-mux-{os.getpid()}.svg")
        self.addCleanup(lambda: os.path.exists(path) and os.remove(path))
        r = run(["netdx-mux", "--quick", "-b", "poll,epoll", "-n", "10,100", "--rounds", "20", "-m", "ready",
                 "--plot", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(log scale)", r.stdout)
        self.assertIn("N=100", r.stdout)
        root = ET.parse(path).getroot()
        self.assertTrue(root.tag.endswith("svg"))
        labels = [t.text for t in root.iter() if t.tag.endswith("text")]
        self.assertIn("poll", labels)
        self.assertIn("epoll", labels)
        self.assertEqual(len([e for e in root.iter() if e.tag.endswith("polyline")]), 2)

    def test_csv_is_the_ready_table(self):
        r = run(["netdx-mux", "--quick", "-b", "epoll", "-n", "10", "--rounds", "10", "--csv", "-m", "ready"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("backend,fds,active,median_ns"), lines[0])
        self.assertEqual(len(lines), 2)

    def test_fail_if_on_a_backend_metric(self):
        r = run(["netdx-mux", "--quick", "-b", "epoll", "-n", "10", "--rounds", "10", "-m", "ready",
                 "--fail-if", "epoll_ns>1ns"])  # any real wait costs more
        self.assertEqual(r.returncode, 1, r.stderr)
        r = run(["netdx-mux", "--quick", "-b", "epoll", "-n", "10", "--rounds", "10", "-m", "ready",
                 "--fail-if", "errors>0"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_usage_errors_name_the_token(self):
        for args, token in ((["--fds", "1x0"], "1x0"), (["--active", "0"], "'0'"),
                            (["--active", "150%"], "150%"), (["--mode", "fast"], "fast"),
                            (["--backends", "kqueue"], "kqueue"), (["--fd-kind", "fifo"], "fifo")):
            r = run(["netdx-mux"] + args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(token, r.stderr, args)


class MuxSkippedSerial(unittest.TestCase):
    def test_io_uring_disabled_is_reported_as_skipped(self):
        with io_uring_disabled():
            r, doc = run_json(["netdx-mux", "--quick", "-n", "10", "--rounds", "10", "-m", "ready"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {b["backend"]: b for b in doc["backends"]}
        for name in ("uring-oneshot", "uring-multishot"):
            self.assertEqual(rows[name]["status"], "skipped")
            self.assertIn("io_uring", rows[name]["detail"])
        self.assertNotIn("uring-oneshot", {row["backend"] for row in doc["ready"]})
        self.assertEqual(rows["epoll"]["status"], "measured")


if __name__ == "__main__":
    unittest.main()
