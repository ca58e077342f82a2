#!/usr/bin/env python3
"""A fake Jellyfin for guardian's tests: real HTTP/1.1 on 127.0.0.1 (ephemeral port), payloads
from fixtures/ (shaped like Jellyfin 10.10/10.11 JSON, see each fixture's _comment), and every
request recorded.

Usage: fake_jellyfin.py --version 10.11 --api-key KEY [--state-file F]
Prints "PORT <n>" on stdout once listening. Control (no auth), for the tests:
  GET  /__requests            every request so far: [{"method","path","authorization","body"}]
  GET  /__encoding            the current EncodingOptions (as POSTed last)
  GET  /__inflight            {"inflight": API requests being answered, "held": writes on hold}
  POST /__mode {"mode": M, "delay": S, "count": N}
       one fault for every API request (N = how many it applies to, default all). M is one of
         "normal"
         "slow"     answer after S seconds (a write is applied when the answer goes out)
         "error500" HTTP 500, nothing applied
         "garbage"  200 with a body that is not JSON, nothing applied
         "lying"    200 with JSON of the wrong shape, nothing applied
         "hang"     accept, never answer, never apply
         "close"    close without answering, nothing applied (a dropped request)
         "hold"     never answer; the request's effect waits for POST /__release
         "late"     never answer; the effect is applied S seconds later (after the client gave up)
         "garble"   apply the effect, then answer with bytes that are not HTTP
  POST /__faults [{"method": "POST", "path": "/System/Configuration/encoding", "mode": M,
                   "delay": S, "count": N}, ...]
       faults for matching requests only (method and path prefix; both optional), appended to the
       list; a request takes the first rule that matches and still has a count
  POST /__release {"apply": true}   apply (or with false: drop) every held request, in arrival
                                    order, before answering
  POST /__edit {"Field": value, ...}  a user's edit in the dashboard (applied at once)
  POST /__sessions [...]      replace the session list (LastActivityDate taken as given)
  POST /__tasks [...]         replace the task list
  POST /__reset               fixtures again, no faults, no requests, held requests dropped
With --state-file, EncodingOptions persist across restarts of the fake (the kill -9 test).

GET /Sessions honours activeWithinSeconds as Jellyfin's SessionController does (sessions whose
LastActivityDate is older are left out). The fixtures' sessions were recorded at the fixture's
"recorded_at"; the fake moves their LastActivityDate forward by the time since, so they are as
fresh as when they were recorded.
"""
import argparse
import datetime
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


def parse_date(text):
    # Jellyfin writes 7 fraction digits ("2025-11-21T07:19:58.1234567Z"); Python takes 6.
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", text or "")
    if not m:
        return None
    when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    if m.group(2):
        when += datetime.timedelta(microseconds=int((m.group(2) + "000000")[:6]))
    return when


