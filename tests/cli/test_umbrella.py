"""`netdx <tool>` runs netdx-<tool> from its own directory, git-style."""
import json
import unittest

from netdx_test import run


class Umbrella(unittest.TestCase):
    def test_dispatches_to_the_tool_with_its_arguments(self):
        r = run(["netdx", "doctor", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["tool"], "netdx-doctor")

    def test_exit_code_of_the_tool_passes_through(self):
        r = run(["netdx", "doctor", "--bogus"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("netdx-doctor: error", r.stderr)

    def test_help_lists_each_tool_with_one_line(self):
        r = run(["netdx", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"\n  doctor +\S")
        self.assertRegex(r.stdout, r"\n  tour +\S")
        self.assertRegex(r.stdout, r"\n  echo +\S")
        self.assertRegex(r.stdout, r"\n  probe +\S")
        self.assertRegex(r.stdout, r"\n  flood +\S")
        self.assertRegex(r.stdout, r"\n  states +\S")

    def test_unknown_tool_is_a_usage_error(self):
        r = run(["netdx", "frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'frobnicate' is not a netdx tool", r.stderr)
        self.assertIn("doctor", r.stderr)

    def test_no_tool_is_a_usage_error(self):
        r = run(["netdx"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("no tool given", r.stderr)
