#!/usr/bin/env python3
"""A Varlink client for the VM test bed (what systemd-oomd >= 260 does before a kill: connect to a
socket in /run/systemd/oomd.prekill.hook/, call io.systemd.oom.Prekill.Notify {"cgroup": PATH},
wait for the reply). Prints the reply and how long it took; exit 1 on no reply within --timeout.
Usage: varlink-call.py SOCKET METHOD JSON_PARAMETERS [--timeout S]
"""
import json
import socket
import sys
import time


def main():
    path, method, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--timeout" else 10.0
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    start = time.monotonic()
    s.sendall(json.dumps({"method": method, "parameters": params}).encode() + b"\0")
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\0" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    took = time.monotonic() - start
    if b"\0" not in buf:
        print(f"no reply within {took:.2f} s")
        return 1
    reply = buf.split(b"\0")[0].decode()
    print(f"reply after {took:.3f} s: {reply}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
