"""A known TCP population on 127.0.0.1:7007, for netdx-states tests. Run it inside a network
namespace the test created (so nothing else is counted):

    python3 population.py TIME_WAIT CLOSE_WAIT ESTABLISHED

It prints "ready <pid>" once the sockets exist and holds them until its stdin closes (bounded:
at most 120 s). Afterwards the namespace holds, exactly:
  LISTEN 1; ESTABLISHED 2 x E; TIME-WAIT T (client side, outbound); CLOSE-WAIT C owned by
  this process (the clients closed, this process never does) and FIN-WAIT-2 C orphans (the
  closed clients, which no process owns).
"""
import select
import socket
import sys
import time

t, c, e = (int(a) for a in sys.argv[1:4])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 7007))
listener.listen(1024)
keep = []
for _ in range(t):
    cl = socket.create_connection(("127.0.0.1", 7007))
    sv, _ = listener.accept()
    cl.close()          # the client closes first ...
    sv.recv(1)          # ... the server reads the EOF and closes: TIME-WAIT stays with the client
    sv.close()
for _ in range(c):
    cl = socket.create_connection(("127.0.0.1", 7007))
    sv, _ = listener.accept()
    cl.close()          # FIN-WAIT-2 orphan at the client
    keep.append(sv)     # CLOSE-WAIT here, never closed
for _ in range(e):
    cl = socket.create_connection(("127.0.0.1", 7007))
    sv, _ = listener.accept()
    keep += [cl, sv]
time.sleep(0.2)         # let the last FINs and ACKs land
print("ready", flush=True)
select.select([sys.stdin], [], [], 120)
