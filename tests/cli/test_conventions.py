"""The conventions every tool shares: --version, --help, usage errors exit 2 with one line
naming the bad token and a hint, --json is valid JSON, unwritable output exits 74."""
import json
import unittest

from netdx_test import REPORTING_TOOLS, TOOLS, run


class Conventions(unittest.TestCase):
    def test_version(self):
        for tool in TOOLS:
            r = run([tool, "--version"])
            self.assertEqual(r.returncode, 0, tool)
            self.assertRegex(r.stdout.strip(), rf"^{tool} \d+\.\d+\.\d+$")

    def test_help_mentions_json_and_exits_0(self):
        for tool in REPORTING_TOOLS:
            r = run([tool, "--help"])
            self.assertEqual(r.returncode, 0, tool)
            self.assertIn("--json", r.stdout)
            self.assertIn("--color", r.stdout)

    def test_unknown_option_is_a_usage_error(self):
        for tool in REPORTING_TOOLS:
            r = run([tool, "--no-such-option"])
            self.assertEqual(r.returncode, 2, tool)
            self.assertEqual(r.stdout, "")
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 2, r.stderr)
            self.assertIn("--no-such-option", lines[0])
            self.assertIn(f"Try '{tool} --help'", lines[1])

    def test_usage_errors_under_json_still_print_a_document(self):
        # Errors before anything runs print no report, but a --json caller is owed a document:
        # the error with its exit code, on stdout; the message still on stderr.
        for tool in REPORTING_TOOLS:
            r = run([tool, "--json", "--no-such-option"])
            self.assertEqual(r.returncode, 2, tool)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["tool"], tool)
            self.assertIs(doc["passed"], False)
            self.assertEqual(doc["error"]["exit_code"], 2)
            self.assertEqual(doc["error"]["kind"], "usage")
            self.assertIn("--no-such-option", doc["error"]["message"])
            self.assertIn("--no-such-option", r.stderr)
            r = run([tool, "--ndjson", "--no-such-option"])
            if "--ndjson" in run([tool, "--help"]).stdout:
                run_line, line = [json.loads(x) for x in r.stdout.splitlines()]
                self.assertEqual((run_line["type"], run_line["schema_version"]), ("run", 1))
                self.assertEqual((line["type"], line["kind"]), ("error", "usage"))

    def test_bad_color_names_the_token(self):
        r = run(["netdx-doctor", "--color=sometimes"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'sometimes'", r.stderr)

    def test_bad_threshold_names_the_metric_and_lists_metrics(self):
        r = run(["netdx-doctor", "--fail-if", "p98>2ms"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown metric 'p98'", r.stderr)
        self.assertIn("warnings", r.stderr)
        r = run(["netdx-doctor", "--fail-if", "warnings>lots"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'lots'", r.stderr)

    def test_formats_are_exclusive(self):
        r = run(["netdx-doctor", "--json", "--csv"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("excludes", r.stderr)

    def test_json_is_valid_for_every_reporting_tool(self):
        for tool, args in REPORTING_TOOLS.items():
            r = run([tool, "--json"] + args)
            self.assertEqual(r.returncode, 0, (tool, r.stderr))
            doc = json.loads(r.stdout)
            self.assertEqual(doc["tool"], tool)
            self.assertIn("checks", doc)
            self.assertIs(doc["passed"], True)
            self.assertEqual(doc["exit_code"], 0)
            self.assertIsNone(doc["error"])

    def test_unwritable_output_exits_74(self):
        for tool, args in REPORTING_TOOLS.items():
            with open("/dev/full", "w") as full:
                r = run([tool, "--json"] + args, stdout=full)
            self.assertEqual(r.returncode, 74, tool)
            self.assertIn("No space left on device", r.stderr, tool)

    def test_no_color_when_piped_or_NO_COLOR_and_color_when_forced(self):
        self.assertNotIn("\x1b[", run(["netdx-doctor"]).stdout)
        self.assertNotIn("\x1b[", run(["netdx-doctor", "--color=auto"], env={"NO_COLOR": "1"}).stdout)
        self.assertIn("\x1b[", run(["netdx-doctor", "--color=always"], env={"NO_COLOR": "1"}).stdout)
        self.assertNotIn("\x1b[", run(["netdx-doctor", "--color=always", "--json"]).stdout)
