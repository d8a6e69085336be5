"""The real world for the conformance tests: a network namespace of the test's own, third-party
servers started in it (nginx, redis, inetd, socat, ncat), captures written by tcpdump and
dumpcap, and the oracles that say what the right answer is (tshark, ss, the servers' own
counters). Every process is started by the test, bounded in time and stopped by its pid.

Nothing here knows how netdx computes anything: the expected values come from the peers."""
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))

from netdx_test import BIN, TIMEOUT  # noqa: E402

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def require(*programs):
    """Skips (77) when a peer is not installed: bootstrap installs them all, so a skip here
    says which package could not be installed."""
    for p in programs:
        if shutil.which(p) is None:
            raise unittest.SkipTest(f"{p} is not installed (./bootstrap installs it)")


def require_root():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: the peers run in a network namespace of the test")


def binary(name):
    return os.path.join(BIN, name)


class Netns:
    """A fresh network namespace with loopback up, deleted (with every process the test
    started in it) by close()."""

    _count = 0

    def __init__(self, tag):
        require_root()
        Netns._count += 1
        self.name = f"ndxc-{tag}-{os.getpid()}-{Netns._count}"
        r = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if r.returncode != 0:
            raise unittest.SkipTest(f"cannot create a network namespace: {r.stderr.strip()}")
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix=f"{self.name}-")
        os.chmod(self.tmp, 0o755)  # servers that drop privileges read their files here
        self.run(["ip", "link", "set", "lo", "up"], check=True)

    def cmd(self, args):
        return ["ip", "netns", "exec", self.name] + [str(a) for a in args]

    def run(self, args, timeout=TIMEOUT, check=False, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(args), timeout=timeout, check=check, **kw)

    def netdx(self, tool, *args, timeout=TIMEOUT, **kw):
        return self.run([binary(tool)] + list(args), timeout=timeout, **kw)

    def popen(self, args, **kw):
        """Starts a peer in the namespace. Its stderr goes to a log file (a chatty server
        writing into a pipe nobody reads would block once the pipe is full): read it with
        log(p)."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        log = None
        if "stderr" not in kw:
            log = open(os.path.join(self.tmp, f"{os.path.basename(str(args[0]))}-{len(self.procs)}.log"), "w+")
            kw["stderr"] = log
        kw.setdefault("start_new_session", True)  # stopped by pid (and its group), not by name
        p = subprocess.Popen(self.cmd(args), **kw)
        p.log = log
        self.procs.append(p)
        return p

    @staticmethod
    def log(p):
        if getattr(p, "log", None) is None:
            return p.stderr.read() if p.stderr else ""
        p.log.flush()
        p.log.seek(0)
        return p.log.read()

    @contextlib.contextmanager
    def entered(self):
        """Runs the block with this thread inside the namespace: sockets made in it belong
        to the namespace for their whole life."""
        own = os.open(f"/proc/self/task/{_gettid()}/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into " + self.name)
            yield
        finally:
            _libc.setns(own, CLONE_NEWNET)
            os.close(own)
            os.close(target)

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        with self.entered():
            return socket.socket(family, kind)

    def listening(self, port, proto="tcp"):
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        out = self.run(["ss", flag, f"sport = :{port}"]).stdout
        return bool(out.strip())

    def wait_listening(self, port, proto="tcp", proc=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.listening(port, proto):
                return
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"server exited ({proc.returncode}) before listening: "
                                     f"{Netns.log(proc)}")
            time.sleep(0.05)
        raise AssertionError(f"nothing listens on {proto} port {port} after {timeout} s")

    def close(self):
        for p in self.procs:
            stop(p)
            if getattr(p, "log", None) is not None:
                p.log.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Link:
    """Two namespaces joined by a veth pair, as two hosts on one wire: `client` has
    10.<n>.0.1, `server` 10.<n>.0.2. For peers that refuse loopback sources (openbsd-inetd's
    internal UDP services drop datagrams from 127.0.0.0/8, as loop protection)."""

    _count = 0

    def __init__(self, tag):
        Link._count += 1
        n = (os.getpid() + Link._count) % 200 + 20
        self.client = Netns(tag + "c")
        self.server = Netns(tag + "s")
        self.client_ip, self.server_ip = f"10.{n}.0.1", f"10.{n}.0.2"
        a, b = f"ndxa{os.getpid() % 100000}{Link._count}", f"ndxb{os.getpid() % 100000}{Link._count}"
        self.client_dev, self.server_dev = a, b
        r = subprocess.run(["ip", "link", "add", a, "netns", self.client.name, "type", "veth",
                            "peer", "name", b, "netns", self.server.name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.close()
            raise unittest.SkipTest(f"cannot create a veth pair: {r.stderr.strip()}")
        for ns, dev, ip in ((self.client, a, self.client_ip), (self.server, b, self.server_ip)):
            ns.run(["ip", "addr", "add", f"{ip}/24", "dev", dev], check=True)
            ns.run(["ip", "link", "set", dev, "up"], check=True)

    def close(self):
        self.client.close()
        self.server.close()


def _gettid():
    return _libc.syscall(186)  # SYS_gettid on x86_64


def stop(p, sig=signal.SIGTERM, grace=5.0):
    """Stops a process the test started, by its pid: SIGCONT (it may be stopped on purpose),
    then `sig`, then SIGKILL after `grace`."""
    if p.poll() is not None:
        return p.returncode
    for s in (signal.SIGCONT, sig):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, s)
    try:
        return p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        return p.wait(timeout=grace)


# ------------------------------------------------------------------ servers


def start_nginx(ns, port, extra_ports=(), worker_connections=1024, backlog=None):
    """nginx with stub_status at /status; returns the process."""
    require("nginx")
    conf = os.path.join(ns.tmp, f"nginx-{port}.conf")
    temp = os.path.join(ns.tmp, f"nginx-{port}-temp")  # nginx chowns its temp paths
    os.mkdir(temp)
    listen = "".join(
        f"    listen 127.0.0.1:{p}{f' backlog={backlog}' if backlog else ''};\n"
        for p in (port, *extra_ports))
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {ns.tmp}/nginx-{port}.pid;
error_log {ns.tmp}/nginx-{port}.err;
worker_rlimit_nofile 20000;
events {{ worker_connections {worker_connections}; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
  keepalive_timeout 300s;
  client_header_timeout 300s;
  server {{
{listen}    location / {{ return 200 "hello from nginx\\n"; }}
    location /status {{ stub_status; }}
  }}
}}
""")
    p = ns.popen(["nginx", "-c", conf, "-e", os.path.join(ns.tmp, f"nginx-{port}.err")])
    ns.wait_listening(port, proc=p)
    return p


