"""Running ffmpeg jobs the way Jellyfin's TranscodeManager does
(MediaBrowser.MediaEncoding/Transcoding/TranscodeManager.cs, MediaBrowser.Controller/MediaEncoding/
TranscodingJob.cs, TranscodingThrottler.cs, JobLogger.cs):
- stdin is a pipe (Jellyfin stops a job by writing "q", waits 5 s, then kills it; its throttler
  pauses and resumes through stdin), stderr is read for the progress line (frame, fps, time,
  bitrate) and kept in a log file per job, like FFmpeg.Transcode-*.log;
- a job that ends, for whatever reason, is not restarted here: the next segment request does
  that (see playback.py).
Jobs are children of the stand-in, so they live in its cgroup (jellyfin.service in the VM)."""
import os
import re
import subprocess
import threading
import time

PROGRESS = re.compile(rb"frame=\s*(\d+)\s+fps=\s*([\d.]+).*?time=\s*(-?[\d:.]+|N/A).*?bitrate=\s*([\d.]+|N/A)")


def ffmpeg_version(ffmpeg):
    """(major, minor) of `ffmpeg -version`, (0, 0) when unknown."""
    try:
        out = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    m = re.search(r"ffmpeg version n?(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def seconds_of(text):
    if text in (b"N/A", "N/A"):
        return None
    text = text.decode() if isinstance(text, bytes) else text
    sign = -1 if text.startswith("-") else 1
    parts = text.lstrip("-").split(":")
    value = 0.0
    for p in parts:
        value = value * 60 + float(p)
    return sign * value


class FfmpegJob:
    """One ffmpeg process with Jellyfin's stdin/stderr handling."""

    def __init__(self, argv, log_path, label):
        self.argv = list(argv)
        self.label = label
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.ended = None
        self.exit_code = None
        self.frames = 0
        self.fps = None
        self.time_seconds = None
        self.bitrate = None
        self.paused = False
        self.tail = []
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self._log = open(log_path, "wb")
        self._log.write(b" ".join(a.encode() for a in self.argv) + b"\n\n")
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_stderr, daemon=True, name=f"stderr-{self.pid}")
        self._reader.start()

    def _read_stderr(self):
        buf = b""
        while True:
            chunk = self.proc.stderr.read1(4096) if hasattr(self.proc.stderr, "read1") else self.proc.stderr.read(4096)
            if not chunk:
                break
            self._log.write(chunk)
            buf += chunk
            parts = re.split(rb"[\r\n]", buf)
            buf = parts.pop()
            for line in parts:
                if not line:
                    continue
                m = PROGRESS.search(line)
                if m:
                    self.frames = int(m.group(1))
                    self.fps = float(m.group(2))
                    self.time_seconds = seconds_of(m.group(3))
                    self.bitrate = None if m.group(4) == b"N/A" else int(float(m.group(4)) * 1000)
                else:
                    self.tail = (self.tail + [line.decode(errors="replace")])[-8:]
        self.proc.wait()
        self.exit_code = self.proc.returncode
        self.ended = time.monotonic()
        try:
            self._log.close()
        except OSError:
            pass

    @property
    def running(self):
        return self.ended is None and self.proc.poll() is None

    def write_stdin(self, data):
        with self._lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                return True
            except (BrokenPipeError, OSError, ValueError):
                return False

    def pause(self, key=b"c"):
        """TranscodingThrottler.PauseTranscoding: "c" for an ffmpeg <= 6.1 (it then waits for a
        command line on stdin), "p" for jellyfin-ffmpeg's pause key."""
        if not self.paused and self.running and self.write_stdin(key):
            self.paused = True

    def resume(self, key=b"\n"):
        if self.paused and self.write_stdin(key):
            self.paused = False

    def stop(self, wait_seconds=5.0):
        """TranscodingJob.Stop: resume, "q" on stdin, wait up to 5 s, then kill."""
        self.resume()
        if self.running:
            self.write_stdin(b"q\n")
            try:
                self.proc.wait(timeout=wait_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


def pss_kib(pid):
    """Pss of a process from /proc/PID/smaps_rollup, in KiB (None when gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
