"""`netdx <tool>` runs netdx-<tool> from its own directory, git-style; the umbrella's table,
each tool's --help, man page and completions agree (they come from one registration)."""
import json
import os
import re
import unittest

from netdx_test import BIN, BUILD, run


def umbrella_table():
    """{name: summary} as `netdx --help` lists them."""
    out = run(["netdx", "--help"]).stdout
    table = out[out.index("Tools:\n"):].split("\n\n")[0]
    return dict(re.findall(r"^  (\S+) +(.+)$", table, re.M))


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


class Registry(unittest.TestCase):
    def test_the_table_lists_exactly_the_tools_that_were_built(self):
        built = {f[len("netdx-"):] for f in os.listdir(BIN)
                 if f.startswith("netdx-") and os.access(os.path.join(BIN, f), os.X_OK)}
        self.assertEqual(set(umbrella_table()), built)

    def test_one_summary_in_the_table_the_help_and_the_man_page(self):
        for name, summary in umbrella_table().items():
            with self.subTest(tool=name):
                binary = f"netdx-{name}"
                first_line = run([binary, "--help"]).stdout.split("\n")[0]
                self.assertEqual(first_line, summary)
                with open(os.path.join(BUILD, "man", f"{binary}.1")) as f:
                    page = f.read()
                name_line = page[page.index(".SH NAME"):].split("\n")[2]
                self.assertEqual(name_line, f"{binary} - {summary}")

    def test_every_tool_has_its_page_and_completions(self):
        for name in list(umbrella_table()) + [None]:
            binary = f"netdx-{name}" if name else "netdx"
            with self.subTest(tool=binary):
                for path in [f"man/{binary}.1", f"completions/bash/{binary}", f"completions/zsh/_{binary}",
                             f"completions/fish/{binary}.fish"]:
                    self.assertTrue(os.path.exists(os.path.join(BUILD, path)), path)
