#!/usr/bin/env python3
"""A fake Jellyfin for guardian's tests: real HTTP/1.1 on 127.0.0.1 (ephemeral port), payloads
from fixtures/ (shaped like Jellyfin 10.10/10.11 JSON, see each fixture's _comment), and every
request recorded.

Usage: fake_jellyfin.py --version 10.11 --api-key KEY [--state-file F]
Prints "PORT <n>" on stdout once listening. Control (no auth), for the tests:
  GET  /__requests            every request so far: [{"method","path","authorization","body"}]
  GET  /__encoding            the current EncodingOptions (as POSTed last)
  POST /__mode {"mode": M, "delay": S, "count": N}
       M = "normal" | "slow" (answer after S seconds) | "error500" | "garbage" (200 with non-JSON)
           | "lying" (200 with JSON of the wrong shape) | "hang" (accept, never answer)
           | "close" (close without answering); N = how many API requests it applies to (default all)
  POST /__sessions [...]      replace the session list
  POST /__tasks [...]         replace the task list
With --state-file, EncodingOptions persist across restarts of the fake (the kill -9 test).
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, "fixtures", name)) as f:
        doc = json.load(f)
    doc.pop("_comment", None)
    return doc


class State:
    def __init__(self, version, api_key, state_file):
        self.lock = threading.Lock()
        self.api_key = api_key
        self.state_file = state_file
        self.encoding = load(f"encoding-{version}.json")
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                self.encoding = json.load(f)
        self.sessions = load(f"sessions-{version}.json")["sessions"]
        self.tasks = load("scheduled-tasks.json")["tasks"]
        self.requests = []
        self.mode = "normal"
        self.delay = 0.0
        self.count = None

    def save(self):
        if self.state_file:
            tmp = self.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.encoding, f)
            os.replace(tmp, self.state_file)

    def take_mode(self):
        with self.lock:
            mode = self.mode
            if self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.mode, self.count = "normal", None
            return mode, self.delay


AUTH = re.compile(r'^MediaBrowser .*Token="([^"]*)"')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Kestrel"

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def send(self, status, payload=None, raw=None, chunked=True):
        self.send_response(status)
        self.send_header("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
        if status == 204:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = raw if raw is not None else json.dumps(payload, separators=(",", ":")).encode()
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if chunked:
            # Kestrel answers JSON with chunked transfer coding; split it to exercise the client.
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 700):
                part = data[i:i + 700]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def handle_any(self, method):
        st = self.server.state
        path = self.path.split("?")[0]
        body = self.body()
        if path.startswith("/__"):
            return self.control(method, path, body)
        with st.lock:
            st.requests.append({"method": method, "path": self.path, "authorization": self.headers.get("Authorization", ""),
                                "body": body})
        mode, delay = st.take_mode()
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "close":
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(delay)
        if mode == "error500":
            return self.send(500, raw=b'{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.1","title":"An error occurred while processing your request.","status":500}')
        if mode == "garbage":
            return self.send(200, raw=b"<html><body>502 Bad Gateway\x00\xff</body></html>")
        m = AUTH.match(self.headers.get("Authorization", ""))
        if not m or m.group(1) != st.api_key:
            return self.send(401, raw=b"", chunked=False)
        if mode == "lying":
            return self.send(200, {"HardwareAccelerationType": 7, "Sessions": "none", "Id": []})
        return self.api(method, path, body)

    def api(self, method, path, body):
        st = self.server.state
        if path == "/System/Configuration/encoding":
            if method == "GET":
                with st.lock:
                    return self.send(200, st.encoding)
            if method == "POST":
                try:
                    posted = json.loads(body)
                except ValueError:
                    return self.send(400, raw=b'{"title":"One or more validation errors occurred."}')
                with st.lock:
                    # Jellyfin replaces the whole object: a missing field falls back to its default.
                    st.encoding = posted
                    st.save()
                return self.send(204)
        if path == "/Sessions" and method == "GET":
            with st.lock:
                return self.send(200, st.sessions)
        m = re.fullmatch(r"/Sessions/([0-9a-f]{32})/(Command|Message|Playing/Stop)", path)
        if m and method == "POST":
            with st.lock:
                known = any(s["Id"] == m.group(1) for s in st.sessions)
                if known and m.group(2) == "Playing/Stop":
                    for s in st.sessions:
                        if s["Id"] == m.group(1):
                            s.pop("NowPlayingItem", None)
                            s.pop("TranscodingInfo", None)
            return self.send(204 if known else 404, raw=b"")
        if path == "/ScheduledTasks" and method == "GET":
            with st.lock:
                return self.send(200, st.tasks)
        m = re.fullmatch(r"/ScheduledTasks/Running/([0-9a-f]{32})", path)
        if m and method in ("DELETE", "POST"):
            with st.lock:
                for t in st.tasks:
                    if t["Id"] == m.group(1):
                        t["State"] = "Idle" if method == "DELETE" else "Running"
                        return self.send(204)
            return self.send(404, raw=b"")
        return self.send(404, raw=b"")

    def control(self, method, path, body):
        st = self.server.state
        with st.lock:
            if path == "/__requests":
                return self.send(200, st.requests, chunked=False)
            if path == "/__encoding":
                return self.send(200, st.encoding, chunked=False)
            if path == "/__mode" and method == "POST":
                req = json.loads(body)
                st.mode, st.delay, st.count = req["mode"], float(req.get("delay", 0)), req.get("count")
                return self.send(204)
            if path == "/__sessions" and method == "POST":
                st.sessions = json.loads(body)
                return self.send(204)
            if path == "/__tasks" and method == "POST":
                st.tasks = json.loads(body)
                return self.send(204)
            if path == "/__clear" and method == "POST":
                st.requests = []
                return self.send(204)
        return self.send(404, raw=b"")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", default="10.11", choices=["10.10", "10.11"])
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--state-file")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args.version, args.api_key, args.state_file)
    print(f"PORT {server.server_address[1]}", flush=True)
    # Exit when the test that started us goes away (stdin closes).
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
