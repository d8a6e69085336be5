"""netdx-trace: the fixture captures (scripted loopback scenarios, made by
tests/fixtures/trace/make_fixtures.py) give the states, closers and timings each scenario must
give, the same on every link type, and agree with tshark where tshark can say; every output
format; ladders; --fail-if; broken input; live capture, -w, -Z and the missing privilege."""
import csv
import io
import json
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from netdx_test import FIXTURES, binary, require_program, require_root, run

TRACE = os.path.join(FIXTURES, "trace")
EN10MB = os.path.join(TRACE, "en10mb.pcap")

# Server port -> what the scenario must give: (conn_state, closer, Zeek history).
EXPECTED = {
    7001: ("SF", "orig", "ShADadFf"),        # the client closes first
    7002: ("SF", "resp", "ShAdfFa"),         # the server closes first
    7003: ("REJ", "none", "Sr"),             # nothing listens
    7004: ("RSTO", "none", "ShADaR"),        # the client resets
    7005: ("RSTR", "none", "ShADar"),        # the server resets
    7006: ("SF", "orig", "ShADaFf"),         # first SYN dropped: one S (same sequence number)
    7007: ("SF", "orig", "ShADaFdf"),        # half-close, then the server's data
    7008: ("S1", "none", "ShADa"),           # still open when the capture ended
    7010: ("SF", "simultaneous", "ShADaFf"), # the FINs crossed (retransmitted FINs: one F each)
    7011: ("SF", "orig", "DadAFf"),          # joined midstream, then closed
    7012: ("OTH", "none", "Da"),             # joined midstream, left open
    7013: ("S0", "none", "S"),               # every SYN dropped
    7020: ("SF", "orig", "ShADadFf"),        # IPv6
    7101: ("SH", "orig", "SF"),
    7102: ("SHR", "resp", "^hf"),
    7103: ("RSTOS0", "none", "SR"),
    7104: ("RSTRH", "none", "^hr"),
    7105: ("S2", "orig", "ShAF"),
    7106: ("S3", "resp", "ShAf"),
    7107: ("OTH", "none", "DdA"),
    7108: ("OTH", "none", "R"),              # a lone RST
    7109: ("SH", "orig", "Q"),               # SYN and FIN in one packet
}


def port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def server_port(rec):
    p = port_of(rec["resp"])
    return p if p in EXPECTED or p == 7009 else port_of(rec["orig"])


def trace_json(path, *extra):
    r = run(["netdx-trace", "-r", path, "--json", *extra])
    return r, (json.loads(r.stdout) if r.stdout else None)


class TraceFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r, cls.doc = trace_json(EN10MB)
        cls.recs = cls.doc["connections"]

    def test_every_scenario_gets_its_state_closer_and_history(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        seen = {}
        for rec in self.recs:
            port = server_port(rec)
            if port == 7009:
                continue
            self.assertNotIn(port, seen, rec)
            seen[port] = (rec["state"], rec["closer"], rec["history"])
        self.assertEqual(seen, EXPECTED)
        self.assertEqual(len(self.recs), len(EXPECTED) + 2)  # 7009 is two connections

    def test_counts_by_state_and_closer_add_up(self):
        states = {s["state"]: s["count"] for s in self.doc["states"]}
        self.assertEqual(states.pop("total"), len(self.recs))
        self.assertEqual(sum(states.values()), len(self.recs))
        self.assertEqual(states["SF"], 9)
        closers = {c["closer"]: c["count"] for c in self.doc["closers"]}
        self.assertEqual(sum(closers.values()), len(self.recs))
        self.assertEqual(closers["simultaneous"], 1)

    def test_port_reuse_is_two_connections(self):
        reuse = [r for r in self.recs if port_of(r["resp"]) == 7009]
        self.assertEqual(len(reuse), 2)
        self.assertEqual({r["orig"] for r in reuse}, {"127.0.0.1:47009"})
        self.assertEqual([r["state"] for r in reuse], ["SF", "SF"])
        self.assertEqual(sorted(r["ended"] for r in reuse), ["closed", "reused"])
        self.assertEqual(self.doc["events"]["reused"], 1)

    def by_port(self, port):
        return next(r for r in self.recs if server_port(r) == port)

    def test_syn_retransmission_timed_from_first_and_last_syn(self):
        r = self.by_port(7006)
        self.assertEqual(r["syn_retransmissions"], 1)
        # The kernel's 1 s initial RTO, as numbers (ns): the wait, and the span to the last.
        self.assertGreaterEqual(r["syn_retransmission_gap_ns"], 1_000_000_000)
        self.assertLess(r["syn_retransmission_gap_ns"], 1_100_000_000)
        # One retransmission: the span is that wait (the gap is kept to the µs).
        self.assertLess(abs(r["syn_retransmission_span_ns"] - r["syn_retransmission_gap_ns"]), 1000)
        self.assertIsNone(r["synack_retransmission_gap_ns"])
        self.assertGreater(r["handshake_first_syn_ns"], 900_000_000)
        self.assertLess(r["handshake_ns"], 50_000_000)  # the answered SYN, on loopback
        self.assertGreater(r["handshake_ns"], 0)
        self.assertEqual(r["handshake_ns"], r["syn_synack_ns"] + r["synack_ack_ns"])
        s0 = self.by_port(7013)
        self.assertEqual(s0["syn_retransmissions"], 1)
        self.assertIsNone(s0["handshake_ns"])
        self.assertEqual(self.doc["events"]["syn_retransmissions"], 2)

    def test_closer_time_wait_and_close_kinds(self):
        self.assertEqual(self.by_port(7001)["time_wait"], "orig")
        self.assertEqual(self.by_port(7002)["time_wait"], "resp")
        self.assertEqual(self.by_port(7010)["time_wait"], "simultaneous")
        self.assertEqual(self.by_port(7004)["rst_by"], "orig")
        self.assertEqual(self.by_port(7005)["rst_by"], "resp")
        self.assertEqual(self.by_port(7004)["close"], "rst")
        self.assertEqual(self.by_port(7001)["close"], "fin")
        self.assertEqual(self.by_port(7105)["close"], "half")
        half = self.by_port(7007)["half_close_ns"]
        self.assertGreater(half, 150_000_000)  # the server wrote 0.2 s after the client's FIN
        self.assertLess(half, 2_000_000_000)

    def test_handshake_options_and_flags(self):
        r = self.by_port(7001)
        self.assertEqual((r["orig_mss"], r["resp_mss"]), (65495, 65495))  # not 4294967255
        self.assertTrue(r["sack"])
        self.assertTrue(r["timestamps"])
        self.assertIsNotNone(r["orig_wscale"])
        self.assertTrue(self.by_port(7011)["midstream"])
        self.assertEqual(self.by_port(7008)["ended"], "capture_end")
        self.assertEqual(self.by_port(7020)["orig"].split("]:")[0], "[::1")

    def test_handshake_percentiles_are_ordered(self):
        h = self.doc["handshake"]
        self.assertGreater(h["count"], 0)
        self.assertLessEqual(h["p50_ns"], h["p90_ns"])
        self.assertLessEqual(h["p90_ns"], h["p99_ns"])
        self.assertLessEqual(h["p99_ns"], h["max_ns"])


class TraceAgreesWithTshark(unittest.TestCase):
    """Packet counts per direction, who sent the active FIN, and SYN retransmissions, as
    tshark reports them for the same file, stream by stream."""

    def test_per_stream_counts_closer_and_retransmissions(self):
        require_program("tshark")
        # The Ethernet capture, the real LINUX_SLL2 one, and the tagged copy.
        for name in ("en10mb.pcap", "sll2.pcap", "vlan.pcap"):
            self.compare(os.path.join(TRACE, name))

    def compare(self, path):
        out = subprocess.run(
            ["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport",
             "-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
             "-e", "tcp.connection.fin_active", "-e", "tcp.analysis.retransmission"],
            capture_output=True, text=True, timeout=120).stdout
        streams = {}
        for line in out.splitlines():
            f = line.split("\t")
            s = streams.setdefault(int(f[0]), {"packets": {}, "fin_active": None, "syn_rtx": 0,
                                               "first": (int(f[1]), int(f[2]))})
            src = int(f[1])
            s["packets"][src] = s["packets"].get(src, 0) + 1
            if f[5] == "1" and s["fin_active"] is None:
                s["fin_active"] = src
            if f[3] == "1" and f[4] == "0" and f[6] == "1":
                s["syn_rtx"] += 1
        _, doc = trace_json(path)
        recs = sorted(doc["connections"], key=lambda r: r["id"])
        self.assertEqual(len(recs), len(streams), path)
        for rec, (_, s) in zip(recs, sorted(streams.items())):
            o, r = port_of(rec["orig"]), port_of(rec["resp"])
            self.assertEqual({o, r}, set(s["first"]), rec)
            self.assertEqual(rec["orig_pkts"], s["packets"].get(o, 0), rec)
            self.assertEqual(rec["resp_pkts"], s["packets"].get(r, 0), rec)
            self.assertEqual(rec["syn_retransmissions"], s["syn_rtx"], rec)
            if s["fin_active"] is not None and rec["closer"] != "simultaneous":
                side = "orig" if s["fin_active"] == o else "resp"
                self.assertEqual(rec["closer"], side, rec)
            if s["fin_active"] is None:
                self.assertEqual(rec["closer"], "none", rec)


def comparable(rec):
    return {k: v for k, v in rec.items() if k not in ("ts", "ts_ns", "start_ns")}


class TraceLinkTypes(unittest.TestCase):
    def test_every_link_type_and_format_reads_the_same_connections(self):
        _, base = trace_json(EN10MB)
        want = sorted((comparable(r) for r in base["connections"]), key=lambda r: r["id"])
        v4 = [r for r in want if not r["orig"].startswith("[")]
        v6 = [r for r in want if r["orig"].startswith("[")]
        cases = {"en10mb.pcapng": want, "sll.pcap": want, "sll2.pcap": want, "null.pcap": want,
                 "loop.pcap": want, "raw.pcap": want, "vlan.pcap": want, "ipv4.pcap": v4,
                 "ipv6.pcap": v6}
        # The SLL files come from their own tcpdump, with their own timestamps: their times
        # differ by nanoseconds, everything else must not. The others are re-framed copies.
        timing = lambda k: k.endswith("_ns")
        for name, expect in cases.items():
            r, doc = trace_json(os.path.join(TRACE, name))
            self.assertEqual(r.returncode, 0, name + r.stderr)
            got = sorted((comparable(x) for x in doc["connections"]), key=lambda x: x["id"])
            own_clock = name.startswith("sll")
            # Connection numbers restart in the subsets.
            strip = lambda rows: [{k: v for k, v in x.items()
                                   if k != "id" and not (own_clock and timing(k))} for x in rows]
            self.assertEqual(strip(got), strip(expect), name)
        self.assertEqual(base["capture"]["link_type"], "EN10MB")
        _, sll2 = trace_json(os.path.join(TRACE, "sll2.pcap"))
        self.assertEqual(sll2["capture"]["link_type"], "LINUX_SLL2")

    def test_microsecond_files_keep_the_states_and_say_so(self):
        _, doc = trace_json(os.path.join(TRACE, "usec.pcap"))
        self.assertEqual(doc["capture"]["timestamps"], "us")
        _, ns = trace_json(EN10MB)
        self.assertEqual(ns["capture"]["timestamps"], "ns")
        by_id = lambda d: [r["state"] for r in sorted(d["connections"], key=lambda r: r["id"])]
        self.assertEqual(by_id(doc), by_id(ns))
        for r in doc["connections"]:
            if r["handshake_ns"] is not None:
                self.assertEqual(r["handshake_ns"] % 1000, 0)


class TraceFormats(unittest.TestCase):
    def test_ndjson_streams_connections_then_a_summary(self):
        r = run(["netdx-trace", "-r", EN10MB, "--ndjson"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([l["type"] for l in lines], ["run"] + ["connection"] * 24 + ["summary"])
        self.assertEqual(lines[-1]["handshake"]["count"], 13)

    def test_csv_has_the_schema_and_one_row_per_connection(self):
        r = run(["netdx-trace", "-r", EN10MB, "--csv"])
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertEqual(len(rows), 24)
        _, doc = trace_json(EN10MB)
        self.assertEqual(set(rows[0]), set(doc["connections"][0]))
        self.assertEqual({row["state"] for row in rows},
                         {c["state"] for c in doc["connections"]})

    def test_zeek_conn_log(self):
        r = run(["netdx-trace", "-r", EN10MB, "--zeek"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        fields = next(l for l in lines if l.startswith("#fields")).split("\t")[1:]
        self.assertEqual(fields[:6], ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h",
                                      "id.resp_p"])
        self.assertTrue(lines[-1].startswith("#close\t"))
        rows = [dict(zip(fields, l.split("\t"))) for l in lines if not l.startswith("#")]
        self.assertEqual(len(rows), 24)
        for row in rows:
            self.assertEqual(len(row), len(fields))
            self.assertEqual(row["proto"], "tcp")
        rej = next(row for row in rows if row["id.resp_p"] == "7003")
        self.assertEqual((rej["conn_state"], rej["history"]), ("REJ", "Sr"))
        self.assertRegex(rej["ts"], r"^\d+\.\d{6}$")

    def test_state_selects_what_is_listed_and_the_summary_counts_all(self):
        r, doc = trace_json(EN10MB, "--state", "REJ,RSTO,rstr")
        self.assertEqual(sorted(c["state"] for c in doc["connections"]), ["REJ", "RSTO", "RSTR"])
        self.assertEqual({s["state"]: s["count"] for s in doc["states"]}["total"], 24)
        r, doc = trace_json(EN10MB, "--state", "!SF,S1")
        self.assertEqual(len(doc["connections"]), 24 - 9 - 1)
        self.assertNotIn("SF", {c["state"] for c in doc["connections"]})
        r = run(["netdx-trace", "-r", EN10MB, "--state", "SF,XYZ"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'XYZ'", r.stderr)

    def test_count_and_duration_stop_a_file_early(self):
        _, doc = trace_json(EN10MB, "--count", "10")
        self.assertEqual(doc["capture"]["frames"], 10)
        self.assertEqual(sum(c["orig_pkts"] + c["resp_pkts"] for c in doc["connections"]), 10)
        # Capture time: the first 0.3 s hold scenarios 7001-7005 (7006 starts at 0.32 s).
        _, doc = trace_json(EN10MB, "--duration", "300ms")
        self.assertLess(doc["capture"]["span_ns"], 300_000_000)
        ports = sorted(port_of(c["resp"]) for c in doc["connections"])
        self.assertEqual(ports, [7001, 7002, 7003, 7004, 7005])

    def test_table_lists_the_first_connections_and_notes_the_rest(self):
        r = run(["netdx-trace", "-r", EN10MB, "--top", "5", "--color=never"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("5 of 24 connections listed", r.stdout)
        self.assertIn("Connections by state", r.stdout)
        self.assertIn("REJ", r.stdout)


class TraceLadder(unittest.TestCase):
    def ladder(self, filt):
        r = run(["netdx-trace", "-r", EN10MB, f"--ladder={filt}", "--top", "1",
                 "--color=never"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split("\nConnections\n")[0]

    def test_simultaneous_close_is_drawn_with_both_sides_states(self):
        text = self.ladder("7010")
        self.assertIn("closer: simultaneous", text)
        lines = [l for l in text.splitlines() if "--" in l and ("->" in l or "<-" in l)]
        self.assertEqual(len(lines), 11)  # every packet of the connection
        self.assertIn("CLOSING", text)
        self.assertTrue(lines[-1].rstrip().endswith("TIME_WAIT"))
        self.assertTrue(any("[retransmission]" in l and "FIN" in l for l in lines))
        self.assertIn("SYN_SENT", lines[0])

    def test_alignment_holds_whatever_the_label_length(self):
        text = self.ladder("7001,7020,REJ,SF")
        blocks = [b for b in text.split("\n\n") if b.strip()]
        self.assertEqual(len(blocks), 2)  # 7001 (v4) and 7020 (v6, long addresses)
        for block in blocks:
            lines = block.splitlines()
            rows = lines[3:]
            # The right-hand state column starts at the same offset on every row.
            right = {len(l) - len(l.rstrip().split()[-1]) - (len(l) - len(l.rstrip()))
                     for l in rows}
            self.assertEqual(len(right), 1, block)
            header_right = lines[1].rstrip().rsplit(" ", 1)[1]
            self.assertEqual(lines[1].index(header_right), right.pop(), block)

    def test_refused_is_drawn_without_a_listener(self):
        text = self.ladder("REJ")
        self.assertIn("RST/ACK", text)
        self.assertNotIn("LISTEN", text)

    def test_ladder_steps_in_json_records(self):
        r = run(["netdx-trace", "-r", EN10MB, "--ndjson", "--ladder=7010"])
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [json.loads(l) for l in r.stdout.splitlines()][:-1]
        drawn = [c for c in recs if "ladder" in c]
        self.assertEqual([port_of(c["resp"]) for c in drawn], [7010])
        steps = drawn[0]["ladder"]
        self.assertEqual(len(steps), drawn[0]["orig_pkts"] + drawn[0]["resp_pkts"])
        self.assertEqual(steps[0]["flags"], "SYN")
        self.assertEqual((steps[0]["orig_state"], steps[0]["resp_state"]), ("SYN_SENT", "LISTEN"))
        self.assertEqual((steps[-1]["orig_state"], steps[-1]["resp_state"]), ("TIME_WAIT", "TIME_WAIT"))
        self.assertEqual(sum(s["retransmission"] for s in steps), 2)  # the two FINs sent again
        self.assertEqual(sum(s["delta_ns"] for s in steps), steps[-1]["t_ns"])
        # --state hides what it does not list, ladders included.
        r = run(["netdx-trace", "-r", EN10MB, "--json", "--ladder=7010", "--state", "REJ"])
        self.assertNotIn("ladder", json.loads(r.stdout)["connections"][0])

    def test_bad_filter_names_the_term(self):
        r = run(["netdx-trace", "-r", EN10MB, "--ladder=bogus"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'bogus'", r.stderr)


class TraceChecks(unittest.TestCase):
    def test_fail_if(self):
        r = run(["netdx-trace", "-r", EN10MB, "--fail-if", "rst>0", "--json"])
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        self.assertFalse(doc["passed"])
        self.assertEqual(doc["checks"][0]["actual"], 6)
        r = run(["netdx-trace", "-r", EN10MB, "--fail-if", "handshake_p99>1s",
                 "--fail-if", "refused>1"])
        self.assertEqual(r.returncode, 0, r.stdout)
        r = run(["netdx-trace", "-r", EN10MB, "--fail-if", "handshake_p99>1us", "--csv"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("check failed: handshake_p99>1us", r.stderr)
        r = run(["netdx-trace", "-r", EN10MB, "--fail-if", "resets>0"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("resets", r.stderr)


def write_pcap(path, linktype, frames, snaplen=65535, magic=0xA1B23C4D):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for i, (data, wire) in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i, len(data), wire))
            f.write(data)


def en10mb_frames():
    with open(EN10MB, "rb") as f:
        data = f.read()
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, wire = struct.unpack("<IIII", data[off:off + 16])
        out.append((data[off + 16:off + 16 + caplen], wire))
        off += 16 + caplen
    return out


def pcapng(path, tsoffset, stamps_ns, tsresol=9):
    """A pcapng of SYNs (one per timestamp, in the interface's ticks) on one Ethernet
    interface with if_tsresol and, when given, if_tsoffset (seconds added to every time)."""
    def block(kind, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    def opt(code, data):
        return struct.pack("<HH", code, len(data)) + data + b"\0" * (-len(data) % 4)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(0, b""))
    opts = opt(9, bytes([tsresol]))
    if tsoffset is not None:
        opts += opt(14, struct.pack("<q", tsoffset))
    out += block(1, struct.pack("<HHI", 1, 0, 65535) + opts + opt(0, b""))
    for i, ts in enumerate(stamps_ns):
        ip = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1])
        tcp = struct.pack(">HHIIBBHHH", 40000 + i, 80, 1, 0, 0x50, 0x02, 1000, 0, 0)
        frame = b"\0" * 12 + b"\x08\x00" + ip + tcp
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame),
                                    len(frame)) + frame)
    with open(path, "wb") as f:
        f.write(out)


class TraceTimestampEdges(unittest.TestCase):
    """Times a capture can hold that 64-bit nanoseconds since 1970 cannot, and times that go
    backwards: never an overflow (UBSan runs these in the sanitizer build), never a wrap."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def trace(self, path):
        r = run(["netdx-trace", "-r", path, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_if_tsoffset_is_applied_as_tshark_applies_it(self):
        require_program("tshark")
        path = os.path.join(self.dir.name, "offset.pcapng")
        pcapng(path, 1000, [1_700_000_000_123_456_789, 1_700_000_000_223_456_790])
        out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch"],
                             capture_output=True, text=True, timeout=60).stdout.split()
        want = [int(t.replace(".", "")) for t in out]  # nine decimals: the epoch in ns
        doc = self.trace(path)
        self.assertEqual(sorted(c["ts_ns"] for c in doc["connections"]), want)
        self.assertEqual(doc["capture"]["span_ns"], want[1] - want[0])
        self.assertEqual(doc["capture"]["first_ts_ns"], want[0])

    def test_times_past_2262_are_skipped_and_named(self):
        path = os.path.join(self.dir.name, "far.pcapng")
        pcapng(path, 8_000_000_000, [1_700_000_000_000_000_000])  # 9.7e9 s: the year 2277
        pcapng(os.path.join(self.dir.name, "far2.pcapng"), None, [18_000_000_000_000_000_000])
        for p in (path, os.path.join(self.dir.name, "far2.pcapng")):
            doc = self.trace(p)
            self.assertEqual(doc["connections"], [])
            self.assertEqual(doc["skipped"], [{"reason": "bad_timestamp", "count": 1,
                                               "what": "timestamp out of range (before 1970 or after 2262)"}])
            self.assertTrue(any("2262" in n for n in doc["notes"]), doc["notes"])

    def test_a_clock_stepping_back_gives_negative_starts_not_a_wrap(self):
        path = os.path.join(self.dir.name, "back.pcapng")
        t0 = 1_700_000_000_000_000_000
        pcapng(path, None, [t0, t0 + 5_000_000, t0 - 3_000_000_000])
        doc = self.trace(path)
        starts = sorted(c["start_ns"] for c in doc["connections"])
        self.assertEqual(starts, [-3_000_000_000, 0, 5_000_000])
        self.assertEqual(doc["capture"]["span_ns"], 3_005_000_000)
        self.assertTrue(any("before the previous one" in n for n in doc["notes"]), doc["notes"])
        table = run(["netdx-trace", "-r", path]).stdout.split("Connections by state")[0]
        self.assertRegex(table, r"\n\s+3\s+-3s\s")
        self.assertNotRegex(table, r"\d+h\d+m")  # an unsigned wrap prints as 5124095h34m


class TraceBrokenInput(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_truncated_file_reports_what_it_read_and_exits_2(self):
        with open(EN10MB, "rb") as f:
            data = f.read()
        with open(self.path("cut.pcap"), "wb") as f:
            f.write(data[:5000])
        r = run(["netdx-trace", "-r", self.path("cut.pcap"), "--json"])
        self.assertEqual(r.returncode, 2)
        doc = json.loads(r.stdout)
        self.assertGreater(doc["capture"]["frames"], 10)
        self.assertTrue(any("reading stopped" in n for n in doc["notes"]), doc["notes"])

    def test_garbage_and_missing_files_are_clear_errors(self):
        with open(self.path("junk.pcap"), "wb") as f:
            f.write(os.urandom(3000))
        for p in (self.path("junk.pcap"), self.path("missing.pcap")):
            r = run(["netdx-trace", "-r", p])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(p, r.stderr)
            self.assertEqual(r.stdout, "")

    def test_a_file_name_that_is_not_utf8_keeps_the_json_valid(self):
        name = os.path.join(self.dir.name.encode(), b"caf\xe9.pcap")  # Latin-1, as on old disks
        with open(EN10MB, "rb") as src, open(name, "wb") as dst:
            dst.write(src.read())
        r = subprocess.run([binary("netdx-trace").encode(), b"-r", name, b"--json"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)  # the whole report used to fail: invalid UTF-8 byte
        self.assertTrue(doc["capture"]["source"].endswith("caf\\xe9.pcap"), doc["capture"])

    def test_unknown_link_type_is_named(self):
        write_pcap(self.path("usb.pcap"), 189, [(b"\0" * 64, 64)])
        r = run(["netdx-trace", "-r", self.path("usb.pcap")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not supported", r.stderr)

    def test_mixed_link_pcapng_stops_with_the_reason(self):
        r = run(["netdx-trace", "-r", os.path.join(TRACE, "mixed.pcapng"), "--json"])
        self.assertEqual(r.returncode, 2)
        doc = json.loads(r.stdout)
        self.assertTrue(any("different from the type of the first interface" in n
                            for n in doc["notes"]), doc["notes"])

    def test_snaplen_cut_garbage_and_non_tcp_frames_are_counted_as_skipped(self):
        frames = en10mb_frames()
        mangled = []
        for i, (data, wire) in enumerate(frames):
            if i % 4 == 1:
                data = data[:40]                       # cut inside the TCP header
            elif i % 4 == 2:
                data = data[:14] + bytes([0x45]) + os.urandom(len(data) - 15)  # garbage IP
            mangled.append((data, wire))
        arp = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\0" * 28
        mangled.append((arp, len(arp)))
        write_pcap(self.path("mangled.pcap"), 1, mangled)
        r, doc = trace_json(self.path("mangled.pcap"))
        self.assertEqual(r.returncode, 0, r.stderr)
        cap = doc["capture"]
        self.assertEqual(cap["frames"], len(mangled))
        self.assertEqual(cap["tcp_packets"] + cap["skipped"], cap["frames"])
        reasons = {s["reason"]: s["count"] for s in doc["skipped"]}
        cut = frames[1::4]
        v6 = sum(1 for data, _ in cut if data[12:14] == b"\x86\xdd")
        self.assertGreater(v6, 0)
        self.assertEqual(reasons["truncated_tcp"], len(cut) - v6)  # 40 bytes: inside TCP
        self.assertGreaterEqual(reasons["truncated_ip"], v6)       # ... or inside IPv6
        self.assertEqual(reasons["not_ip"], 1)
        self.assertGreaterEqual(cap["skipped"], len(frames) // 4 + 1)

    def test_usage_errors(self):
        for args, word in ((["netdx-trace"], "-r FILE"),
                           (["netdx-trace", "-r", EN10MB, "-i", "lo"], "together"),
                           (["netdx-trace", "-r", EN10MB, "-Z", "nobody"], "-Z"),
                           (["netdx-trace", "-r", EN10MB, "--zeek", "--json"], "--zeek"),
                           (["netdx-trace", "-r", EN10MB, "--ladder", "--csv"], "--ladder"),
                           (["netdx-trace", "-r", EN10MB, "port", "70000x"], "70000x")):
            r = run(args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(word, r.stderr, args)


class EchoPeer:
    """A loopback server that echoes once and closes after its client."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.host = host
        self.srv = socket.socket(family, socket.SOCK_STREAM)
        self.srv.bind((host, 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                a, _ = self.srv.accept()
            except OSError:
                return
            with a:
                data = a.recv(100)
                a.sendall(data)
                a.recv(100)

    def connections(self, n):
        for _ in range(n):
            with socket.create_connection((self.host, self.port)) as c:
                c.sendall(b"hi")
                c.recv(100)

    def close(self):
        self.srv.close()


def start_live(args):
    p = subprocess.Popen([binary("netdx-trace")] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # the capture is open
    return p


class TraceLive(unittest.TestCase):
    def test_live_loopback_with_a_filter_and_a_copy_on_disk(self):
        require_root()
        peer = EchoPeer()
        self.addCleanup(peer.close)
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "copy.pcap")
            p = start_live(["-i", "lo", "--duration", "2s", "--json", "-w", copy,
                            "tcp", "port", str(peer.port)])
            peer.connections(3)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            doc = json.loads(out)
            states = [c["state"] for c in doc["connections"]]
            self.assertEqual(states, ["SF"] * 3)
            self.assertEqual({c["closer"] for c in doc["connections"]}, {"orig"})
            self.assertEqual(doc["capture"]["kernel_dropped"], 0)
            self.assertEqual(doc["capture"]["timestamps"], "ns")
            # The copy reads back to the same connections.
            r2, again = trace_json(copy)
            self.assertEqual([comparable(c) for c in again["connections"]],
                             [comparable(c) for c in doc["connections"]])

    def test_count_stops_and_ctrl_c_prints_what_was_seen(self):
        require_root()
        peer = EchoPeer()
        self.addCleanup(peer.close)
        p = start_live(["-i", "lo", "--count", "5", "--json", "tcp", "port", str(peer.port)])
        peer.connections(2)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(json.loads(out)["capture"]["frames"], 5)
        p = start_live(["-i", "lo", "--ndjson", "tcp", "port", str(peer.port)])
        peer.connections(2)
        time.sleep(1.5)  # past the linger: both are streamed out already
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([l["type"] for l in lines], ["run", "connection", "connection", "summary"])
        self.assertTrue(lines[-1]["interrupted"])

    def test_privileges_dropped_with_dash_z(self):
        require_root()
        peer = EchoPeer()
        self.addCleanup(peer.close)
        p = start_live(["-i", "lo", "--duration", "2s", "-Z", "nobody", "--json",
                        "tcp", "port", str(peer.port)])
        status = open(f"/proc/{p.pid}/status").read()
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
        self.assertEqual(int(uid), pwd.getpwnam("nobody").pw_uid)
        peer.connections(1)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(json.loads(out)["states"][0]["state"], "SF")

    def test_missing_capability_exits_77_and_names_it(self):
        require_root()
        r = run([require_program("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 "--inh-caps=-all", binary("netdx-trace"), "-i", "lo", "--count", "1"])
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("CAP_NET_RAW", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_no_such_interface_is_unavailable(self):
        require_root()
        r = run(["netdx-trace", "-i", "netdx-none0", "--count", "1"])
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("netdx-none0", r.stderr)


if __name__ == "__main__":
    unittest.main()
