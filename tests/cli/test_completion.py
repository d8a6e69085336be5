"""The generated completions load in the real shells and complete the options."""
import os
import subprocess
import unittest

from netdx_test import BIN, BUILD, TIMEOUT, require_program

COMPLETIONS = os.path.join(BUILD, "completions")
HERE = os.path.dirname(os.path.abspath(__file__))


def shell(args, **kw):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=TIMEOUT, **kw)


class Bash(unittest.TestCase):
    def complete(self, words, cword):
        require_program("bash")
        script = (
            f"source {COMPLETIONS}/bash/netdx-doctor; source {COMPLETIONS}/bash/netdx; "
            f"COMP_WORDS=({words}); COMP_CWORD={cword}; _${{COMP_WORDS[0]//-/_}}; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
        r = shell(["bash", "-c", script])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_option_prefix(self):
        self.assertEqual(self.complete("netdx-doctor --j", 1), ["--json"])

    def test_choices_after_equals(self):
        self.assertEqual(self.complete("netdx-doctor --color = al", 3), ["always"])

    def test_umbrella_tools_and_delegation(self):
        self.assertIn("doctor", self.complete("netdx d", 1))
        self.assertEqual(self.complete("netdx doctor --cs", 2), ["--csv"])

    def test_loads_through_bash_completion(self):
        # The way an installed script is found: bash-completion's loader by command name.
        loader = "/usr/share/bash-completion/bash_completion"
        if not os.path.exists(loader):
            self.skipTest("bash-completion is not installed")
        script = (f"source {loader}; BASH_COMPLETION_USER_DIR={COMPLETIONS}; "
                  f"XDG_DATA_DIRS={COMPLETIONS}/..; "
                  f"source {COMPLETIONS}/bash/netdx-doctor; complete -p netdx-doctor")
        r = shell(["bash", "-c", script])
        self.assertIn("_netdx_doctor", r.stdout)


class Zsh(unittest.TestCase):
    def complete(self, line):
        require_program("zsh")
        r = shell(["zsh", "-f", os.path.join(HERE, "zsh_complete.zsh"), os.path.join(COMPLETIONS, "zsh"), line])
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(set(r.stdout.split()))

    def test_option_prefix(self):
        self.assertEqual(self.complete("netdx-doctor --j"), ["--json"])

    def test_choices(self):
        self.assertEqual(self.complete("netdx-doctor --color="), ["always", "auto", "never"])

    def test_umbrella_tools_and_delegation(self):
        self.assertIn("doctor", self.complete("netdx do"))
        self.assertEqual(self.complete("netdx doctor --cs"), ["--csv"])


class Fish(unittest.TestCase):
    def complete(self, line):
        require_program("fish")
        script = (f"source {COMPLETIONS}/fish/netdx-doctor.fish; source {COMPLETIONS}/fish/netdx.fish; "
                  f"complete -C '{line}'")
        r = shell(["fish", "--no-config", "-c", script])
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l.split("\t")[0] for l in r.stdout.splitlines()]

    def test_option_prefix(self):
        self.assertEqual(self.complete("netdx-doctor --j"), ["--json"])

    def test_choices(self):
        self.assertEqual(sorted(self.complete("netdx-doctor --color=")),
                         ["--color=always", "--color=auto", "--color=never"])

    def test_umbrella_tools_and_delegation(self):
        self.assertIn("doctor", self.complete("netdx do"))
        self.assertEqual(self.complete("netdx doctor --cs"), ["--csv"])


class Drift(unittest.TestCase):
    def test_every_visible_option_of_help_is_completed(self):
        """The scripts come from the CLI definition: every --option in --help is in them."""
        import re
        for tool in ["netdx-doctor", "netdx-tour", "netdx-echo", "netdx-probe", "netdx-flood", "netdx-states"]:
            help_text = shell([os.path.join(BIN, tool), "--help"]).stdout
            options = set(re.findall(r"(--[a-z][a-z-]*)", help_text))
            with open(os.path.join(COMPLETIONS, "bash", tool)) as f:
                bash = f.read()
            for opt in options:
                self.assertIn(opt, bash, f"{tool}: {opt}")
