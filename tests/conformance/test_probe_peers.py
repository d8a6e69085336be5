"""netdx-probe against echo servers nobody here wrote: openbsd-inetd's built-in echo (TCP and
UDP, the UDP one truncating at 4 KiB), socat serving one peer (UDP-LISTEN and TCP-LISTEN
without fork), ncat running cat, and ports where nothing answers. The truth is what the peers
do on the wire: tshark counts the datagrams, and an nftables counter says how many were
dropped."""
import json
import os
import subprocess
import time
import unittest

import world
from world import Capture, Link, Netns, tshark_fields


def probe(ns, *args, timeout=60):
    r = ns.netdx("netdx-probe", *args, "--json", timeout=timeout)
    doc = json.loads(r.stdout) if r.stdout.strip() else None
    return r, doc


def accounted(test, res):
    """Every send ends one way: answered, lost, truncated or still in flight."""
    test.assertEqual(res["sent"], res["count"] + res.get("lost", 0) + res.get("truncated", 0)
                     + res["unfinished"], res)


class ProbeAgainstInetd(unittest.TestCase):
    """openbsd-inetd's internal echo; its UDP echo ignores loopback sources (loop
    protection), so the probe reaches it over a veth pair from a second namespace."""

    @classmethod
    def setUpClass(cls):
        world.require("inetd", "tshark", "tcpdump")
        cls.link = Link("inetd")
        try:
            world.start_inetd(cls.link.server, cls.link.server_ip)
        except BaseException:
            cls.link.close()
            raise
        cls.target = f"{cls.link.server_ip}:7"

    @classmethod
    def tearDownClass(cls):
        cls.link.close()

    def test_tcp_count_is_exact_and_every_byte_is_on_the_wire(self):
        cap = Capture(self.link.server, "tcpdump-us", "tcp port 7", iface=self.link.server_dev)
        cap.wait_ready()
        r, doc = probe(self.link.client, self.target, "-n", "500", "--warmup", "0",
                       "--size", "100")
        path = cap.finish()
        self.assertEqual(r.returncode, 0, r.stderr)
        res = doc["results"][0]
        self.assertEqual(res["count"], 500)
        accounted(self, res)
        rows = tshark_fields(path, ["ip.src", "tcp.len"])
        to_server = sum(int(x["tcp.len"]) for x in rows if x["ip.src"] == self.link.client_ip)
        from_server = sum(int(x["tcp.len"]) for x in rows if x["ip.src"] == self.link.server_ip)
        self.assertEqual(to_server, res["sent"] * 100)
        self.assertEqual(from_server, res["count"] * 100)

    def test_udp_sweep_measures_every_size_and_names_the_truncation(self):
        # Every IP packet: the fragments of a large datagram carry no UDP ports.
        cap = Capture(self.link.server, "tcpdump-us", "ip", iface=self.link.server_dev)
        cap.wait_ready()
        r, doc = probe(self.link.client, self.target, "--udp", "--size", "64,1KiB,4KiB,8KiB,64KiB",
                       "--duration", "400ms", "--warmup", "0")
        path = cap.finish()
        self.assertEqual(r.returncode, 1, r.stderr)  # a finding about the peer
        self.assertEqual(doc["error"]["kind"], "check_failed")
        self.assertIn("truncates", doc["error"]["message"])
        by_size = {x["size_bytes"]: x for x in doc["results"]}
        # 64KiB is the largest datagram there is (IPv4: 65,507 bytes), said in a note.
        self.assertEqual(sorted(by_size), [64, 1024, 4096, 8192, 65507])
        self.assertTrue(any("65,507" in n for n in doc["notes"]), doc["notes"])
        # What inetd sends back, from the wire: its replies are at most 4,096 bytes.
        replies = [int(x["udp.length"]) - 8 for x in
                   tshark_fields(path, ["ip.src", "udp.length"])
                   if x["ip.src"] == self.link.server_ip and x["udp.length"]]
        cut = max(replies)
        self.assertEqual(cut, 4096)
        for size, res in by_size.items():
            accounted(self, res)
            if size <= cut:
                self.assertGreater(res["count"], 0, res)
                self.assertEqual(res["truncated"], 0, res)
            else:
                self.assertEqual(res["count"], 0, res)  # no RTT for a partial echo
                self.assertGreater(res["truncated"], 0, res)
        truncated_note = [n for n in doc["notes"] if "truncated" in n and "8192 bytes" in n]
        self.assertTrue(truncated_note and "4,096" in truncated_note[0], doc["notes"])


