"""netdx-doctor on this machine and on replayed ones (--root: a fixture tree for /)."""
import json
import os
import unittest

from netdx_test import FIXTURES, run, run_json

EXPECTED_KEYS = {"kernel", "cpus", "virtualization", "nofile_soft", "nofile_hard", "nr_open", "file_max",
                 "ephemeral_ports", "somaxconn", "tcp_max_syn_backlog", "tcp_syncookies", "tcp_tw_reuse",
                 "tcp_fin_timeout", "tcp_max_tw_buckets", "nf_conntrack", "cap_net_raw", "cap_net_admin",
                 "io_uring", "clocksource"}


def by_key(doc):
    return {row["key"]: row for row in doc["machine"]}


class DoctorLive(unittest.TestCase):
    def test_reports_every_check_with_status_value_and_why(self):
        r, doc = run_json(["netdx-doctor"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = by_key(doc)
        self.assertLessEqual(EXPECTED_KEYS, set(rows))
        for row in doc["machine"]:
            self.assertIn(row["status"], {"ok", "info", "warn", "absent"})
            self.assertTrue(row["value"], row)
            self.assertTrue(row["why"], row)
            if row["status"] == "warn":
                self.assertTrue(row["fix"], row)
        self.assertEqual(doc["summary"]["warnings"], sum(1 for r in doc["machine"] if r["status"] == "warn"))

    def test_values_agree_with_proc(self):
        _, doc = run_json(["netdx-doctor"])
        rows = by_key(doc)
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
        self.assertEqual(rows["ephemeral_ports"]["raw"], hi - lo + 1)
        with open("/proc/sys/net/core/somaxconn") as f:
            self.assertEqual(rows["somaxconn"]["raw"], int(f.read()))
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.assertEqual(rows["nofile_hard"]["raw"], hard)

    def test_human_table_fits_and_names_each_check(self):
        r = run(["netdx-doctor"])
        self.assertEqual(r.returncode, 0)
        for title in ["RLIMIT_NOFILE soft", "ip_local_port_range", "net.core.somaxconn", "tcp_tw_reuse",
                      "nf_conntrack", "CAP_NET_RAW", "io_uring", "clock source"]:
            self.assertIn(title, r.stdout)
        self.assertLess(len(r.stdout.splitlines()), 45)  # one screen

    def test_csv_has_the_json_keys_as_header(self):
        r = run(["netdx-doctor", "--csv"])
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout.splitlines()[0], "status,check,value,why,fix,key,raw")

    def test_ndjson_lines_are_json(self):
        r = run(["netdx-doctor", "--ndjson"])
        self.assertEqual(r.returncode, 0)
        types = [json.loads(line)["type"] for line in r.stdout.splitlines()]
        self.assertIn("machine", types)
        self.assertIn("summary", types)


class DoctorReplayed(unittest.TestCase):
    def test_missing_files_read_as_not_present(self):
        r, doc = run_json(["netdx-doctor", "--root", os.path.join(FIXTURES, "doctor", "minimal")])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = by_key(doc)
        for key in ["ephemeral_ports", "tcp_tw_reuse", "tcp_max_tw_buckets", "nf_conntrack", "cap_net_raw",
                    "clocksource", "nr_open"]:
            self.assertEqual(rows[key]["status"], "absent", key)
            self.assertIn("not present", rows[key]["value"])
        self.assertEqual(rows["somaxconn"]["raw"], 4096)
        human = run(["netdx-doctor", "--root", os.path.join(FIXTURES, "doctor", "minimal")])
        self.assertEqual(human.returncode, 0)
        self.assertIn("not present", human.stdout)

    def test_a_tight_machine_warns_with_fixes(self):
        r, doc = run_json(["netdx-doctor", "--root", os.path.join(FIXTURES, "doctor", "tight")])
        self.assertEqual(r.returncode, 0)
        rows = by_key(doc)
        for key in ["ephemeral_ports", "somaxconn", "tcp_max_syn_backlog", "tcp_syncookies", "tcp_max_tw_buckets",
                    "nf_conntrack", "file_max", "clocksource"]:
            self.assertEqual(rows[key]["status"], "warn", key)
            self.assertIn("sysctl" if key != "clocksource" else "clocksource", rows[key]["fix"])
        self.assertEqual(rows["ephemeral_ports"]["raw"], 1001)
        self.assertEqual(rows["cap_net_raw"]["value"], "no")
        self.assertIn("60,000 of 65,536", rows["nf_conntrack"]["value"])

    def test_fail_if_exits_1_and_names_the_check(self):
        tight = os.path.join(FIXTURES, "doctor", "tight")
        r = run(["netdx-doctor", "--root", tight, "--fail-if", "warnings>0", "--fail-if", "somaxconn<100"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL  warnings>0", r.stdout)
        self.assertIn("pass  somaxconn<100", r.stdout)
        r, doc = run_json(["netdx-doctor", "--root", tight, "--fail-if", "ephemeral_ports<2000"])
        self.assertEqual(r.returncode, 1)
        self.assertIs(doc["passed"], False)
        self.assertEqual(doc["checks"][0]["actual"], 1001)

    def test_a_missing_root_is_a_usage_error(self):
        r = run(["netdx-doctor", "--root", "/no/such/dir"])
        self.assertEqual(r.returncode, 2)
