"""A Jellyfin 10.10/10.11 stand-in: the part of the REST API guardian uses, over real HTTP on
127.0.0.1, with the payloads of the unit tests' fake Jellyfin (tests/support/fake_jellyfin's
fixtures, built from @jellyfin/sdk's models), and real ffmpeg transcodes behind the sessions.

Endpoints (auth: `Authorization: MediaBrowser …, Token="KEY"`, `X-Emby-Authorization`,
`X-Emby-Token`, `X-MediaBrowser-Token`, or ?ApiKey= / ?api_key=; 401 without):
  GET  /System/Info/Public (no auth), /System/Info
  GET  /System/Configuration/encoding    POST (whole object: missing fields take Jellyfin's defaults)
  GET  /Sessions[?activeWithinSeconds=N][&deviceId=…]
  POST /Sessions/{id}/Message  {"Header","Text","TimeoutMs"}
  POST /Sessions/{id}/Command  {"Name","Arguments"} (SetMaxStreamingBitrate: obeyed or ignored per
       client), /Sessions/{id}/Command/{name}, /Sessions/{id}/Playing/{Stop|Pause|Unpause|PlayPause}
  GET  /ScheduledTasks, /ScheduledTasks/{id};  POST|DELETE /ScheduledTasks/Running/{id}
  GET  /Videos/{itemId}/main.m3u8?PlaySessionId=…, /Videos/{itemId}/hls1/main/{n}.ts?PlaySessionId=…
Not Jellyfin (no auth; what tests and measurements read): GET /__standin/state.
"""
import argparse
import ctypes
import json
import mmap
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import encoding, media
from .jobs import ffmpeg_version
from .playback import SEG, Viewer
from .sessions import build_sessions, extra_session, viewer_templates
from .tasks import Task

ID = re.compile(r"^[0-9a-fA-F]{32}$")
AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
DEFAULT_OBEYING_CLIENTS = ["Jellyfin Media Player"]


def log(msg):
    print(msg, flush=True)


def load_fixture(directory, name):
    with open(os.path.join(directory, name)) as f:
        doc = json.load(f)
    doc.pop("_comment", None)
    return doc


