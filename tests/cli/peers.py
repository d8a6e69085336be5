"""Small misbehaving peers for the probe tests, in-process threads on loopback, bounded."""
import socket
import threading


class UdpDropper:
    """UDP echo that drops every Nth datagram (1-based: the Nth, 2Nth, ...)."""

    def __init__(self, every):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.every = every
        self.received = 0
        self.dropped = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            self.received += 1
            if self.received % self.every == 0:
                self.dropped += 1
                continue
            self.sock.sendto(data, addr)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TcpPeer:
    """A TCP server with a behaviour: 'close_after' N bytes echoed, or 'corrupt' (flips a byte)."""

    def __init__(self, behaviour, limit=0):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.behaviour = behaviour
        self.limit = limit
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(10)
        echoed = 0
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if self.behaviour == "corrupt" and echoed + len(data) > self.limit:
                    data = bytearray(data)
                    data[-1] ^= 0xFF
                    conn.sendall(bytes(data))
                    return
                conn.sendall(data)
                echoed += len(data)
                if self.behaviour == "close_after" and echoed >= self.limit:
                    return

    def close(self):
        self.listener.close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SelectorEcho:
    """A TCP echo server in this process (Python's selectors, one thread), counting what it
    accepted, echoed and saw closed: the truth for a flood's counts."""

    def __init__(self):
        import selectors
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.sel.register(self.listener, selectors.EVENT_READ)
        self.accepted = self.echoed = self.closed = 0
        self.open = {}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import selectors
        while self.running:
            for key, _ in self.sel.select(timeout=0.1):
                if key.fileobj is self.listener:
                    while True:
                        try:
                            c, _ = self.listener.accept()
                        except BlockingIOError:
                            break
                        c.setblocking(False)
                        self.accepted += 1
                        self.open[c.fileno()] = c
                        self.sel.register(c, selectors.EVENT_READ)
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    c.sendall(data)  # tiny messages: the socket buffer takes them
                    self.echoed += len(data)
                    continue
                self.sel.unregister(c)
                self.open.pop(c.fileno(), None)
                c.close()
                self.closed += 1

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        for c in self.open.values():
            c.close()
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
