"""Man pages render without warnings and carry the shared sections."""
import os
import subprocess
import unittest

from netdx_test import BUILD, TIMEOUT, require_program

PAGES = ["netdx.1", "netdx-doctor.1", "netdx-tour.1", "netdx-echo.1", "netdx-probe.1", "netdx-flood.1", "netdx-states.1",
         "netdx-mux.1", "netdx-trace.1", "netdx.7"]


class ManPages(unittest.TestCase):
    def render(self, page):
        require_program("man")
        path = os.path.join(BUILD, "man", page)
        self.assertTrue(os.path.exists(path), path)
        env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8")
        return subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)

    def test_pages_render_without_warnings(self):
        for page in PAGES:
            r = self.render(page)
            self.assertEqual(r.returncode, 0, page)
            self.assertEqual(r.stderr, "", f"{page}: {r.stderr}")
            self.assertIn("NAME", r.stdout)

    def test_tool_pages_have_the_exit_code_table_and_examples(self):
        for page in ["netdx.1", "netdx-doctor.1", "netdx-tour.1", "netdx-echo.1", "netdx-probe.1", "netdx-flood.1", "netdx-states.1",
                     "netdx-mux.1", "netdx-trace.1", "netdx-merge.1", "netdx-compare.1"]:
            out = self.render(page).stdout
            self.assertIn("EXIT STATUS", out, page)
            for code in ["69", "71", "74", "77", "130"]:
                self.assertIn(code, out, page)
            self.assertIn("--fail-if", out, page)

    def test_concepts_page_covers_the_suite(self):
        out = self.render("netdx.7").stdout
        for topic in ["4-TUPLE", "TIME_WAIT", "CLOSE_WAIT", "2MSL", "EPOLLET", "C10K", "FD_SETSIZE",
                      "SYN_SENT", "LAST_ACK"]:
            self.assertIn(topic, out)

    def test_every_option_of_each_tool_is_in_its_page(self):
        import re
        from netdx_test import run
        for tool in ["netdx-doctor", "netdx-tour", "netdx-echo", "netdx-probe", "netdx-flood", "netdx-states",
                     "netdx-mux", "netdx-trace", "netdx-merge", "netdx-compare"]:
            page = self.render(tool + ".1").stdout
            options = set(re.findall(r"(--[a-z][a-z-]*)", run([tool, "--help"]).stdout)) - {"--help", "--version"}
            for opt in options:
                self.assertIn(opt, page, f"{tool}: {opt} is not documented")