def nft(ns, rules):
    """Loads an nftables ruleset (text) into the namespace."""
    require("nft")
    path = os.path.join(ns.tmp, f"rules-{len(os.listdir(ns.tmp))}.nft")
    with open(path, "w") as f:
        f.write(rules)
    ns.run(["nft", "-f", path], check=True)


def nft_counter(ns):
    """The packets the (first) counter in the namespace's ruleset has seen."""
    out = ns.run(["nft", "list", "ruleset"]).stdout
    return int(out.split("counter packets ")[1].split()[0])


def start_inetd(ns, address):
    """openbsd-inetd with only its built-in echo, TCP and UDP, on `address` port 7."""
    require("inetd")
    conf = os.path.join(ns.tmp, "inetd.conf")
    with open(conf, "w") as f:
        f.write(f"{address}:echo stream tcp nowait root internal\n"
                f"{address}:echo dgram udp wait root internal\n")
    p = ns.popen(["inetd", "-d", conf])  # -d: in the foreground, stopped by its pid
    ns.wait_listening(7, proc=p)
    ns.wait_listening(7, "udp", proc=p)
    return p


def start_redis(ns, port, maxclients=None, backlog=None):
    require("redis-server")
    args = ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", ns.tmp, "--daemonize", "no", "--protected-mode", "no"]
    if maxclients is not None:
        args += ["--maxclients", maxclients]
    if backlog is not None:
        args += ["--tcp-backlog", backlog]
    p = ns.popen(args)
    ns.wait_listening(port, proc=p)
    return p


class HttpStatus:
    """One keep-alive connection to nginx's stub_status, opened before a flood, so reading
    the counters needs no new connection (it counts itself: Active includes it)."""

    def __init__(self, ns, port):
        self.sock = ns.socket()
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))

    def active(self):
        self.sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"Reading:" not in data or not data.endswith(b"\n"):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("nginx closed the status connection")
            data += chunk
        line = next(l for l in data.decode().splitlines() if l.startswith("Active connections:"))
        return int(line.split(":")[1])

    def close(self):
        self.sock.close()


