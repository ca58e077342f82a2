#!/usr/bin/env python3
"""Time /metrics scrapes while N idle connections are open (issue 16, item 14).

    tests/bench/idle_scrape.py PORT [N=500] [SCRAPES=3]

Opens N TCP connections to 127.0.0.1:PORT that send nothing (every second one half a request
line), then times SCRAPES plain GET /metrics requests, each on a new connection, as Prometheus
makes them. Prints one line per scrape: its wall time and status line. Only 127.0.0.1.
"""
import socket
import sys
import time

port = int(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
scrapes = int(sys.argv[3]) if len(sys.argv) > 3 else 3
TIMEOUT = 60  # seconds per scrape; Prometheus gives up after its scrape_timeout (10 s default)

idle = []
for i in range(count):
    # Non-blocking: a server whose accept queue is full leaves the connect pending, as it would
    # for an attacker's; the half request goes out once connected (best effort).
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    idle.append(s)
time.sleep(1)
for i, s in enumerate(idle):
    if i % 2 == 0:
        try:
            s.send(b"GET /met")
        except OSError:
            pass
print(f"{len(idle)} idle connections opened")
for n in range(scrapes):
    start = time.monotonic()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as error:  # a timeout included
        data = f"(no answer: {error or 'timed out'})".encode()
    took = time.monotonic() - start
    status = data.split(b"\r\n", 1)[0].decode(errors="replace") or "(no answer)"
    print(f"scrape {n}: {took:.3f} s  {status}  {len(data)} bytes")
for s in idle:
    s.close()
