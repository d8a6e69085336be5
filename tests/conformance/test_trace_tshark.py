"""netdx-trace against tshark, on captures tcpdump and dumpcap wrote of real traffic.

In a namespace of its own the test starts nginx and redis, captures lo three ways at once
(tcpdump's default microsecond pcap, tcpdump --time-stamp-precision=nano, dumpcap's pcapng)
while curl, redis-cli and a few sockets make: HTTP requests, a refused port, a reset by
SO_LINGER 0, a SYN dropped once by nftables, SYNs dropped for good, and a half-close. Every
timing netdx-trace reports must then equal what tshark computes from the same file, to the
nanosecond (a µs file gives multiples of 1000 on both sides), and the counts, closers and
resets must be tshark's too."""
import json
import os
import socket
import subprocess
import time
import unittest

import world
from world import Capture, Netns, epoch_ns, seconds_ns, tshark_fields

HTTP, HTTP_RETRY, HTTP_DROP, REDIS, CLOSED = 8080, 8081, 8082, 6379, 9

FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
          "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin",
          "tcp.flags.reset", "tcp.analysis.initial_rtt", "tcp.time_relative", "tcp.time_delta",
          "tcp.connection.fin_active", "tcp.len", "tcp.seq", "tcp.ack"]


def make_traffic(ns):
    """The scenarios, in order; each names what it must give (conn_state)."""
    curl = ["curl", "-s", "-o", "/dev/null", "--max-time", "5"]
    ns.run(curl + [f"http://127.0.0.1:{HTTP}/"], check=True)
    ns.run(curl + [f"http://127.0.0.1:{HTTP}/status"], check=True)
    ns.run(["redis-cli", "-p", REDIS, "PING"], check=True)
    ns.run(["redis-cli", "-p", REDIS, "SET", "k", "v"], check=True)
    ns.run(curl + ["--connect-timeout", "2", f"http://127.0.0.1:{CLOSED}/"])  # refused
    # The client resets: SO_LINGER 0 after reading the answer.
    s = ns.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", HTTP))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    # nftables drops the first SYN to HTTP_RETRY (the kernel retries after 1 s) and every SYN
    # to HTTP_DROP.
    ns.run(curl + ["--connect-timeout", "4", f"http://127.0.0.1:{HTTP_RETRY}/"], check=True)
    ns.run(curl + ["--connect-timeout", "1.5", f"http://127.0.0.1:{HTTP_DROP}/"])
    # Half-close: the request, our FIN, then the server's answer and its FIN.
    s = ns.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", HTTP))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
    time.sleep(0.2)


NFT_RULES = f"""table inet ndxtest {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp dport {HTTP_RETRY} tcp flags & (syn|ack) == syn numgen inc mod 2 == 0 drop
    tcp dport {HTTP_DROP} tcp flags & (syn|ack) == syn drop
  }}
}}
"""