class Resp:
    """One RESP connection to redis, opened before a flood (it counts in connected_clients
    and is never the one refused at maxclients)."""

    def __init__(self, ns, port):
        self.sock = ns.socket()
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, *args):
        out = f"*{len(args)}\r\n" + "".join(f"${len(str(a))}\r\n{a}\r\n" for a in args)
        self.sock.sendall(out.encode())
        head = self._line()
        if head.startswith(b"$"):
            n = int(head[1:])
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            body, self.buf = self.buf[:n], self.buf[n + 2:]
            return body.decode()
        return head.decode()

    def info(self, section):
        fields = {}
        for line in self.command("INFO", section).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ captures


class Capture:
    """A capture on the namespace's lo by a third-party program, started before the traffic
    and stopped (flushed) after it: tcpdump in its default format (µs pcap), tcpdump with
    --time-stamp-precision=nano, or dumpcap (pcapng)."""

    # Headers are all the oracle reads (lengths come from the IP and UDP headers), so a
    # 512-byte snap length and a 16 MiB buffer: with tcpdump's default 256 KiB snap length
    # its 2 MiB ring holds about eight packets, and a capturer slowed by a loaded machine
    # dropped a fifth of a fast ping-pong ("203 packets dropped by kernel").
    KINDS = {
        "tcpdump-us": ("pcap", ["tcpdump", "-i", "lo", "-s", "512", "-B", "16384", "-U",
                                "--immediate-mode", "-w"]),
        "tcpdump-ns": ("pcap", ["tcpdump", "-i", "lo", "-s", "512", "-B", "16384", "-U",
                                "--immediate-mode", "--time-stamp-precision=nano", "-w"]),
        "dumpcap": ("pcapng", ["dumpcap", "-q", "-i", "lo", "-s", "512", "-B", "16", "-w"]),
    }

    def __init__(self, ns, kind, filt, name=None, iface="lo"):
        ext, argv = self.KINDS[kind]
        argv = [iface if a == "lo" else a for a in argv]
        require(argv[0])
        self.path = os.path.join(ns.tmp, f"{name or kind}.{ext}")
        self.kind = kind
        self.ns = ns
        # tcpdump drops to user tcpdump after opening: let it write into the folder.
        self.proc = ns.popen(argv + [self.path, filt])

    def wait_ready(self, timeout=10.0):
        """Until the file has its header and the capture sees packets: a connection to a
        closed port is sent until the file grows."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited: {Netns.log(self.proc)}")
            if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.kind} did not start writing {self.path}")

    def finish(self, settle=0.5, limit=10.0):
        """Stops the capture once its file has stopped growing for `settle` seconds: a
        capturer that lags (a loaded machine) still has packets in the kernel's buffer, and
        SIGINT makes it exit without reading them."""
        deadline = time.monotonic() + limit
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now_size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= settle:
                break
            time.sleep(0.05)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        # An oracle that lost packets is no oracle: say so rather than fail a comparison.
        m = re.search(r"(\d+) packets? dropped by kernel", Netns.log(self.proc))
        if m and int(m.group(1)) > 0:
            raise AssertionError(f"{self.kind} itself dropped {m.group(1)} packets: "
                                 f"{Netns.log(self.proc).strip()}")
        return self.path


def tshark_fields(path, fields, filt=None, prefs=()):
    """Rows of tshark -T fields for `path` (tab-separated, empty for absent)."""
    require("tshark")
    args = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=f"]
    for p in prefs:
        args += ["-o", p]
    for f in fields:
        args += ["-e", f]
    if filt:
        args += ["-Y", filt]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"tshark failed on {path}: {r.stderr}")
    return [dict(zip(fields, line.split("\t"))) for line in r.stdout.splitlines()]


def epoch_ns(text):
    """tshark's frame.time_epoch ("1796117330.041515000") as exact integer nanoseconds."""
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def seconds_ns(text):
    """A tshark relative time or delta in seconds ("0.000034000") as integer ns."""
    neg = text.startswith("-")
    v = epoch_ns(text.lstrip("-"))
    return -v if neg else v


def ss_sockets(ns, *filter_args, state=None):
    """`ss -Htan` rows in the namespace: (state, local, peer, recv_q, send_q)."""
    args = ["ss", "-Htan"]
    if state:
        args += ["state", state]
    r = ns.run(args + list(filter_args))
    rows = []
    for line in r.stdout.splitlines():
        f = line.split()
        if state:  # with a state filter ss leaves the State column out
            f = [state.upper()] + f
        rows.append((f[0], f[3], f[4], int(f[1]), int(f[2])))
    return rows
