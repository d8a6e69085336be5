"""netdx-states: counts that agree with ss, owners, findings, the /proc fallback, watch, kill and
namespaces, on populations built in a fresh network namespace; and fixture replays."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from netdx_test import FIXTURES, TIMEOUT, binary, fresh_netns, require_root, run

HERE = os.path.dirname(os.path.abspath(__file__))
REPLAY = os.path.join(FIXTURES, "sock_diag", "root")


def counts(doc):
    c = {row["state"]: row["count"] for row in doc["summary"]}
    assert "total" not in c, "summary rows are states only"
    c["total"] = doc["totals"]["total"]
    return c


class StatesReplayed(unittest.TestCase):
    """The population recorded in tests/fixtures/sock_diag, read through --proc-root."""

    def test_summary_counts_each_state_correctly(self):
        r = run(["netdx-states", "--json", "--proc-root", REPLAY])
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(counts(doc), {"established": 6, "fin-wait-2": 2, "time-wait": 1,
                                       "close-wait": 2, "listen": 2, "total": 13})
        self.assertEqual(doc["source"]["source"], "/proc/net/tcp")

    def test_close_wait_owner_and_recv_q_reading(self):
        r = run(["netdx-states", "--json", "--proc-root", REPLAY, "--explain"])
        doc = json.loads(r.stdout)
        cw = [f for f in doc["findings"] if f["topic"] == "close-wait"]
        self.assertEqual(len(cw), 1)
        self.assertIn("pid 4242 (java) holds 2 CLOSE-WAIT sockets it accepted on 127.0.0.1:7007 from "
                      "127.0.0.1", cw[0]["finding"])
        self.assertEqual((cw[0]["pid"], cw[0]["process"], cw[0]["count"], cw[0]["side"],
                          cw[0]["recv_q"], cw[0]["local"]),
                         (4242, "java", 2, "server", "eof_unread", "127.0.0.1:7007"))
        self.assertIn("Recv-Q 1: it never read the EOF", cw[0]["finding"])
        self.assertIn("5 of 1,024 descriptors", cw[0]["finding"])
        tw = [f for f in doc["findings"] if f["topic"] == "time-wait"]
        self.assertIn("1 TIME-WAIT (1 outbound, 0 inbound)", tw[0]["finding"])
        self.assertIn("tcp_tw_reuse=2", tw[0]["finding"])

    def test_group_by_state_and_process_adds_up(self):
        r = run(["netdx-states", "--json", "--proc-root", REPLAY, "--group-by", "state,process"])
        doc = json.loads(r.stdout)
        rows = {(g["state"], g["process"]): g["count"] for g in doc["groups"]}
        self.assertEqual(rows[("close-wait", "4242 java")], 2)
        self.assertEqual(rows[("listen", "4242 java")], 1)
        self.assertEqual(rows[("time-wait", "- (time-wait)")], 1)
        self.assertEqual(sum(rows.values()), 13)

    def test_top_keeps_totals_in_one_more_row(self):
        r = run(["netdx-states", "--json", "--proc-root", REPLAY, "--group-by", "tuple", "--top", "3"])
        groups = json.loads(r.stdout)["groups"]
        self.assertEqual(len(groups), 4)
        self.assertEqual(groups[-1]["tuple"], "(10 more groups)")
        self.assertEqual(sum(g["count"] for g in groups), 13)

    def test_filters(self):
        def total(*args):
            doc = json.loads(run(["netdx-states", "--json", "--proc-root", REPLAY] + list(args)).stdout)
            return counts(doc)["total"]
        self.assertEqual(total("-s", "close-wait"), 2)
        self.assertEqual(total("-s", "teardown"), 5)
        self.assertEqual(total("-6"), 2)
        self.assertEqual(total("--sport", "7007"), 6)  # listener, 3 established, 2 close-wait
        self.assertEqual(total("--dport", "7008"), 1)
        self.assertEqual(total("--dst", "::1/128"), 1)  # the TIME-WAIT; a listener's peer is ::
        self.assertEqual(total("--process", "java"), 3)
        self.assertEqual(total("--pid", "4242", "-s", "close-wait"), 2)

    def test_fail_if_names_a_state(self):
        r = run(["netdx-states", "--proc-root", REPLAY, "--fail-if", "close-wait>1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("close-wait", r.stdout + r.stderr)

    def test_usage_errors_name_the_token(self):
        for args, token in [(["-s", "half-open"], "half-open"), (["--group-by", "colour"], "colour"),
                            (["--sport", "99999"], "99999"), (["--dst", "10.0.0.0/33"], "10.0.0.0/33"),
                            (["--dry-run"], "--kill"), (["--ticks", "2"], "--watch"),
                            (["--netns", "no-such-ns"], "no-such-ns")]:
            r = run(["netdx-states"] + args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(token, r.stderr, args)
            self.assertEqual(r.stdout, "")


class StatesNamespaceSerial(unittest.TestCase):
    """Known populations in a fresh network namespace, checked against ss."""

    T, C, E = 40, 12, 5

    def setUp(self):
        self.nsname = fresh_netns(self, "netdx-states")
        self.pop = subprocess.Popen(["ip", "netns", "exec", self.nsname, sys.executable,
                                     os.path.join(HERE, "population.py"), str(self.T), str(self.C), str(self.E)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_population)
        self.assertEqual(self.pop.stdout.readline().strip(), "ready")
        self.pid = self.pop.pid  # ip netns exec execs: the pid is python's

    def stop_population(self):
        self.pop.stdin.close()
        self.pop.wait(timeout=TIMEOUT)

    def ns(self, *args):
        return subprocess.run(["ip", "netns", "exec", self.nsname] + list(args), capture_output=True,
                              text=True, timeout=TIMEOUT)

    def states_json(self, *args):
        r = self.ns(binary("netdx-states"), "--json", *args)
        return r.returncode, json.loads(r.stdout) if r.stdout else None, r.stderr

    def ss_count(self, state):
        name = {"listen": "listening"}.get(state, state)  # ss's spelling
        return len(self.ns("ss", "-Htan", "state", name).stdout.splitlines())

    def test_counts_equal_ss_and_the_population(self):
        code, doc, err = self.states_json()
        self.assertEqual(code, 0, err)
        c = counts(doc)
        expected = {"time-wait": self.T, "close-wait": self.C, "fin-wait-2": self.C,
                    "established": 2 * self.E, "listen": 1}
        for state, n in expected.items():
            self.assertEqual(c.get(state, 0), n, state)
            self.assertEqual(self.ss_count(state), n, f"ss {state}")
        self.assertEqual(c["total"], sum(expected.values()))
        self.assertEqual(doc["source"]["source"], "sock_diag")

    def test_proc_fallback_agrees(self):
        code, doc, err = self.states_json("--proc")
        self.assertEqual(code, 0, err)
        self.assertEqual(doc["source"]["source"], "/proc/net/tcp")
        self.assertEqual(counts(doc)["time-wait"], self.T)
        self.assertEqual(counts(doc)["close-wait"], self.C)

    def test_owner_and_orphans(self):
        code, doc, err = self.states_json("--group-by", "state,process", "-s", "close-wait,orphan")
        rows = {(g["state"], g["process"]): g["count"] for g in doc["groups"]}
        self.assertEqual(rows[("close-wait", f"{self.pid} python3")], self.C)
        self.assertEqual(rows[("fin-wait-2", "- (orphan)")], self.C)
        code, doc, err = self.states_json("-s", "orphan")
        self.assertEqual(counts(doc)["total"], self.C)

    def test_explain_finds_the_close_wait_leak(self):
        code, doc, err = self.states_json("--explain")
        self.assertEqual(code, 1)  # a problem was found
        cw = [f for f in doc["findings"] if f["topic"] == "close-wait"][0]
        self.assertEqual(cw["severity"], "problem")
        self.assertIn(f"pid {self.pid} (python3) holds {self.C} CLOSE-WAIT sockets", cw["finding"])
        self.assertIn("Recv-Q 1: it never read the EOF", cw["finding"])  # population.py never reads
        self.assertIn("oldest idle", cw["finding"])
        self.assertIn(f"{self.C} of them new in the last minute", cw["finding"])
        tw = [f for f in doc["findings"] if f["topic"] == "time-wait"][0]
        self.assertIn(f"{self.T} TIME-WAIT ({self.T} outbound, 0 inbound)", tw["finding"])
        self.assertIn(f"uses {self.T} of", tw["finding"])

    def test_kernel_filters_agree_with_ss_and_the_proc_path(self):
        # The population: clients on ephemeral ports connect to the listener on 7007.
        cases = [  # (our options, ss filter, expected count)
            (["--sport", "7007"], "sport = :7007", 1 + self.C + self.E),
            (["--dport", "7007"], "dport = :7007", self.T + self.C + self.E),
            (["--dport", "7007", "-s", "time-wait"], "dport = :7007", self.T),
            (["--sport", "1-7006"], "sport < :7007", 0),
            (["--src", "127.0.0.0/8", "--dst", "127.0.0.1"], "src 127.0.0.0/8 and dst 127.0.0.1",
             self.T + 2 * self.C + 2 * self.E),  # every connected socket, not the listener (0.0.0.0)
            (["--dst", "::/0"], "dst ::/0", 0),
        ]
        for opts, ss_filter, expected in cases:
            code, doc, err = self.states_json(*opts)
            self.assertEqual(code, 0, err)
            self.assertEqual(counts(doc)["total"], expected, opts)
            state = opts[opts.index("-s") + 1] if "-s" in opts else "all"
            ss = self.ns("ss", "-Htan", "state", state, ss_filter)
            self.assertEqual(len(ss.stdout.splitlines()), expected, (ss_filter, ss.stderr))
            code, doc, err = self.states_json("--proc", *opts)  # filtered in user space
            self.assertEqual(counts(doc)["total"], expected, ["--proc"] + opts)

    def test_time_wait_ages_add_up(self):
        code, doc, err = self.states_json("--explain", "-s", "time-wait")
        ages = doc["time_wait_ages"]
        self.assertEqual(len(ages), 6)
        self.assertEqual(sum(a["count"] for a in ages), self.T)
        self.assertEqual(ages[0]["age"], "0-10s")
        self.assertEqual(ages[0]["count"], self.T)  # all made a moment ago

    def test_group_by_cgroup(self):
        mount = next((line.split()[4] for line in open("/proc/self/mountinfo")
                      if " - cgroup2 " in line), None)
        if mount is None:
            self.skipTest("cgroup2 is not mounted")
        path = os.path.join(mount, f"netdx-test-{os.getpid()}")
        try:
            os.mkdir(path)
        except OSError as e:
            self.skipTest(f"cannot create a cgroup: {e}")
        self.addCleanup(remove_cgroup, path)
        code = ("import socket,sys; l=socket.socket(); l.bind(('127.0.0.1',7010)); l.listen();"
                "c=[socket.create_connection(('127.0.0.1',7010)) for _ in range(3)];"
                "a=[l.accept() for _ in range(3)]; print('ready', flush=True); sys.stdin.read()")
        # Into the cgroup first: `ip netns exec` mounts a fresh /sys without the cgroup tree.
        p = subprocess.Popen(["sh", "-c", f"echo $$ > {path}/cgroup.procs && "
                              f'exec ip netns exec {self.nsname} python3 -c "{code}"'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait, timeout=TIMEOUT)
        self.addCleanup(p.stdin.close)
        self.assertEqual(p.stdout.readline().strip(), "ready")
        def groups(*args):  # --netns from outside: this mount namespace sees the cgroup tree
            r = run(["netdx-states", "--json", "--netns", self.nsname, "--group-by", "cgroup"] + list(args))
            self.assertEqual(r.returncode, 0, r.stderr)
            return {g["cgroup"]: g["count"] for g in json.loads(r.stdout)["groups"]}
        self.assertEqual(groups("--sport", "7010"), {"/" + os.path.basename(path): 4})  # listener, 3 accepted
        self.assertEqual(groups("-s", "time-wait"), {"- (time-wait)": self.T})

    def test_netns_option_from_outside_and_all(self):
        r = run(["netdx-states", "--json", "--netns", self.nsname])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(counts(json.loads(r.stdout))["time-wait"], self.T)
        r = run(["netdx-states", "--json", "--netns", "all", "-s", "close-wait", "--list"])
        rows = [s for s in json.loads(r.stdout)["sockets"] if s["netns"] == self.nsname]
        self.assertEqual(len(rows), self.C)

    def test_watch_two_ticks_in_ndjson(self):
        r = self.ns(binary("netdx-states"), "--watch", "200ms", "--ticks", "2", "-s", "time-wait,close-wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(lines[0]["type"], "run")  # the stream opens with the run block
        lines = [x for x in lines if x["type"] == "tick"]
        self.assertEqual(len(lines), 4)  # two states, two ticks
        cw = [x for x in lines if x["state"] == "close-wait"]
        self.assertEqual([x["count"] for x in cw], [self.C, self.C])
        self.assertEqual(cw[1]["delta"], 0)  # a number: "+0" is for people
        self.assertEqual(cw[1]["since_start"], 0)

    def test_a_process_name_that_is_not_utf8_keeps_the_json_valid(self):
        # /proc/<pid>/comm is bytes: a name set with prctl can be anything.
        code = ("import ctypes, socket, sys\n"
                "ctypes.CDLL(None).prctl(15, b'leak\\xff\\xfe', 0, 0, 0)\n"
                "l = socket.socket(); l.bind(('127.0.0.1', 7100)); l.listen()\n"
                "c = socket.create_connection(('127.0.0.1', 7100)); s, _ = l.accept(); c.close()\n"
                "print('ready', flush=True); sys.stdin.read()\n")
        p = subprocess.Popen(["ip", "netns", "exec", self.nsname, sys.executable, "-c", code],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            code_, doc, err = self.states_json("-s", "close-wait", "-g", "process", "--sport", "7100")
        finally:
            p.stdin.close()
            p.wait(timeout=TIMEOUT)
        self.assertEqual([g["process"] for g in doc["groups"]], [f"{p.pid} leak\\xff\\xfe"])

    def test_watch_json_is_one_document_with_every_tick(self):
        # --json under --watch used to print nothing at all (the JSON reporter's per-tick
        # write was empty).
        r = self.ns(binary("netdx-states"), "--watch", "200ms", "--ticks", "3", "-s", "close-wait",
                    "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["tool"], "netdx-states")
        self.assertEqual([t["count"] for t in doc["ticks"]], [self.C] * 3)

    def test_netns_without_cap_sys_admin_is_77(self):
        if shutil.which("setpriv") is None:
            self.skipTest("setpriv (util-linux) is not installed")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            binary("netdx-states"), "--netns", self.nsname, "--json"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("CAP_SYS_ADMIN", r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["error"]["kind"], "no_permission")

    def test_kill_dry_run_then_kill(self):
        code, doc, err = self.states_json("--kill", "--dry-run", "-s", "close-wait")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(doc["killed"]), self.C)
        self.assertTrue(all(k["result"] == "dry run" for k in doc["killed"]))
        code, doc, err = self.states_json("--kill", "-s", "close-wait")
        results = {k["result"] for k in doc["killed"]}
        if results == {"EOPNOTSUPP"}:
            self.skipTest("this kernel lacks CONFIG_INET_DIAG_DESTROY")
        self.assertEqual(results, {"destroyed"})
        self.assertTrue(any("still holds its descriptor" in n for n in doc["notes"]))
        self.assertEqual(self.ss_count("close-wait"), 0)


def remove_cgroup(path):
    for _ in range(50):  # the kernel empties a cgroup a moment after its last process exits
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.05)


class StatesUnprivileged(unittest.TestCase):
    def test_non_root_degrades_with_a_note(self):
        require_root()  # to drop to nobody
        listener = subprocess.Popen([sys.executable, "-c",
                                     "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen();"
                                     "print(s.getsockname()[1], flush=True); sys.stdin.read()"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = listener.stdout.readline().strip()
        try:
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                binary("netdx-states"), "--json", "--group-by", "process", "--sport", port],
                               capture_output=True, text=True, timeout=TIMEOUT)
        finally:
            listener.stdin.close()
            listener.wait(timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["groups"][0]["process"], "? (not visible)")
        self.assertTrue(any("could not be read" in n for n in doc["notes"]), doc["notes"])


class StatesNetnsAllSerial(unittest.TestCase):
    """--netns all with every record kept (--list): each namespace's TIME-WAIT is split into
    outbound and inbound by that namespace's own ephemeral range, not the last one read."""

    def test_each_namespace_uses_its_own_ephemeral_range(self):
        made = {}
        for prefix, lo in (("netdx-tw-a", 20000), ("netdx-tw-b", 21000)):
            ns = fresh_netns(self, prefix)
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            f"net.ipv4.ip_local_port_range={lo} {lo + 999}"], check=True, timeout=TIMEOUT)
            code = ("import socket\n"
                    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                    "s.bind(('127.0.0.1', 7777)); s.listen(16)\n"
                    "for i in range(6):\n"
                    "    c = socket.create_connection(('127.0.0.1', 7777)); a, _ = s.accept()\n"
                    "    c.close(); a.recv(1); a.close()\n")
            subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], check=True,
                           timeout=TIMEOUT)
            made[ns] = 6
        r = run(["netdx-states", "--json", "--netns", "all", "--list", "--explain", "-s", "time-wait",
                 "--dport", "7777"])
        doc = json.loads(r.stdout)
        rows = [s for s in doc["sockets"] if s["netns"] in made]
        self.assertEqual(len(rows), 12, r.stderr)
        # Ranges 20000-20999 and 21000-21999: each namespace's clients used its own.
        tw = [f for f in doc["findings"] if f["topic"] == "time-wait"][0]
        self.assertIn("12 TIME-WAIT (12 outbound, 0 inbound)", tw["finding"])
