"""Helpers for the CLI tests: where the built binaries are, and how to run them bounded."""
import contextlib
import json
import os
import shutil
import subprocess
import unittest

BIN = os.environ.get("NETDX_BIN", "")
BUILD = os.environ.get("NETDX_BUILD", "")
SOURCE = os.environ.get("NETDX_SOURCE", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(SOURCE, "tests", "fixtures")
TIMEOUT = 60  # seconds: no CLI test waits longer for one command


def binary(name):
    return os.path.join(BIN, name)


def run(args, env=None, stdin=None, timeout=TIMEOUT, stdout=subprocess.PIPE):
    """Runs a command with a time limit; returns CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    if env:
        full_env.update(env)
    cmd = [binary(args[0])] + list(args[1:]) if not os.path.isabs(args[0]) and BIN else list(args)
    return subprocess.run(cmd, env=full_env, input=stdin, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def run_json(args, **kw):
    r = run(list(args) + ["--json"], **kw)
    return r, json.loads(r.stdout)


def require_program(name):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest(f"{name} is not installed")
    return path


def require_root():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (CAP_NET_ADMIN/CAP_NET_RAW)")


@contextlib.contextmanager
def io_uring_disabled():
    """kernel.io_uring_disabled = 2 for the block (tests that use it are Serial: it is
    machine-wide), restored after; skips where the kernel has no such switch."""
    require_root()
    path = "/proc/sys/kernel/io_uring_disabled"
    if not os.path.exists(path):
        raise unittest.SkipTest("this kernel has no kernel.io_uring_disabled")
    with open(path) as f:
        before = f.read().strip()
    try:
        with open(path, "w") as f:
            f.write("2")
    except OSError as e:
        raise unittest.SkipTest(f"cannot set kernel.io_uring_disabled: {e}")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(before)


TOOLS = ["netdx", "netdx-doctor", "netdx-tour", "netdx-echo", "netdx-probe", "netdx-flood", "netdx-states", "netdx-mux", "netdx-trace", "netdx-merge", "netdx-compare"]
# Tools with their own --json (the umbrella only dispatches), with arguments that keep a run short.
REPORTING_TOOLS = {
    "netdx-doctor": [],
    "netdx-tour": ["--only", "doctor"],
    "netdx-echo": ["--listen", "127.0.0.1:0", "--duration", "200ms"],
    "netdx-probe": ["--duration", "300ms", "--warmup", "0"],
    "netdx-flood": ["-n", "20", "--hold", "0"],
    "netdx-states": [],
    "netdx-mux": ["--quick", "-n", "10", "--rounds", "20", "--warmup", "2", "-m", "ready"],
    "netdx-trace": ["-r", os.path.join(FIXTURES, "trace", "en10mb.pcap")],
}


def fresh_netns(test, prefix):
    """Creates a network namespace with loopback up for `test` (removed at its cleanup) and
    returns its name; skips the test when namespaces cannot be made (needs root)."""
    require_root()
    name = f"{prefix}-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        test.skipTest(f"cannot create a network namespace: {r.stderr.strip()}")
    test.addCleanup(subprocess.run, ["ip", "netns", "del", name], capture_output=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True,
                   capture_output=True, timeout=TIMEOUT)
    return name


def sanitizer():
    """The build's NETDX_SANITIZE ("ON": ASan+UBSan, "thread"), or None for a plain build."""
    cache = os.path.join(os.environ.get("NETDX_BUILD", ""), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("NETDX_SANITIZE:"):
                    value = line.strip().split("=", 1)[1]
                    return None if value.upper() in ("OFF", "", "FALSE", "0") else value
    except OSError:
        pass
    return None


def per_backend(*backends):
    """A class decorator: one test method per backend, test_<backend> ('-' as '_'), each calling
    self.check(backend), so every backend is its own CTest."""
    def add(cls):
        for backend in backends:
            setattr(cls, "test_" + backend.replace("-", "_"), lambda self, b=backend: self.check(b))
        return cls
    return add