class TraceAgainstTshark(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        world.require("tshark", "tcpdump", "dumpcap", "nginx", "redis-server", "redis-cli", "curl",
                      "nft")
        cls.ns = Netns("trace")
        try:
            world.start_nginx(cls.ns, HTTP, extra_ports=(HTTP_RETRY, HTTP_DROP))
            world.start_redis(cls.ns, REDIS)
            world.nft(cls.ns, NFT_RULES)
            caps = [Capture(cls.ns, kind, "tcp") for kind in Capture.KINDS]
            for c in caps:
                c.wait_ready()
            make_traffic(cls.ns)
            cls.files = {c.kind: c.finish() for c in caps}
            # A later capture put first: mergecap -a keeps file order, so the file's clock
            # steps back by the whole first capture's age.
            late = Capture(cls.ns, "tcpdump-us", "tcp", name="late")
            late.wait_ready()
            cls.ns.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{HTTP}/"], check=True)
            cls.back = os.path.join(cls.ns.tmp, "stepped-back.pcap")
            subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", cls.back, late.finish(),
                            cls.files["tcpdump-us"]], check=True, timeout=60, capture_output=True)
        except BaseException:
            cls.ns.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ns.close()

    # -------------------------------------------------------------- the oracle's view

    def streams(self, path):
        """tshark's frames grouped by stream, with exact ns times."""
        rows = tshark_fields(path, FIELDS, prefs=["tcp.calculate_timestamps:TRUE"])
        self.assertTrue(rows, path)
        first = epoch_ns(rows[0]["frame.time_epoch"])
        streams = {}
        for r in rows:
            src = r["ip.src"] or r["ipv6.src"]
            dst = r["ip.dst"] or r["ipv6.dst"]
            st = streams.setdefault(int(r["tcp.stream"]), {"frames": []})
            st["frames"].append({
                "t": epoch_ns(r["frame.time_epoch"]),
                "src": f"{src}:{r['tcp.srcport']}", "dst": f"{dst}:{r['tcp.dstport']}",
                "src_hp": (src, int(r["tcp.srcport"])), "dst_hp": (dst, int(r["tcp.dstport"])),
                "syn": r["tcp.flags.syn"] == "1", "ack": r["tcp.flags.ack"] == "1",
                "fin": r["tcp.flags.fin"] == "1", "rst": r["tcp.flags.reset"] == "1",
                "irtt": seconds_ns(r["tcp.analysis.initial_rtt"]) if r["tcp.analysis.initial_rtt"] else None,
                "rel": seconds_ns(r["tcp.time_relative"]), "delta": seconds_ns(r["tcp.time_delta"]),
                "fin_active": r["tcp.connection.fin_active"] == "1",
                "seq": int(r["tcp.seq"] or 0), "ackno": int(r["tcp.ack"] or 0),
                "len": int(r["tcp.len"] or 0),
            })
        return first, max(epoch_ns(r["frame.time_epoch"]) for r in rows), streams

    def netdx(self, path, *extra):
        r = subprocess.run([world.binary("netdx-trace"), "-r", path, "--json", *extra],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def expected(self, st, file_first):
        """What the record of one stream must say, computed from tshark's frames only."""
        fr = st["frames"]
        synack_first = fr[0]["syn"] and fr[0]["ack"]
        orig = fr[0]["src"] if not synack_first else fr[0]["dst"]
        (orig_h, orig_p), (resp_h, resp_p) = ((fr[0]["src_hp"], fr[0]["dst_hp"]) if not synack_first
                                              else (fr[0]["dst_hp"], fr[0]["src_hp"]))
        syns = [f for f in fr if f["syn"] and not f["ack"] and f["src"] == orig]
        synacks = [f for f in fr if f["syn"] and f["ack"] and f["src"] != orig]
        exp = {"orig": orig, "orig_h": orig_h, "orig_p": orig_p, "resp_h": resp_h, "resp_p": resp_p,
               "ts_ns": fr[0]["t"], "start_ns": fr[0]["t"] - file_first,
               "duration_ns": fr[-1]["t"] - fr[0]["t"],
               "orig_pkts": sum(f["src"] == orig for f in fr),
               "resp_pkts": sum(f["src"] != orig for f in fr),
               "syn_retransmissions": max(len(syns) - 1, 0),
               # tshark's SYN times: the span to the last retransmission, exact.
               "syn_retransmission_span_ns": syns[-1]["t"] - syns[0]["t"] if len(syns) > 1 else None}
        rsts = [f for f in fr if f["rst"]]
        exp["rst_ns"] = rsts[0]["t"] - fr[0]["t"] if rsts else None
        exp["rst_by"] = ("none" if not rsts else "orig" if all(f["src"] == orig for f in rsts)
                         else "resp" if all(f["src"] != orig for f in rsts) else "both")
        # Who closed first, from tshark's sequence numbers (relative, per stream): the FINs
        # crossed (RFC 793 3.5, a simultaneous close) when the other side's first FIN does not
        # acknowledge the first one; otherwise the first FIN's side, which is then also the
        # frame tshark flags fin_active.
        fins = [f for f in fr if f["fin"]]
        fin_active = [f for f in fr if f["fin_active"]]
        exp["closer"] = "none"
        if fins:
            first = fins[0]
            answer = next((f for f in fins if f["src"] != first["src"]), None)
            crossed = answer is not None and (not answer["ack"] or
                                              answer["ackno"] < first["seq"] + first["len"] + 1)
            exp["closer"] = ("simultaneous" if crossed else "orig" if first["src"] == orig
                             else "resp")
            if not crossed:
                self.assertEqual(fin_active[0]["src"], first["src"])
        exp["handshake_ns"] = exp["syn_synack_ns"] = exp["synack_ack_ns"] = None
        exp["handshake_first_syn_ns"] = None
        if syns and synacks:
            first_sa = synacks[0]
            last_syn = [f for f in syns if f["t"] <= first_sa["t"]][-1]
            exp["syn_synack_ns"] = first_sa["t"] - last_syn["t"]
            acks = [f for f in fr if f["src"] == orig and f["ack"] and not f["syn"]
                    and f["t"] >= first_sa["t"]]
            if acks:
                last_sa = [f for f in synacks if f["t"] <= acks[0]["t"]][-1]
                exp["synack_ack_ns"] = acks[0]["t"] - last_sa["t"]
                exp["handshake_ns"] = acks[0]["t"] - last_syn["t"]
                from_first = acks[0]["t"] - syns[0]["t"]
                exp["handshake_first_syn_ns"] = from_first if len(syns) > 1 else None
                # tshark's own iRTT: from the (last, answered) SYN to the handshake's ACK.
                irtt = next(f["irtt"] for f in fr if f["irtt"] is not None)
                self.assertEqual(irtt, exp["handshake_ns"])
        return exp

    def check_file(self, kind):
        path = self.files[kind]
        first, last, streams = self.streams(path)
        doc = self.netdx(path, "--ladder", "--ladder-max", "0", "--ladder-packets", "1000")
        cap = doc["capture"]
        self.assertEqual(cap["timestamp_resolution_ns"], 1000 if kind == "tcpdump-us" else 1)
        self.assertEqual(cap["first_ts_ns"], first)
        self.assertEqual(cap["span_ns"], last - first)
        recs = sorted(doc["connections"], key=lambda r: r["ts_ns"])
        self.assertEqual(len(recs), len(streams), kind)
        states = {}
        for rec, (_, st) in zip(recs, sorted(streams.items(), key=lambda kv: kv[1]["frames"][0]["t"])):
            exp = self.expected(st, first)
            for key, want in exp.items():
                self.assertEqual(rec[key], want, f"{kind} {rec['orig']}->{rec['resp']}: {key}")
            if kind == "tcpdump-us":  # a µs file: every time is whole microseconds
                for key in ("ts_ns", "start_ns", "duration_ns", "handshake_ns"):
                    self.assertEqual((rec[key] or 0) % 1000, 0, key)
            # The ladder: each step's time since the connection's first packet and since the
            # previous one, as tshark's tcp.time_relative and tcp.time_delta.
            self.assertEqual(len(rec["ladder"]), len(st["frames"]))
            for step, f in zip(rec["ladder"], st["frames"]):
                self.assertEqual(step["t_ns"], f["rel"], f"{kind} ladder {rec['orig']}")
                self.assertEqual(step["delta_ns"], f["delta"], f"{kind} ladder {rec['orig']}")
            states.setdefault(int(rec["resp"].rsplit(":", 1)[1]), []).append(rec["state"])
        # What each scenario must be (the states Zeek gives these packet sequences).
        self.assertEqual(states[CLOSED], ["REJ"])
        self.assertEqual(states[HTTP_DROP], ["S0"])
        self.assertEqual(states[HTTP_RETRY], ["SF"])
        self.assertEqual(sorted(states[REDIS]), ["SF", "SF"])
        self.assertEqual(sorted(states[HTTP]), ["RSTO", "SF", "SF", "SF"])
        retry = next(r for r in recs if r["resp"].endswith(f":{HTTP_RETRY}"))
        self.assertEqual(retry["syn_retransmissions"], 1)
        # The wait before the retransmission is kept to the µs: tshark's, within one.
        syns = [f for f in next(st for st in streams.values()
                                if st["frames"][0]["dst"].endswith(f":{HTTP_RETRY}"))["frames"]
                if f["syn"] and not f["ack"]]
        self.assertLess(abs(retry["syn_retransmission_gap_ns"] - (syns[1]["t"] - syns[0]["t"])), 1000)
        self.assertGreater(retry["handshake_first_syn_ns"], 900_000_000)
        return doc

    def test_tcpdump_default_microsecond_pcap(self):
        self.check_file("tcpdump-us")

    def test_tcpdump_nanosecond_pcap(self):
        self.check_file("tcpdump-ns")

    def test_dumpcap_pcapng(self):
        self.check_file("dumpcap")

    def test_zeek_ts_and_duration_are_tshark_epochs(self):
        """conn.log's ts and duration: the first packet's epoch and the span, to the µs as
        Zeek writes them (rounded, never truncated into the wrong microsecond)."""
        for kind, path in self.files.items():
            _, _, streams = self.streams(path)
            r = subprocess.run([world.binary("netdx-trace"), "-r", path, "--zeek"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [l.split("\t") for l in r.stdout.splitlines() if not l.startswith("#")]
            got = sorted((l[0], l[8]) for l in lines)

            def us(ns):
                u = (ns + 500) // 1000
                return f"{u // 1_000_000}.{u % 1_000_000:06d}"

            want = []
            for st in streams.values():
                fr = st["frames"]
                dur = "-" if len(fr) == 1 else us(fr[-1]["t"] - fr[0]["t"])
                want.append((us(fr[0]["t"]), dur))
            self.assertEqual(got, sorted(want), kind)

    def test_a_clock_that_steps_back_gives_tshark_relative_times(self):
        """Starts before the first frame are negative, as tshark's frame.time_relative, and
        the span runs from the earliest frame to the latest: nothing wraps."""
        world.require("mergecap")
        first, last, streams = self.streams(self.back)
        rows = tshark_fields(self.back, ["frame.time_epoch", "frame.time_relative"])
        earliest = min(epoch_ns(r["frame.time_epoch"]) for r in rows)
        doc = self.netdx(self.back)
        self.assertEqual(doc["capture"]["span_ns"], last - earliest)
        got = sorted(r["start_ns"] for r in doc["connections"])
        want = sorted(st["frames"][0]["t"] - first for st in streams.values())
        self.assertEqual(got, want)
        self.assertLess(got[0], 0)
        self.assertTrue(any("before the previous one" in n for n in doc["notes"]), doc["notes"])

    def test_summary_counts_match_tshark(self):
        """Handshakes counted, resets and refused, against tshark's streams."""
        path = self.files["tcpdump-us"]
        first, _, streams = self.streams(path)
        doc = self.netdx(path)
        completed = sum(1 for st in streams.values()
                        if self.expected(st, first)["handshake_ns"] is not None)
        self.assertEqual(doc["handshake"]["count"], completed)
        with_rst = sum(1 for st in streams.values() if any(f["rst"] for f in st["frames"]))
        self.assertEqual(doc["events"]["reset"], with_rst)


if __name__ == "__main__":
    unittest.main()
