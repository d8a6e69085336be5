"""Start a netdx-echo on a free loopback port for a test, and stop it (bounded)."""
import json
import os
import re
import signal
import subprocess
import time

from netdx_test import binary


class EchoProcess:
    def __init__(self, *args, listen="127.0.0.1:0", fmt="--json", prefix=()):
        cmd = list(prefix) + [binary("netdx-echo"), "--listen", listen] + ([fmt] if fmt else []) + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()  # "netdx-echo: listening on 127.0.0.1:PORT (...)"
        m = re.search(r"listening on (\S+):(\d+) ", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"netdx-echo did not start: {line}{self.proc.stderr.read()}")
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))

    @property
    def pid(self):
        return self.proc.pid

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the server; returns (exit code, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def stop_json(self):
        code, out, err = self.stop()
        assert code == 0, (code, err)
        return json.loads(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=20)


def wait_until(predicate, timeout=10.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
