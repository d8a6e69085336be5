"""Every tool's --json document, in each of its modes and as an error document, is valid
against the JSON Schema that ships in schema/ (validated by python3-jsonschema, Draft
2020-12); and the schemas are not vacuous: documents with a wrong type are rejected."""
import copy
import glob
import json
import os
import tempfile
import unittest

from echo_server import EchoProcess
from netdx_test import FIXTURES, SOURCE, run

try:
    import jsonschema
except ImportError:  # the Debian package python3-jsonschema (bootstrap installs it)
    jsonschema = None

SCHEMAS = os.path.join(SOURCE, "schema")


def load_schemas():
    store = {}
    for path in glob.glob(os.path.join(SCHEMAS, "*.schema.json")):
        schema = json.load(open(path))
        jsonschema.Draft202012Validator.check_schema(schema)
        store[schema["$id"]] = schema
    return store


class Schemas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if jsonschema is None:
            raise unittest.SkipTest("python3-jsonschema is not installed")
        cls.store = load_schemas()
        cls.dir = tempfile.mkdtemp(prefix="netdx-schema-")

    def validator(self, tool):
        schema = self.store[f"urn:netdx:schema:{tool}:1"]
        resolver = jsonschema.RefResolver.from_schema(schema, store=self.store)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)

    def valid(self, tool, doc, what):
        errors = sorted(self.validator(tool).iter_errors(doc), key=lambda e: list(e.path))
        self.assertEqual([], [f"{list(e.path)}: {e.message}"[:300] for e in errors], what)

    def document(self, args, codes=(0,)):
        r = run(args + ["--json"])
        self.assertIn(r.returncode, codes, f"{args}: {r.stderr[-1500:]}")
        return json.loads(r.stdout)

    def save(self, name, doc):
        path = os.path.join(self.dir, name)
        json.dump(doc, open(path, "w"))
        return path

    def test_every_tool_and_mode_matches_its_schema(self):
        pcap = os.path.join(FIXTURES, "trace", "en10mb.pcap")
        cases = [
            ("doctor", ["netdx-doctor"], (0, 1)),
            ("tour", ["netdx-tour", "--only", "doctor"], (0,)),
            ("echo", ["netdx-echo", "--listen", "127.0.0.1:0", "--duration", "200ms"], (0,)),
            ("probe", ["netdx-probe", "-n", "200", "--warmup", "0"], (0,)),
            ("probe", ["netdx-probe", "--udp", "-n", "200", "--warmup", "0", "--size", "64,1KiB"], (0,)),
            ("probe", ["netdx-probe", "--rate", "2k/s", "--duration", "500ms", "--warmup", "0",
                       "--interval", "100ms"], (0,)),
            ("probe", ["netdx-probe", "--connect", "-n", "20", "--warmup", "0"], (0,)),
            ("flood", ["netdx-flood", "-n", "50", "--hold", "0"], (0,)),
            ("flood", ["netdx-flood", "-n", "20", "--hold", "300ms", "--send", "64", "--every",
                       "100ms", "--interval", "100ms"], (0,)),
            ("states", ["netdx-states"], (0, 1)),
            ("mux", ["netdx-mux", "--quick", "-n", "10", "--rounds", "20", "--warmup", "2", "-m",
                     "ready"], (0,)),
            ("trace", ["netdx-trace", "-r", pcap], (0, 1)),
        ]
        for tool, args, codes in cases:
            with self.subTest(args=args):
                self.valid(tool, self.document(args, codes), args)

    def test_merged_and_compared_documents_match_theirs(self):
        floods = [self.save(f"f{i}.json", self.document(
            ["netdx-flood", "-n", "30", "--hold", "0", "--shard", f"{i}/2", "--run-id", "schema"]))
            for i in range(2)]
        server = EchoProcess()
        self.addCleanup(server.stop)
        probes = [self.save(f"p{i}.json", self.document(
            ["netdx-probe", f"127.0.0.1:{server.port}", "-n", "100", "--warmup", "0", "--shard", f"{i}/2", "--run-id", "schema-p"]))
            for i in range(2)]
        merged_flood = self.document(["netdx-merge"] + floods)
        self.valid("merge", merged_flood, "merged flood")
        merged_probe = self.document(["netdx-merge"] + probes)
        self.valid("merge", merged_probe, "merged probe")
        # The merge schema tells the two apart: a probe merge is not a flood merge.
        swapped = copy.deepcopy(merged_probe)
        swapped["tool_merged"] = "netdx-flood"
        self.assertFalse(self.validator("merge").is_valid(swapped))
        self.valid("compare", self.document(["netdx-compare"] + probes), "compare")
        self.valid("compare", self.document(["netdx-compare"] + floods), "compare flood")

    def test_error_documents_match_too(self):
        for tool, args in (("probe", ["netdx-probe", "--size", "x"]),
                           ("flood", ["netdx-flood", "-n", "0"]),
                           ("echo", ["netdx-echo", "--listen", "nowhere:port"]),
                           ("trace", ["netdx-trace", "-r", "/nonexistent.pcap"]),
                           ("merge", ["netdx-merge", "/nonexistent.json"]),
                           ("compare", ["netdx-compare", "a"])):
            with self.subTest(args=args):
                r = run(args + ["--json"])
                self.assertNotEqual(r.returncode, 0)
                doc = json.loads(r.stdout)
                self.assertIsNotNone(doc["error"])
                self.valid(tool, doc, args)

    def test_the_schemas_reject_what_they_must(self):
        doc = self.document(["netdx-flood", "-n", "20", "--hold", "0"])
        self.valid("flood", doc, "as printed")
        for path, bad in ((["flood", "hold_ns"], "1s"),          # a duration as text
                          (["result", "rate_per_s"], "12.2/s"),   # a rate as text
                          (["result", "established"], None),     # a count that must be there
                          (["schema_version"], 2),
                          (["run", "start"], "yesterday"),
                          (["run", "shard"], {"index": -1, "count": 3}),
                          (["histograms", "connect_latency", "encoding"], "hdr-v2")):
            broken = copy.deepcopy(doc)
            node = broken
            for key in path[:-1]:
                node = node[key]
            if bad is None:
                del node[path[-1]]
            else:
                node[path[-1]] = bad
            self.assertFalse(self.validator("flood").is_valid(broken), path)
        probe = self.document(["netdx-probe", "-n", "50", "--warmup", "0"])
        probe["results"][0]["p99_ns"] = "31us"
        self.assertFalse(self.validator("probe").is_valid(probe))


if __name__ == "__main__":
    unittest.main()
