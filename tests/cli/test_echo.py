"""netdx-echo against ordinary clients and hostile peers, on loopback."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from echo_server import EchoProcess, wait_until
from netdx_test import (TIMEOUT, binary, io_uring_disabled, per_backend, require_program, run,
                        sanitizer)


def read_to_eof(s):
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            return got
        got += d


def tcp_echo(port, payload, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return read_to_eof(s)


class EchoBasics(unittest.TestCase):
    def test_tcp_and_udp_on_the_same_port(self):
        with EchoProcess() as e:
            self.assertEqual(tcp_echo(e.port, b"hello"), b"hello")
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5)
            u.sendto(b"datagram", ("127.0.0.1", e.port))
            self.assertEqual(u.recvfrom(100)[0], b"datagram")
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["connections_total"], 1)
        self.assertEqual(doc["stats"]["tcp_bytes"], 5)
        self.assertEqual(doc["stats"]["udp_replies"], 1)
        self.assertEqual(doc["server"]["protocols"], "tcp+udp")

    def test_socat_is_an_ordinary_client(self):
        require_program("socat")
        with EchoProcess() as e:
            for proto in ["TCP", "UDP"]:
                r = subprocess.run(["socat", "-t", "2", "-", f"{proto}:127.0.0.1:{e.port}"], input=b"via socat\n",
                                   stdout=subprocess.PIPE, timeout=TIMEOUT)
                self.assertEqual(r.stdout, b"via socat\n", proto)

    def test_large_message_and_half_close(self):
        payload = os.urandom(3 * 1024 * 1024)
        with EchoProcess() as e:
            self.assertEqual(tcp_echo(e.port, payload), payload)

    def test_datagrams_of_0_and_65507_bytes_and_no_amplification(self):
        with EchoProcess() as e:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5)
            for n in [0, 1, 1472, 65507]:
                data = os.urandom(n)
                u.sendto(data, ("127.0.0.1", e.port))
                reply = u.recvfrom(70000)[0]
                self.assertEqual(reply, data, n)

    def test_ipv6(self):
        with EchoProcess(listen="[::1]:0") as e:
            self.assertEqual(e.host, "::1")
            with socket.create_connection(("::1", e.port), timeout=10) as s:
                s.sendall(b"six")
                self.assertEqual(s.recv(10), b"six")

    def test_tcp_only_and_udp_only(self):
        with EchoProcess("--tcp-only") as e:
            self.assertEqual(tcp_echo(e.port, b"t"), b"t")
            self.assertEqual(e.stop_json()["server"]["protocols"], "tcp")
        with EchoProcess("--udp-only") as e:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", e.port), timeout=5)


class EchoHostilePeers(unittest.TestCase):
    """Peers that misbehave, on the readiness path (epoll); the subclasses below run the
    same peers against the other TCP paths."""
    BACKEND = ()

    def echo(self, *args, **kw):
        return EchoProcess(*self.BACKEND, *args, **kw)

    def test_thousands_of_connections_reset_at_once_leak_nothing(self):
        with self.echo("--threads", "2") as e:
            baseline = e.fd_count()
            socks = []
            for _ in range(10000):
                s = socket.socket()
                s.connect(("127.0.0.1", e.port))
                socks.append(s)
            self.assertTrue(wait_until(lambda: e.fd_count() >= baseline + 10000, timeout=30), e.fd_count())
            for s in socks:  # RST, not FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            self.assertTrue(wait_until(lambda: e.fd_count() == baseline), (e.fd_count(), baseline))
            self.assertEqual(tcp_echo(e.port, b"still serving"), b"still serving")
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["connections_current"], 0)
        self.assertEqual(doc["stats"]["connections_total"], 10001)

    def test_slow_reader_memory_is_bounded_and_others_are_served(self):
        with self.echo("--threads", "1", "--write-buffer", "64KiB") as e:
            before = e.rss_kib()
            hog = socket.create_connection(("127.0.0.1", e.port))
            hog.setblocking(False)
            sent = 0
            chunk = b"z" * 65536
            last_progress = time.monotonic()
            # Push until the connection has taken nothing for two seconds (or 64 MiB went).
            while time.monotonic() - last_progress < 2.0 and sent < 64 * 1024 * 1024:
                try:
                    sent += hog.send(chunk)
                    last_progress = time.monotonic()
                except BlockingIOError:
                    time.sleep(0.02)
            # The hog never reads; the server must not buffer what it cannot send.
            self.assertLess(sent, 32 * 1024 * 1024, "the server kept reading a peer that never reads")
            self.assertLess(e.rss_kib() - before, 16 * 1024)
            self.assertEqual(tcp_echo(e.port, b"next client"), b"next client")
            hog.close()

    def test_flood_of_one_byte_writes(self):
        with self.echo() as e:
            with socket.create_connection(("127.0.0.1", e.port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(20000):
                    s.send(bytes([i % 256]))
                s.shutdown(socket.SHUT_WR)
                got = read_to_eof(s)
            self.assertEqual(got, bytes(i % 256 for i in range(20000)))

    def test_half_closed_peer_gets_everything_then_eof(self):
        with self.echo() as e:
            with socket.create_connection(("127.0.0.1", e.port), timeout=10) as s:
                s.sendall(b"a" * 100000)
                s.shutdown(socket.SHUT_WR)
                time.sleep(0.2)
                self.assertEqual(len(read_to_eof(s)), 100000)


class EchoLimits(unittest.TestCase):
    BACKEND = ()

    def echo(self, *args, **kw):
        return EchoProcess(*self.BACKEND, *args, **kw)

    def test_max_connections_refuses_and_counts(self):
        with self.echo("--max-connections", "3") as e:
            keep = [socket.create_connection(("127.0.0.1", e.port), timeout=5) for _ in range(3)]
            for s in keep:
                s.sendall(b"k")
                self.assertEqual(s.recv(1), b"k")
            extra = socket.create_connection(("127.0.0.1", e.port), timeout=5)
            extra.settimeout(5)
            try:
                self.assertEqual(extra.recv(1), b"")  # closed at once
            except ConnectionResetError:
                pass
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["connections_refused"], 1)

    def test_out_of_descriptors_sheds_connections_and_keeps_serving(self):
        # 40 descriptors: the server's own (listeners, ring, eventfds …) leave room for a few
        # connections; the rest are accepted with the spare descriptor and closed at once
        # instead of spinning on EMFILE, and once they go the server serves again.
        require_program("prlimit")
        if sanitizer():
            # UBSan and TSan check memory through a pipe of their own: with every descriptor
            # taken they cannot make it, and report a false "invalid vptr". The release pass
            # runs this test.
            self.skipTest(f"a sanitizer build ({sanitizer()}) needs descriptors of its own")
        with self.echo("--threads", "1", prefix=["prlimit", "--nofile=40:40"]) as e:
            socks = []
            for _ in range(60):
                s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
                s.settimeout(5)
                socks.append(s)
            shed = 0
            for s in socks:
                try:
                    s.sendall(b"x")
                    got = s.recv(1)
                except (ConnectionResetError, BrokenPipeError):
                    got = b""
                if got == b"":
                    shed += 1
                else:
                    self.assertEqual(got, b"x")
            self.assertGreater(shed, 0)
            self.assertLess(shed, 60)
            for s in socks:
                s.close()

            shed_after = [0]

            def serves_again():
                # The closed connections' descriptors come back as the server sees each close
                # (on io_uring once the kernel ends their operations): until then a new one
                # is shed too.
                try:
                    ok = tcp_echo(e.port, b"after") == b"after"
                except (ConnectionResetError, BrokenPipeError):
                    ok = False
                shed_after[0] += 0 if ok else 1
                return ok
            self.assertTrue(wait_until(serves_again, timeout=10))
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["connections_refused"], shed + shed_after[0])
        self.assertEqual(doc["stats"]["connections_total"], 60 - shed + 1)

    def test_idle_timeout_closes_idle_connections_only(self):
        with self.echo("--idle-timeout", "300ms") as e:
            idle = socket.create_connection(("127.0.0.1", e.port), timeout=5)
            busy = socket.create_connection(("127.0.0.1", e.port), timeout=5)
            start = time.monotonic()
            for _ in range(10):  # busy talks every 100ms for a second: never idle 300ms
                busy.sendall(b"b")
                self.assertEqual(busy.recv(1), b"b")
                time.sleep(0.1)
            idle.settimeout(5)
            self.assertEqual(idle.recv(1), b"")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["connections_idle_closed"], 1)

    def test_udp_rate_limit_per_source(self):
        with self.echo("--udp-rate-limit", "5/s") as e:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(0.3)
            for i in range(40):
                u.sendto(b"r", ("127.0.0.1", e.port))
            replies = 0
            try:
                while True:
                    u.recvfrom(10)
                    replies += 1
            except socket.timeout:
                pass
            doc = e.stop_json()
        self.assertGreaterEqual(replies, 5)
        self.assertLessEqual(replies, 10)  # at most two one-second windows
        self.assertEqual(doc["stats"]["udp_rate_limited"], 40 - replies)


class EchoHostilePeersUring(EchoHostilePeers):
    """TCP on io_uring completions: one multishot accept, a multishot receive per connection
    into provided buffers. Freed connections there wait for the kernel to end their
    operations, so a leaked descriptor or a lost byte shows here first."""
    BACKEND = ("--backend", "uring")


class EchoLimitsUring(EchoLimits):
    BACKEND = ("--backend", "uring")


class EchoLifecycle(unittest.TestCase):
    def test_sigusr1_prints_stats_and_sigterm_exits_0_with_final_stats(self):
        with EchoProcess(fmt="--ndjson") as e:
            tcp_echo(e.port, b"abc")
            os.kill(e.pid, signal.SIGUSR1)
            time.sleep(0.5)
            code, out, _ = e.stop()
        self.assertEqual(code, 0)
        records = [json.loads(line) for line in out.splitlines()]
        types = [r["type"] for r in records]
        self.assertEqual(types[:2], ["run", "listening"])  # the stream opens with the run block
        self.assertGreaterEqual(types.count("stats"), 2)  # SIGUSR1 and the final one
        self.assertEqual(records[-1]["type"], "stats")

    def test_sigint_is_a_clean_stop_too(self):
        with EchoProcess() as e:
            code, out, _ = e.stop(signal.SIGINT)
        self.assertEqual(code, 0)
        self.assertIn("stats", json.loads(out))

    def test_stats_interval_and_duration(self):
        r = run(["netdx-echo", "--listen", "127.0.0.1:0", "--duration", "1s", "--stats-interval", "300ms", "--ndjson"])
        self.assertEqual(r.returncode, 0)
        kinds = [json.loads(l)["type"] for l in r.stdout.splitlines()]
        self.assertGreaterEqual(kinds.count("stats"), 3)

    def test_processes_share_the_port_and_their_counters_merge(self):
        with EchoProcess("--processes", "3", "--threads", "1") as e:
            for i in range(60):
                self.assertEqual(tcp_echo(e.port, b"p%d" % i), b"p%d" % i)
            doc = e.stop_json()
        self.assertEqual(doc["server"]["processes"], 3)
        self.assertEqual(doc["stats"]["connections_total"], 60)
        self.assertEqual(doc["stats"]["tcp_bytes"], sum(len(b"p%d" % i) for i in range(60)))

    def test_a_worker_process_that_dies_stops_the_server_and_says_how(self):
        with EchoProcess("--processes", "2", "--threads", "1") as e:
            with open(f"/proc/{e.pid}/task/{e.pid}/children") as f:
                children = [int(p) for p in f.read().split()]
            self.assertEqual(len(children), 1)
            os.kill(children[0], signal.SIGKILL)
            # Without being told to, the server stops: half its port would be unserved.
            out, err = e.proc.communicate(timeout=20)
        self.assertEqual(e.proc.returncode, 71, err)
        doc = json.loads(out)
        self.assertIn(f"(pid {children[0]}) died of signal 9", doc["error"]["message"])
        self.assertIn(f"died of signal 9", err)


def worker_sleeps(pid):
    """Voluntary context switches of the process's threads other than the main one: each
    is the worker going to sleep (in its poller's wait). sched_yield() while spinning is
    not one (the thread stays runnable), so this counts sleeps whatever the machine's load,
    where CPU time would not (a spinning thread that yields to a busy CPU uses little)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) == pid:
            continue
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


