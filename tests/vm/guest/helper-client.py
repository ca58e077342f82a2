#!/usr/bin/env python3
"""A client of guardian-helper for the VM test bed, speaking its wire format (common/helper_wire.h,
docs/helper.md): lines "TYPE key=value ...", values with \\xHH escapes. It connects to the helper's
socket, registers the pressure watches it is given, answers pre-kill notices after a delay, and
logs every line it receives with its CLOCK_MONOTONIC receive time in nanoseconds:
    RECV_NS LINE
so the bench can compare the kernel's event time (ts=) with the moment a client had it.

Usage: helper-client.py --out FILE [--socket PATH] [--watch "CGROUP some|full STALL_US WINDOW_US"]...
                        [--prekill-delay SECONDS] [--duration SECONDS]
"""
import argparse
import selectors
import socket
import sys
import time


def parse(line):
    """TYPE and a list of (key, value) with escapes undone."""
    parts = line.split(" ")
    fields = []
    for p in parts[1:]:
        k, _, v = p.partition("=")
        out, i = bytearray(), 0
        raw = v.encode()
        while i < len(raw):
            if raw[i:i + 2] == b"\\x" and i + 3 < len(raw):
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
            else:
                out.append(raw[i])
                i += 1
        fields.append((k, out.decode(errors="replace")))
    return parts[0], fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default="/run/guardian/helper.sock")
    ap.add_argument("--out", required=True)
    ap.add_argument("--watch", action="append", default=[])
    ap.add_argument("--prekill-delay", type=float, default=0.2)
    ap.add_argument("--duration", type=float, default=3600)
    a = ap.parse_args()

    for attempt in range(100):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.socket)
            break
        except OSError:
            time.sleep(0.1)
    else:
        print(f"helper-client: cannot connect to {a.socket}", file=sys.stderr)
        return 1
    s.setblocking(False)
    out = open(a.out, "a", buffering=1)
    for i, w in enumerate(a.watch, start=1):
        cgroup, kind, stall, window = w.split()
        s.sendall(f"watch-pressure request={i} cgroup={cgroup} kind={kind} stall_us={stall} window_us={window}\n".encode())
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    pending = []  # (due, id) pre-kill answers
    buf = b""
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        timeout = 0.5
        if pending:
            timeout = max(0.0, min(timeout, pending[0][0] - time.monotonic()))
        for _ in sel.select(timeout):
            data = s.recv(65536)
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            if not data:
                out.write(f"{now} #closed\n")
                return 0
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                out.write(f"{now} {text}\n")
                kind, fields = parse(text)
                if kind == "prekill":
                    pending.append((time.monotonic() + a.prekill_delay, dict(fields)["id"]))
                    pending.sort()
        while pending and pending[0][0] <= time.monotonic():
            _, nid = pending.pop(0)
            s.sendall(f"prekill-done id={nid}\n".encode())
            out.write(f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} #sent prekill-done id={nid}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