def format_date(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def fresh_sessions(version):
    doc = load(f"sessions-{version}.json")
    recorded = parse_date(doc.get("recorded_at"))
    shift = datetime.datetime.now(datetime.timezone.utc) - recorded if recorded else datetime.timedelta(0)
    for s in doc["sessions"]:
        when = parse_date(s.get("LastActivityDate"))
        if when:
            s["LastActivityDate"] = format_date(when + shift)
    return doc["sessions"]


class State:
    def __init__(self, version, api_key, state_file):
        self.lock = threading.Lock()
        self.version = version
        self.api_key = api_key
        self.state_file = state_file
        self.reset()
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                self.encoding = json.load(f)

    def reset(self):
        self.encoding = load(f"encoding-{self.version}.json")
        self.sessions = fresh_sessions(self.version)
        self.tasks = load("scheduled-tasks.json")["tasks"]
        self.requests = []
        self.faults = []  # [{"method","path","mode","delay","count"}]
        self.held = []  # [(threading.Event, method, path, body)]
        self.inflight = 0

    def save(self):
        if self.state_file:
            tmp = self.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.encoding, f)
            os.replace(tmp, self.state_file)

    def take_fault(self, method, path):
        with self.lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"] != method:
                    continue
                if rule.get("path") and not path.startswith(rule["path"]):
                    continue
                if rule["count"] is not None:
                    if rule["count"] <= 0:
                        continue
                    rule["count"] -= 1
                return rule["mode"], float(rule.get("delay", 0))
            return "normal", 0.0


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
            st.requests.append({"method": method, "path": self.path,
                                "authorization": self.headers.get("Authorization", ""), "body": body})
            st.inflight += 1
        try:
            self.answer(method, path, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (its timeout): nobody to answer
        finally:
            with st.lock:
                st.inflight -= 1

    def answer(self, method, path, body):
        st = self.server.state
        mode, delay = st.take_fault(method, path)
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
        if mode == "hold":
            released = threading.Event()
            with st.lock:
                st.held.append((released, method, self.path, body))
            released.wait(3600)
            self.close_connection = True
            return
        if mode == "late":
            # The client gives up first (its timeout is shorter than the delay); Jellyfin still
            # finishes the request, as Kestrel does once the body is in.
            time.sleep(delay)
            self.api(method, self.path, body)
            self.close_connection = True
            return
        status, payload, raw = self.api(method, self.path, body)
        if mode == "garble":
            self.wfile.write(b"HTTP/1.1 2\x00\xff garbled\r\n\r\n")
            self.close_connection = True
            return
        if status == 204:
            return self.send(204)
        return self.send(status, payload, raw)

    def api(self, method, target, body):
        """Performs the request's effect; returns (status, payload, raw)."""
        st = self.server.state
        path, _, query = target.partition("?")
        if path == "/System/Configuration/encoding":
            if method == "GET":
                with st.lock:
                    return 200, json.loads(json.dumps(st.encoding)), None
            if method == "POST":
                try:
                    posted = json.loads(body)
                except ValueError:
                    return 400, None, b'{"title":"One or more validation errors occurred."}'
                with st.lock:
                    # Jellyfin replaces the whole object: a missing field falls back to its default.
                    st.encoding = posted
                    st.save()
                return 204, None, None
        if path == "/Sessions" and method == "GET":
            m = re.search(r"(?:^|&)activeWithinSeconds=(\d+)", query)
            with st.lock:
                sessions = list(st.sessions)
            if m and int(m.group(1)) > 0:
                oldest = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=int(m.group(1)))
                sessions = [s for s in sessions
                            if (parse_date(s.get("LastActivityDate")) or oldest) >= oldest]
            return 200, sessions, None
        m = re.fullmatch(r"/Sessions/([0-9a-f]{32})/(Command|Message|Playing/Stop)", path)
        if m and method == "POST":
            with st.lock:
                known = any(s["Id"] == m.group(1) for s in st.sessions)
                if known and m.group(2) == "Playing/Stop":
                    for s in st.sessions:
                        if s["Id"] == m.group(1):
                            s.pop("NowPlayingItem", None)
                            s.pop("TranscodingInfo", None)
            return (204, None, None) if known else (404, None, b"")
        if path == "/ScheduledTasks" and method == "GET":
            with st.lock:
                return 200, json.loads(json.dumps(st.tasks)), None
        m = re.fullmatch(r"/ScheduledTasks/Running/([0-9a-f]{32})", path)
        if m and method in ("DELETE", "POST"):
            with st.lock:
                for t in st.tasks:
                    if t["Id"] == m.group(1):
                        t["State"] = "Idle" if method == "DELETE" else "Running"
                        return 204, None, None
            return 404, None, b""
        return 404, None, b""

    def control(self, method, path, body):
        st = self.server.state
        if path == "/__release" and method == "POST":
            apply = json.loads(body or "{}").get("apply", True)
            with st.lock:
                held, st.held = st.held, []
            for released, m, target, b in held:
                if apply:
                    self.api(m, target, b)
                released.set()
            return self.send(200, {"released": len(held)}, chunked=False)
        with st.lock:
            if path == "/__requests":
                return self.send(200, st.requests, chunked=False)
            if path == "/__encoding":
                return self.send(200, st.encoding, chunked=False)
            if path == "/__inflight":
                return self.send(200, {"inflight": st.inflight, "held": len(st.held)}, chunked=False)
            if path == "/__mode" and method == "POST":
                req = json.loads(body)
                st.faults = [] if req["mode"] == "normal" else [
                    {"mode": req["mode"], "delay": float(req.get("delay", 0)), "count": req.get("count")}]
                return self.send(204)
            if path == "/__faults" and method == "POST":
                for rule in json.loads(body):
                    rule.setdefault("count", None)
                    st.faults.append(rule)
                return self.send(204)
            if path == "/__edit" and method == "POST":
                st.encoding.update(json.loads(body))
                st.save()
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
            if path == "/__reset" and method == "POST":
                for released, _, _, _ in st.held:
                    released.set()
                inflight = st.inflight
                st.reset()
                st.inflight = inflight
                st.save()
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