class EchoSpinSerial(unittest.TestCase):
    def sleeps_in_sparse_traffic(self, spin, *more):
        """How often the worker slept during 12 round trips 50 ms apart."""
        with EchoProcess("--threads", "1", "--spin", spin, *more) as e:
            with socket.create_connection(("127.0.0.1", e.port), timeout=10) as s:
                s.sendall(b"x")  # the first message after the idle start: traffic begins
                self.assertEqual(s.recv(10), b"x")
                before = worker_sleeps(e.pid)
                for i in range(12):
                    time.sleep(0.05)
                    s.sendall(b"x")
                    self.assertEqual(s.recv(10), b"x")
                used = worker_sleeps(e.pid) - before
            e.stop_json()
        return used

    def test_spin_only_while_gaps_are_within_the_budget(self):
        # Gaps of 50 ms are "dense" for a 1 s budget: the thread polls through them, never
        # sleeping (a gap may end a spin that began just before it: at most a couple).
        self.assertLessEqual(self.sleeps_in_sparse_traffic("1s"), 2)
        # ... and sparse for the default budget: the thread sleeps in every gap (the first
        # sleep may come before the count starts).
        self.assertGreaterEqual(self.sleeps_in_sparse_traffic("50us"), 11)
        self.assertGreaterEqual(self.sleeps_in_sparse_traffic("0"), 11)

    def test_busy_poll_never_sleeps_even_with_the_spin_off(self):
        # --spin 0 would sleep in every gap; --busy-poll polls through all of them.
        self.assertLessEqual(self.sleeps_in_sparse_traffic("0", "--busy-poll"), 2)

    def test_busy_poll_echoes_tcp_and_udp_and_counts_them(self):
        # Busy-polling, the UDP socket is read every turn rather than through the poller.
        with EchoProcess("--threads", "1", "--busy-poll") as e:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(5)
                for i in range(50):
                    u.sendto(b"d%d" % i, ("127.0.0.1", e.port))
                    self.assertEqual(u.recvfrom(100)[0], b"d%d" % i)
            for i in range(5):
                self.assertEqual(tcp_echo(e.port, b"t%d" % i), b"t%d" % i)
            doc = e.stop_json()
        self.assertEqual(doc["stats"]["udp_datagrams"], 50)
        self.assertEqual(doc["stats"]["udp_replies"], 50)
        self.assertEqual(doc["stats"]["connections_total"], 5)

    def test_bad_spin_names_the_token(self):
        r = run(["netdx-echo", "--spin", "fast"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("fast", r.stderr)


def recv_exactly(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(min(n - len(data), 1 << 20))
        if not chunk:
            raise AssertionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


@per_backend("epoll", "poll", "uring", "uring-oneshot")
class EchoBackends(unittest.TestCase):
    """The same server on each event-loop backend (uring: TCP through io_uring completions;
    uring-oneshot: io_uring poll readiness), with this test's sockets as the peer:
    every byte back in order over many connections at once and through a peer that reads
    late (the write-buffer path), UDP datagrams back as sent, an idle connection closed
    through the loop's timing wheel, and the server's counters equal to what was sent."""

    def check(self, backend):
        with EchoProcess("--backend", backend, "--threads", "2", "--idle-timeout", "1s") as e:
            sent = 0
            socks = [socket.create_connection((e.host, e.port), timeout=10) for _ in range(40)]
            payloads = [os.urandom(2000 + 37 * i) for i in range(len(socks))]
            for s, p in zip(socks, payloads):
                s.sendall(p)
                sent += len(p)
            for s, p in zip(socks, payloads):
                self.assertEqual(recv_exactly(s, len(p)), p)
            # 4 MiB written before anything is read: the server keeps what the socket does
            # not take, stops reading, and resumes once it is flushed.
            big = os.urandom(4 << 20)
            late = socket.create_connection((e.host, e.port), timeout=10)
            writer = threading.Thread(target=late.sendall, args=(big,))
            writer.start()
            time.sleep(0.2)
            self.assertEqual(recv_exactly(late, len(big)), big)
            writer.join(timeout=10)
            sent += len(big)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(5)
                for n in (1, 512, 1472, 9000, 65507):
                    d = os.urandom(n)
                    u.sendto(d, (e.host, e.port))
                    self.assertEqual(u.recv(65536), d)
            idle = socket.create_connection((e.host, e.port), timeout=10)
            self.assertEqual(idle.recv(1), b"")  # closed by the server's idle timeout
            for s in socks + [late, idle]:
                s.close()
            stats = e.stop_json()["stats"]
        self.assertEqual(stats["tcp_bytes"], sent)
        self.assertEqual(stats["udp_replies"], 5)
        self.assertEqual(stats["connections_total"], 42)
        self.assertGreaterEqual(stats["connections_idle_closed"], 1)
        self.assertEqual(stats["connections_reset"], 0)

    def test_an_unknown_backend_names_the_token(self):
        r = run(["netdx-echo", "--backend", "kqueue"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("kqueue", r.stderr)


class EchoBackendSerial(unittest.TestCase):
    def test_uring_where_io_uring_is_disabled_is_unavailable_with_the_reason(self):
        with io_uring_disabled():
            r = run(["netdx-echo", "--listen", "127.0.0.1:0", "--backend", "uring", "--json",
                     "--duration", "1s"])
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("--backend uring: not available here", r.stderr)
        self.assertIs(json.loads(r.stdout)["passed"], False)


class EchoErrors(unittest.TestCase):
    def test_bad_listen_address_is_a_usage_error(self):
        r = run(["netdx-echo", "--listen", "127.0.0.1:99999"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad port '99999'", r.stderr)

    def test_port_taken_is_unavailable_and_names_who_holds_it(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = run(["netdx-echo", "--listen", f"127.0.0.1:{port}", "--tcp-only", "--duration", "1s",
                 "--json"])
        blocker.close()
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn(f"port {port} is in use by pid {os.getpid()}", r.stderr)
        doc = json.loads(r.stdout)
        self.assertIs(doc["passed"], False)
        self.assertEqual(doc["error"]["kind"], "unavailable")

    def test_a_second_echo_on_the_same_port_is_refused_not_shared(self):
        # SO_REUSEPORT would let it bind and split the first one's connections silently.
        with EchoProcess(listen="127.0.0.1:0") as first:
            r = run(["netdx-echo", "--listen", f"127.0.0.1:{first.port}", "--duration", "1s"])
            self.assertEqual(r.returncode, 69, r.stderr)
            self.assertIn(f"pid {first.pid} (netdx-echo)", r.stderr)

    def test_a_privileged_port_without_the_capability_is_77(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("needs root to become another user (setpriv)")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            binary("netdx-echo"), "--listen", "127.0.0.1:80", "--duration", "1s"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        if r.returncode == 0:
            self.skipTest("ports below 1024 are not privileged here (ip_unprivileged_port_start)")
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("CAP_NET_BIND_SERVICE", r.stderr)