class Server:
    def __init__(self, args):
        self.args = args
        self.log = log
        self.started_wall = time.time()
        self.workdir = args.workdir
        self.config_dir = args.config_dir
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(self.config_dir, exist_ok=True)
        self.cpu_count = args.cpu_count or len(os.sched_getaffinity(0))
        self.fixtures = args.fixtures
        self.version = args.version
        self.api_key = self._api_key()
        self.encoding_lock = threading.Lock()
        self.encoding_file = args.encoding_file
        self.options = self._initial_encoding()
        self.ffmpeg = self._ffmpeg_path()
        ver = ffmpeg_version(self.ffmpeg)
        # TranscodeManager.StartThrottler: "c" + newline for an ffmpeg <= 6.1; jellyfin-ffmpeg's
        # "p"/"u" keys are not in a distribution's ffmpeg, and a newer one is not throttled.
        self.pause_keys = (b"c", b"\n") if ver <= (6, 1) else None
        self.ffmpeg_version = ver
        self.media_path = media.ensure(args.media, args.media_spec, self.ffmpeg)
        ffprobe = os.path.join(os.path.dirname(self.ffmpeg), "ffprobe")
        self.media = media.probe(self.media_path, ffprobe if os.access(ffprobe, os.X_OK) else "ffprobe")
        fixture_sessions = load_fixture(self.fixtures, f"sessions-{self.version}.json")["sessions"]
        self.sessions = build_sessions(fixture_sessions, self.started_wall)
        self.templates = viewer_templates(self.sessions)
        items = {}
        for s in self.sessions:
            if s.item_id:
                items[s.item_id] = s.item_path
        self.items = media.link_library(os.path.join(self.workdir, "media"), self.media_path, items)
        self.tasks = [Task(self, t) for t in load_fixture(self.fixtures, "scheduled-tasks.json")["tasks"]]
        self.trickplay_replace = args.trickplay_replace
        self.jobs = []           # every ffmpeg the server started: (job, kind, session, hls)
        self.jobs_lock = threading.Lock()
        self.viewers = {}        # viewer index -> Viewer
        self.obeying_clients = set(DEFAULT_OBEYING_CLIENTS)
        self.system_info = self._system_info()

    # --- setup ---------------------------------------------------------------------------------
    def _api_key(self):
        path = self.args.api_key_file
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(16) + "\n")
        with open(path) as f:
            return f.read().strip()

    def _initial_encoding(self):
        """The persisted EncodingOptions (Jellyfin's config/encoding.xml survives a restart), else
        the fixture with --initial-encoding's fields: a quality-minded admin's settings."""
        if os.path.exists(self.encoding_file):
            with open(self.encoding_file) as f:
                return encoding.normalised(json.load(f))
        doc = load_fixture(self.fixtures, f"encoding-{self.version}.json")
        doc.update(json.loads(self.args.initial_encoding))
        options = encoding.normalised(doc)
        self._save_encoding(options)
        return options

    def _save_encoding(self, options):
        tmp = self.encoding_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(options, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.encoding_file)

    def _ffmpeg_path(self):
        if self.args.ffmpeg:
            return self.args.ffmpeg
        configured = self.options.get("EncoderAppPath")
        if configured and os.access(configured, os.X_OK):
            return configured
        return shutil.which("ffmpeg") or "ffmpeg"

    def _system_info(self):
        """SystemInfo (MediaBrowser.Model/System/SystemInfo.cs, PublicSystemInfo) as 10.10/10.11
        answer: the fields a client and guardian's doctor would read."""
        version = "10.11.3" if self.version == "10.11" else "10.10.7"
        server_id = next((s.template.get("ServerId") for s in self.sessions if s.template.get("ServerId")),
                         "f6b3a1d2c4e54b7a9c0d1e2f3a4b5c6d")
        public = {"LocalAddress": f"http://127.0.0.1:{self.args.port}", "ServerName": "guardian-standin",
                  "Version": version, "ProductName": "Jellyfin Server", "OperatingSystem": "",
                  "Id": server_id, "StartupWizardCompleted": True}
        full = dict(public)
        full.update({"OperatingSystemDisplayName": "", "PackageName": "guardian-standin",
                     "HasPendingRestart": False, "IsShuttingDown": False, "SupportsLibraryMonitor": True,
                     "WebSocketPortNumber": self.args.port, "CompletedInstallations": [], "CanSelfRestart": True,
                     "CanLaunchWebBrowser": False, "ProgramDataPath": self.config_dir, "WebPath": "",
                     "ItemsByNamePath": "", "CachePath": self.workdir, "LogPath": os.path.join(self.workdir, "log"),
                     "InternalMetadataPath": "", "TranscodingTempPath": os.path.join(self.workdir, "transcodes"),
                     "CastReceiverApplications": [], "HasUpdateAvailable": False, "EncoderLocation": "System",
                     "SystemArchitecture": "X64"})
        return public, full

    # --- shared state --------------------------------------------------------------------------
    def encoding_snapshot(self):
        with self.encoding_lock:
            return json.loads(json.dumps(self.options))

    def set_encoding(self, options):
        with self.encoding_lock:
            before = self.options
            self.options = options
            self._save_encoding(options)
        changed = [k for k in options if options[k] != before.get(k)]
        log(f"encoding options posted: {', '.join(f'{k}={options[k]!r}' for k in changed) or 'no change'}")

    def item_path(self, item_id):
        return self.items.get(item_id, self.media_path)

    def library_items(self):
        return sorted(self.items.items())

    def register_job(self, job, kind, session, hls):
        with self.jobs_lock:
            self.jobs.append((job, kind, session, hls))
            # Keep the history bounded: ended jobs beyond the last 200 are forgotten.
            if len(self.jobs) > 400:
                self.jobs = [j for j in self.jobs if j[0].running] + [j for j in self.jobs if not j[0].running][-200:]

    def session(self, session_id):
        for s in self.all_sessions():
            if s.id.lower() == session_id.lower():
                return s
        return None

    def all_sessions(self):
        extra = [v.session for v in list(self.viewers.values()) if v.session not in self.sessions]
        return self.sessions + extra

    def task(self, task_id):
        return next((t for t in self.tasks if t.id.lower() == task_id.lower()), None)

    def state(self):
        with self.jobs_lock:
            jobs = list(self.jobs)
        out = []
        for job, kind, session, hls in jobs:
            entry = {"pid": job.pid, "kind": kind, "running": job.running, "paused": job.paused, "argv": job.argv,
                     "started": job.started_wall, "exit_code": job.exit_code, "frames": job.frames, "fps": job.fps}
            if session is not None:
                entry.update({"session": session.id, "viewer": session.viewer_index})
            if hls is not None:
                entry.update({"encoder": hls.encoder, "preset": hls.preset, "threads": hls.threads, "crf": hls.crf,
                              "maxrate": hls.maxrate, "muxing_queue": hls.muxing_queue,
                              "hardware_decode": hls.hardware_decode})
            out.append(entry)
        viewers = []
        for i, v in sorted(list(self.viewers.items())):
            pb = v.playback
            viewers.append({"viewer": i, "session": v.session.id, "client": v.session.template.get("Client"),
                            "item": v.session.item_id, "play_session": pb.play_session_id if pb else None,
                            "last_segment": max(pb.segment_indices(), default=-1) if pb else None,
                            "position": round(v.play_position, 1), "stall_seconds": round(v.stall_seconds, 1),
                            "download_position": pb.download_position if pb else None,
                            "jobs_started": pb.jobs_started if pb else 0, "max_bitrate": v.session.max_bitrate,
                            "obeys_bitrate": v.session.obeys_bitrate, "messages": v.session.messages,
                            "stopped": v.stopped_by_server})
        return {"pid": os.getpid(), "ffmpeg": self.ffmpeg, "ffmpeg_version": list(self.ffmpeg_version),
                "media": self.media, "jobs": out, "viewers": viewers, "encoding": self.encoding_snapshot()}

    # --- viewers -------------------------------------------------------------------------------
    def set_viewers(self, want, obeying_clients=None):
        if obeying_clients is not None:
            self.obeying_clients = set(obeying_clients)
        for i in range(want):
            if i in self.viewers:
                continue
            if i < len(self.templates):
                session = self.templates[i]
            else:
                session = extra_session(self.templates[i % 2], i)
            session.viewer_index = i
            session.obeys_bitrate = session.template.get("Client") in self.obeying_clients
            session.max_bitrate = None
            session.paused = False
            viewer = Viewer(self, session, self.args.viewer_buffer_seconds)
            session.viewer = viewer
            self.viewers[i] = viewer
            viewer.start()
            log(f"viewer {i} joined: {want} streams ({session.label}, "
                f"{'obeys' if session.obeys_bitrate else 'ignores'} SetMaxStreamingBitrate)")
        for i in [i for i in self.viewers if i >= want]:
            viewer = self.viewers.pop(i)
            viewer.leave()
            viewer.join(timeout=15)
            viewer.session.viewer_index = None
            viewer.session.viewer = None
            log(f"viewer {i} left: {want} streams")

    # --- session commands ----------------------------------------------------------------------
    def session_command(self, session, name, arguments):
        session.commands.append({"Name": name, "Arguments": arguments, "time": time.time()})
        if name == "SetMaxStreamingBitrate":
            try:
                bitrate = int(str((arguments or {}).get("Bitrate", "0")))
            except ValueError:
                bitrate = 0
            if session.obeys_bitrate and bitrate > 0 and session.viewer is not None:
                session.max_bitrate = bitrate
                session.viewer.change_stream.set()
                log(f"SetMaxStreamingBitrate {bitrate} to {session.label}: obeyed, the client reloads the stream")
            else:
                log(f"SetMaxStreamingBitrate {bitrate} to {session.label}: ignored by the client")
        elif name == "DisplayMessage":
            args = arguments or {}
            self.session_message(session, args.get("Header", ""), args.get("Text", ""), args.get("TimeoutMs"))

    def session_message(self, session, header, text, timeout_ms):
        session.messages.append({"Header": header, "Text": text, "TimeoutMs": timeout_ms, "time": time.time()})
        log(f"message to {session.label}: {header}: {text}")

    def playstate(self, session, command):
        viewer = session.viewer
        if command == "Stop":
            if viewer is not None:
                viewer.stopped_by_server = True
                viewer.leave()
            log(f"playback stopped for {session.label} (Playing/Stop)")
        elif command in ("Pause", "Unpause", "PlayPause"):
            session.paused = {"Pause": True, "Unpause": False}.get(command, not session.paused)
            log(f"playback {'paused' if session.paused else 'resumed'} for {session.label}")

    # --- the main loop -------------------------------------------------------------------------
    def tick(self):
        options = self.encoding_snapshot()
        now = time.monotonic()
        for v in list(self.viewers.values()):
            pb = v.playback
            if pb is not None:
                pb.tick(now, options)
        with self.jobs_lock:
            ended = [j for j in self.jobs if j[0].ended is not None and not getattr(j[0], "end_logged", False)]
        for job, kind, session, _ in ended:
            job.end_logged = True
            who = f"stream={session.viewer_index} " if session is not None else ""
            log(f"{kind} end {who}pid={job.pid} rc={job.exit_code} frames={job.frames}"
                + (f" ({job.tail[-1][:160]})" if job.exit_code and job.tail else ""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Kestrel"

    def log_message(self, *args):
        pass

    @property
    def app(self):
        return self.server.app

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, payload=None, raw=None, content_type="application/json; charset=utf-8"):
        self.send_response(status)
        self.send_header("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
        if status == 204 or (payload is None and raw is None):
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = raw if raw is not None else json.dumps(payload, separators=(",", ":")).encode()
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")  # as Kestrel answers
        self.end_headers()
        for i in range(0, len(data), 16384):
            part = data[i:i + 16384]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def _problem(self, status, title, detail=""):
        self._send(status, {"type": "https://tools.ietf.org/html/rfc9110", "title": title, "status": status,
                            "detail": detail}, content_type="application/problem+json; charset=utf-8")

    def _token(self, query):
        for header in ("Authorization", "X-Emby-Authorization"):
            value = self.headers.get(header, "")
            scheme, _, params = value.partition(" ")
            if scheme in ("MediaBrowser", "Emby"):
                for k, v in AUTH_PARAM.findall(params):
                    if k.lower() == "token":
                        return urllib.parse.unquote(v)
        for header in ("X-Emby-Token", "X-MediaBrowser-Token"):
            if self.headers.get(header):
                return self.headers[header]
        for name in ("ApiKey", "api_key"):
            for k, v in query.items():
                if k.lower() == name.lower():
                    return v[0]
        return None

    def _handle(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        low = path.lower()
        query = urllib.parse.parse_qs(url.query)
        body = self._body()
        try:
            if low == "/__standin/state" and method == "GET":
                return self._send(200, self.app.state())
            if low == "/system/info/public" and method == "GET":
                return self._send(200, self.app.system_info[0])
            if self._token(query) != self.app.api_key:
                return self._send(401)
            return self._api(method, path, low, query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug here answers 500 (as Kestrel would) and is logged, the server stays
            log(f"error in {method} {self.path}: {type(e).__name__}: {e}")
            try:
                self._problem(500, "An error occurred while processing your request.", str(e))
            except OSError:
                pass

    def _api(self, method, path, low, query, body):
        app = self.app
        parts = path.strip("/").split("/")
        lparts = [p.lower() for p in parts]
        if low == "/system/info" and method == "GET":
            return self._send(200, app.system_info[1])
        if low == "/system/configuration/encoding":
            if method == "GET":
                return self._send(200, app.encoding_snapshot())
            if method == "POST":
                try:
                    options = encoding.from_posted(body.decode("utf-8", "replace"))
                except encoding.BadOptions as e:
                    return self._problem(400, "One or more validation errors occurred.", str(e))
                app.set_encoding(options)
                return self._send(204)
        if low == "/sessions" and method == "GET":
            options = app.encoding_snapshot()
            sessions = app.all_sessions()
            within = query.get("activeWithinSeconds") or query.get("activewithinseconds")
            if within:
                try:
                    cutoff = time.time() - int(within[0])
                except ValueError:
                    return self._problem(400, "One or more validation errors occurred.",
                                         "activeWithinSeconds is not an integer")
                sessions = [s for s in sessions if s.last_activity >= cutoff]
            device = query.get("deviceId") or query.get("deviceid")
            if device:
                sessions = [s for s in sessions if s.template.get("DeviceId") == device[0]]
            return self._send(200, [s.dto(app, options) for s in sessions])
        if len(parts) >= 3 and lparts[0] == "sessions" and method == "POST":
            session = app.session(parts[1])
            if session is None:
                return self._send(404)
            try:
                doc = json.loads(body) if body else {}
            except ValueError:
                return self._problem(400, "One or more validation errors occurred.", "the body is not JSON")
            if lparts[2] == "message" and len(parts) == 3:
                app.session_message(session, doc.get("Header", ""), doc.get("Text", ""), doc.get("TimeoutMs"))
                return self._send(204)
            if lparts[2] == "command" and len(parts) == 3:
                if not isinstance(doc, dict) or not doc.get("Name"):
                    return self._problem(400, "One or more validation errors occurred.", "Name is required")
                app.session_command(session, doc["Name"], doc.get("Arguments") or {})
                return self._send(204)
            if lparts[2] == "command" and len(parts) == 4:
                app.session_command(session, parts[3], {})
                return self._send(204)
            if lparts[2] == "playing" and len(parts) == 4:
                command = {"stop": "Stop", "pause": "Pause", "unpause": "Unpause", "playpause": "PlayPause"}.get(
                    lparts[3])
                if command is None:
                    return self._problem(400, "One or more validation errors occurred.",
                                         f"{parts[3]} is not a PlaystateCommand this stand-in knows")
                app.playstate(session, command)
                return self._send(204)
        if lparts[0] == "scheduledtasks":
            if len(parts) == 1 and method == "GET":
                tasks = [t.info() for t in app.tasks]
                hidden = query.get("isHidden") or query.get("ishidden")
                if hidden:
                    tasks = [t for t in tasks if str(t.get("IsHidden", False)).lower() == hidden[0].lower()]
                return self._send(200, tasks)
            if len(parts) == 2 and method == "GET":
                task = app.task(parts[1])
                return self._send(200, task.info()) if task else self._send(404)
            if len(parts) == 3 and lparts[1] == "running" and method in ("POST", "DELETE"):
                task = app.task(parts[2])
                if task is None:
                    return self._send(404)
                if method == "POST":
                    task.start()
                else:
                    task.stop()
                return self._send(204)
        if lparts[0] == "videos" and method == "GET":
            return self._video(parts, lparts, query)
        return self._send(404)

    def _video(self, parts, lparts, query):
        app = self.app
        play_session = (query.get("PlaySessionId") or query.get("playSessionId") or [""])[0]
        viewer = next((v for v in list(app.viewers.values())
                       if v.playback is not None and v.playback.play_session_id == play_session), None)
        if viewer is None:
            return self._send(404)
        playback = viewer.playback
        if len(parts) == 3 and lparts[2] == "main.m3u8":
            lines = ["#EXTM3U", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEG}",
                     "#EXT-X-MEDIA-SEQUENCE:0"]
            duration = app.media["duration"]
            for n in range(playback.segments_total):
                lines += [f"#EXTINF:{min(SEG, duration - n * SEG):.6f}, nodesc",
                          f"hls1/main/{n}.ts?PlaySessionId={play_session}"]
            lines.append("#EXT-X-ENDLIST")
            return self._send(200, raw=("\n".join(lines) + "\n").encode(), content_type="application/x-mpegURL")
        m = re.fullmatch(r"(\d+)\.ts", parts[-1]) if len(parts) == 5 and lparts[2] == "hls1" else None
        if m is None:
            return self._send(404)
        path = playback.request_segment(int(m.group(1)), timeout=60)
        if path is None:
            return self._problem(500, "An error occurred while processing your request.",
                                 "the transcode ended before the segment was written")
        with open(path, "rb") as f:
            data = f.read()
        return self._send(200, raw=data, content_type="video/mp2t")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")


def touch(buf, tick):
    if buf:
        buf[tick % 4096::4096] = b"\x02" * len(range(tick % 4096, len(buf), 4096))


def new_buffer(mb):
    """`mb` MiB of the server's own memory, every page written, without holding the GIL: the first
    write of each page is a fault charged to the stand-in's cgroup, and at a full memory.high each
    can sleep in the kernel's throttle for up to 2 s. A bytearray is zero-filled by CPython, and
    written with `b[::4096] = …`, in C loops that hold the GIL: that froze every API thread for
    the whole allocation, minutes at a full budget (sqj-s24-fg4: no answer from about the moment
    the user's budget ran out until oomd killed the stand-in); Jellyfin's .NET threads do not wait
    for one another's page faults. So: an anonymous mapping (pages come on first write), written
    in 1-MiB pieces by ctypes' memset, which releases the GIL."""
    if not mb:
        return bytearray()
    b = mmap.mmap(-1, mb << 20)
    base = ctypes.addressof(ctypes.c_char.from_buffer(b))
    chunk = 1 << 20
    for offset in range(0, len(b), chunk):
        ctypes.memset(base + offset, 1, min(chunk, len(b) - offset))
    return b


def streams_playing(viewers):
    """The viewers whose stream the server did not stop (Playing/Stop): the ones its buffers are for."""
    return sum(1 for v in viewers.values() if not v.stopped_by_server)


def read_load(path, streams, buffer_mb):
    """The viewers right now: $LOAD_FILE {"streams": N, "buffer_mb": M[, "obeys_bitrate": [clients]]}."""
    d = {"streams": streams, "buffer_mb": buffer_mb}
    try:
        with open(path) as f:
            d.update(json.load(f))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        log(f"bad load file {path}: {e}")
    return int(d["streams"]), int(d["buffer_mb"]), d.get("obeys_bitrate")


def parse_args(argv):
    home = os.path.expanduser("~")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8096, help="on 127.0.0.1; 0 = any free port (printed as PORT n)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--fixtures", required=True, help="tests/support/fake_jellyfin/fixtures (or a copy of it)")
    ap.add_argument("--version", default="10.11", choices=["10.10", "10.11"])
    ap.add_argument("--config-dir", default=os.path.join(home, ".config/fake-jellyfin"))
    ap.add_argument("--workdir", default=os.path.join(home, ".cache/fake-jellyfin"),
                    help="transcodes, trickplay, job logs, the library's links")
    ap.add_argument("--api-key-file", help="default CONFIG_DIR/api-key (created, mode 600, when missing)")
    ap.add_argument("--encoding-file", help="the saved EncodingOptions (default CONFIG_DIR/encoding.json)")
    ap.add_argument("--initial-encoding",
                    default='{"EncoderPreset": "slow", "HardwareAccelerationType": "none"}',
                    help="fields over the fixture's EncodingOptions when nothing is saved yet (JSON)")
    ap.add_argument("--media", help="the library's source file (default WORKDIR/source-SPEC.mkv)")
    ap.add_argument("--media-spec", default="320x180@12:360",
                    help="WxH@FPS:SECONDS[:audio] of the generated source when --media does not exist")
    ap.add_argument("--clip-seconds", type=int, help="(old name) the source's length")
    ap.add_argument("--ffmpeg", help="default: EncoderAppPath if it exists, else ffmpeg from PATH")
    ap.add_argument("--cpu-count", type=int, help="Environment.ProcessorCount (caps EncodingThreadCount)")
    ap.add_argument("--heap-mb", type=int, default=0, help="a managed heap the server keeps using")
    ap.add_argument("--streams", type=int, default=2, help="viewers when the load file says nothing")
    ap.add_argument("--buffer-mb", type=int, default=0, help="server-side transcode buffers per stream")
    ap.add_argument("--load-file", help="JSON {streams, buffer_mb[, obeys_bitrate]} re-read every second "
                                        "(default CONFIG_DIR/load.json)")
    ap.add_argument("--viewer-buffer-seconds", type=float, default=30.0)
    ap.add_argument("--tasks", default="", help="scheduled task keys to start at once (comma-separated)")
    ap.add_argument("--trickplay-replace", action="store_true",
                    help="a trickplay run redoes items that have thumbnails")
    a = ap.parse_args(argv)
    a.api_key_file = a.api_key_file or os.path.join(a.config_dir, "api-key")
    a.encoding_file = a.encoding_file or os.environ.get("ENCODING_FILE") or os.path.join(a.config_dir,
                                                                                         "encoding.json")
    a.load_file = a.load_file or os.path.join(a.config_dir, "load.json")
    if a.clip_seconds:
        size_fps = a.media_spec.split(":")[0]
        extra = a.media_spec.split(":")[2:]
        a.media_spec = ":".join([size_fps, str(a.clip_seconds)] + extra)
    a.media = a.media or os.path.join(a.workdir, "source-" + re.sub(r"[^0-9a-z]+", "_", a.media_spec) + ".mkv")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = Server(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    httpd.app = app
    port = httpd.server_address[1]
    args.port = port
    app.system_info = app._system_info()
    threading.Thread(target=httpd.serve_forever, daemon=True, name="http").start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    heap = new_buffer(args.heap_mb)
    o = app.options
    log(f"fake-jellyfin: heap {args.heap_mb} MiB, {args.streams} streams, media {app.media['width']}x"
        f"{app.media['height']}@{app.media['fps']:g} {app.media['duration']:.0f}s, pid {os.getpid()}, "
        f"Jellyfin {args.version} API on 127.0.0.1:{port}; EncoderPreset={o.get('EncoderPreset')} "
        f"EncodingThreadCount={o.get('EncodingThreadCount')} H264Crf={o.get('H264Crf')} "
        f"EnableThrottling={o.get('EnableThrottling')} HardwareAccelerationType={o.get('HardwareAccelerationType')}; "
        f"ffmpeg {app.ffmpeg} {'.'.join(map(str, app.ffmpeg_version))}"
        f"{'' if app.pause_keys else ' (newer than 6.1: no throttling, as Jellyfin with a non-jellyfin ffmpeg)'}")
    print(f"PORT {port}", flush=True)

    def terminate(signum, _frame):
        # Jobs are stopped as Jellyfin stops them at shutdown ("q", then kill); a SIGKILL of the
        # stand-in (oomd, systemd's stop) takes the whole cgroup, children included.
        log(f"signal {signum}: stopping {len(app.viewers)} viewers and the tasks")
        for t in app.tasks:
            t.stop()
        for v in list(app.viewers.values()):
            v.leave()
            if v.playback is not None:
                v.playback.stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    for key in filter(None, args.tasks.split(",")):
        task = next((t for t in app.tasks if t.key == key), None)
        if task is None:
            log(f"no task {key}")
        else:
            task.start()
    cache, cache_mb, tick = None, 0, 0
    seen = {}  # play session id -> segment files already logged
    total = 0
    while True:
        want, buffer_mb, obeying = read_load(args.load_file, args.streams, args.buffer_mb)
        app.set_viewers(want, obeying)
        # The server's buffers belong to the streams playing: one stopped by Playing/Stop (a
        # viewer that stays in app.viewers, not replaced) gives its share back, as Jellyfin
        # disposes of a stopped stream's transcoding state.
        streaming = streams_playing(app.viewers)
        if streaming * buffer_mb != cache_mb:
            cache, cache_mb = None, streaming * buffer_mb
            cache = new_buffer(cache_mb)
            log(f"transcode buffers: {cache_mb} MiB for {streaming} streams")
        time.sleep(1)
        tick += 1
        touch(heap, tick)
        touch(cache, tick)
        app.tick()
        for i, v in sorted(app.viewers.items()):
            pb = v.playback
            if pb is None:
                continue
            known = seen.setdefault(pb.play_session_id, set())
            for n in sorted(set(pb.segment_indices()) - known):
                known.add(n)
                total += 1
                path = pb.segment_path(n)
                try:
                    mtime = os.stat(path).st_mtime
                except OSError:
                    mtime = time.time()
                log(f"segment stream={i} n={total} file={os.path.basename(path)} mtime={mtime:.3f}")