class ProbeAgainstOnePeerServers(unittest.TestCase):
    """socat without fork serves the first peer only: a sweep must keep its socket."""

    def setUp(self):
        world.require("socat")
        self.ns = Netns("onepeer")
        self.addCleanup(self.ns.close)

    def test_socat_udp_listen_answers_every_size_of_a_sweep(self):
        p = self.ns.popen(["socat", "UDP-LISTEN:9000,bind=127.0.0.1", "PIPE"])
        self.ns.wait_listening(9000, "udp", proc=p)
        r, doc = probe(self.ns, "127.0.0.1:9000", "--udp", "--size", "64,1KiB,8KiB",
                       "--duration", "300ms", "--warmup", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["size_bytes"] for x in doc["results"]], [64, 1024, 8192])
        for res in doc["results"]:
            self.assertGreater(res["count"], 0, res)
            self.assertEqual(res["lost"], 0, res)
            accounted(self, res)

    def test_socat_tcp_listen_without_fork_serves_the_whole_sweep(self):
        p = self.ns.popen(["socat", "TCP-LISTEN:9001,bind=127.0.0.1", "PIPE"])
        self.ns.wait_listening(9001, proc=p)
        r, doc = probe(self.ns, "127.0.0.1:9001", "--size", "64,4KiB,64KiB", "--duration",
                       "300ms", "--warmup", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        for res in doc["results"]:
            self.assertGreater(res["count"], 0, res)
            self.assertEqual(res["errors"], 0, res)
            accounted(self, res)

    def test_ncat_running_cat_tcp_and_udp(self):
        world.require("ncat")
        tcp = self.ns.popen(["ncat", "-l", "127.0.0.1", "9002", "-k", "--exec", "/bin/cat"])
        udp = self.ns.popen(["ncat", "-u", "-l", "127.0.0.1", "9003", "--exec", "/bin/cat"])
        self.ns.wait_listening(9002, proc=tcp)
        self.ns.wait_listening(9003, "udp", proc=udp)
        r, doc = probe(self.ns, "127.0.0.1:9002", "-c", "3", "--size", "64,4KiB", "--duration",
                       "300ms", "--warmup", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(all(x["count"] > 0 and x["errors"] == 0 for x in doc["results"]))
        r, doc = probe(self.ns, "127.0.0.1:9003", "--udp", "--size", "64,1KiB", "--duration",
                       "300ms", "--warmup", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        for res in doc["results"]:
            self.assertGreater(res["count"], 0)
            accounted(self, res)


class ProbeWhereNothingAnswers(unittest.TestCase):
    def setUp(self):
        self.ns = Netns("silent")
        self.addCleanup(self.ns.close)

    def test_a_closed_udp_port_is_unavailable(self):
        r, doc = probe(self.ns, "127.0.0.1:9", "--udp", "--duration", "500ms", "--warmup", "0")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertFalse(doc["passed"])
        self.assertEqual(doc["error"]["kind"], "unavailable")
        self.assertIn("nothing listens", doc["error"]["message"])

    def test_a_port_where_datagrams_vanish_is_unavailable_not_100_percent_loss(self):
        world.require("nft")
        # Something is bound there (no ICMP unreachable), and nftables drops what reaches it.
        sink = self.ns.popen(["socat", "-u", "UDP-RECV:9010,bind=127.0.0.1", "/dev/null"])
        self.ns.wait_listening(9010, "udp", proc=sink)
        world.nft(self.ns, "table inet t {\n chain in {\n  type filter hook input priority 0;\n"
                           "  udp dport 9010 counter drop\n }\n}\n")
        r, doc = probe(self.ns, "127.0.0.1:9010", "--udp", "--duration", "1500ms", "--warmup",
                       "0", "--timeout", "200ms")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertFalse(doc["passed"])
        self.assertIn("no reply", doc["error"]["message"])
        res = doc["results"][0]
        self.assertGreater(res["lost"], 0)
        self.assertEqual(res["lost"] + res["unfinished"], world.nft_counter(self.ns))

    def test_every_tenth_datagram_dropped_is_counted_exactly(self):
        world.require("nft", "socat")
        echo = self.ns.popen(["socat", "UDP-LISTEN:9011,bind=127.0.0.1,fork", "PIPE"])
        self.ns.wait_listening(9011, "udp", proc=echo)
        world.nft(self.ns, "table inet t {\n chain in {\n  type filter hook input priority 0;\n"
                           "  udp dport 9011 numgen inc mod 10 == 9 counter drop\n }\n}\n")
        r, doc = probe(self.ns, "127.0.0.1:9011", "--udp", "-n", "200", "--warmup", "0",
                       "--timeout", "200ms")
        self.assertEqual(r.returncode, 0, r.stderr)
        res = doc["results"][0]
        self.assertEqual(res["count"], 200)
        self.assertEqual(res["lost"], world.nft_counter(self.ns))
        self.assertEqual(res["sent"], res["count"] + res["lost"] + res["unfinished"])


if __name__ == "__main__":
    unittest.main()
