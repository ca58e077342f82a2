"""HLS playbacks and the clients that watch them.

A Playback is one PlaySessionId: its transcode directory and at most one ffmpeg job, started and
restarted by segment requests exactly as DynamicHlsController.GetDynamicSegment decides
(jellyfin/jellyfin v10.11.x):
- a segment that exists is served (ready when the next one exists or the job has ended);
- otherwise, when no job runs (none yet, or it ended: "currentTranscodingIndex is null"), or the
  request is behind the job, or more than 24 / segment length segments ahead of it, the running
  job is stopped and a new one starts at the requested segment (-ss, -start_number) with the
  EncodingOptions in force now; else the request waits for the running job;
- serving a segment moves the download position (the throttler and the segment cleaner use it).
The job's throttler (every 5 s: pause when the job is more than max(ThrottleDelaySeconds, 60) s
ahead of the download position, else resume) and segment cleaner (every 20 s: delete segments
more than max(SegmentKeepSeconds, 20) s behind it) read EnableThrottling and
EnableSegmentDeletion live, and run only for items of at least 5 minutes (TranscodeManager
EnableThrottling / EnableSegmentCleaning).

A Viewer is the client: it keeps `buffer_seconds` of video requested ahead of its playback
position (hls.js's maxBufferLength, 30 s), plays at 1x while it has video, stalls when it has
none, and starts the next item when one ends."""
import hashlib
import os
import shutil
import threading
import time
import uuid

from . import ffmpeg_cmd
from .jobs import FfmpegJob

SEG = ffmpeg_cmd.SEGMENT_SECONDS
MIN_THROTTLE_RUNTIME = 300  # seconds: throttler and segment cleaner only for items >= 5 min


class Playback:
    def __init__(self, server, session, start_segment=0):
        self.server = server
        self.session = session
        self.play_session_id = uuid.uuid4().hex
        self.dir = os.path.join(server.workdir, "transcodes", self.play_session_id)
        os.makedirs(self.dir, exist_ok=True)
        self.name = hashlib.md5(self.play_session_id.encode()).hexdigest()
        self.prefix = os.path.join(self.dir, self.name)
        self.lock = threading.Lock()
        self.job = None
        self.hls = None           # ffmpeg_cmd.HlsJob of the current/last job
        self.jobs_started = 0
        self.download_position = 0.0
        self.last_transcoding_info = None
        self.segments_total = max(1, int(-(-server.media["duration"] // SEG)))
        self.first_segment = start_segment
        self._next_throttle = 0.0
        self._next_clean = 0.0

    # --- files ------------------------------------------------------------------------------
    def segment_path(self, n):
        return f"{self.prefix}{n}.ts"

    def segment_indices(self):
        out = []
        try:
            for f in os.listdir(self.dir):
                if f.startswith(self.name) and f.endswith(".ts"):
                    try:
                        out.append(int(f[len(self.name):-3]))
                    except ValueError:
                        pass
        except OSError:
            pass
        return out

    def current_transcoding_index(self):
        if self.job is None or not self.job.running:
            return None
        indices = self.segment_indices()
        return max(indices) if indices else None

    # --- jobs -------------------------------------------------------------------------------
    def _start_job(self, segment):
        options = self.server.encoding_snapshot()
        request = self.session.hls_request(self.server, segment, self.prefix)
        hls = ffmpeg_cmd.hls_command(options, request, self.server.cpu_count)
        self.jobs_started += 1
        log_path = os.path.join(self.server.workdir, "log",
                                f"FFmpeg.Transcode-{time.strftime('%Y-%m-%d_%H-%M-%S')}_{self.play_session_id[:8]}"
                                f"_{self.jobs_started}.log")
        self.job = FfmpegJob(hls.argv, log_path, f"transcode {self.session.label}")
        self.job.options = options
        self.hls = hls
        self.server.register_job(self.job, "transcode", self.session, hls)
        self.server.log(f"transcode start stream={self.session.viewer_index} gen={self.jobs_started} "
                        f"pid={self.job.pid} segment={segment} encoder={hls.encoder} preset={hls.preset or '-'} "
                        f"threads={hls.threads} crf={hls.crf} maxrate={hls.maxrate} "
                        f"queue={hls.muxing_queue} {hls.width}x{hls.height}"
                        f"{' hwdecode' if hls.hardware_decode else ''}")

    def stop(self, delete_files=True):
        """TranscodeManager.KillTranscodingJob: stop the job, delete the playback's files."""
        with self.lock:
            job, self.job = self.job, None
        if job is not None:
            job.stop()
        if delete_files:
            shutil.rmtree(self.dir, ignore_errors=True)

    def request_segment(self, n, timeout, cancelled=lambda: False):
        """GET …/hls1/main/{n}.ts: the path once the segment is ready, None if it cannot be."""
        path = self.segment_path(n)
        if not os.path.exists(path):
            with self.lock:
                if not os.path.exists(path):
                    current = self.current_transcoding_index()
                    gap = 24 // SEG
                    if current is None or n < current or n - current > gap:
                        old = self.job
                        if old is not None:
                            old.stop()
                            if current is not None:  # DeleteLastFile: the partial last segment
                                try:
                                    os.remove(self.segment_path(current))
                                except OSError:
                                    pass
                        self._start_job(n)
                    elif self.job is not None:
                        self.job.resume()  # OnTranscodeBeginRequest -> UnpauseTranscoding
        deadline = time.monotonic() + timeout
        next_path = self.segment_path(n + 1)
        last = n >= self.segments_total - 1
        while time.monotonic() < deadline and not cancelled():
            job = self.job
            exists = os.path.exists(path)
            if exists and (job is None or not job.running or last or os.path.exists(next_path)):
                self.download_position = max(self.download_position, (n + 1) * SEG)
                return path
            if not exists and (job is None or not job.running):
                return None  # "cannot serve … as transcoding quit before we got there"
            time.sleep(0.25)  # light enough for a TCG guest
        return None

    # --- Jellyfin's per-job timers ------------------------------------------------------------
    def tick(self, now, options):
        job = self.job
        if job is None or not job.running or self.server.media["duration"] < MIN_THROTTLE_RUNTIME:
            return
        if now >= self._next_throttle:
            self._next_throttle = now + 5
            if self.server.pause_keys is not None:
                ahead = self.transcoding_position() - self.download_position
                limit = max(options.get("ThrottleDelaySeconds", 180), 60)
                if options.get("EnableThrottling") and self.download_position > 0 and ahead >= limit:
                    if not job.paused:
                        job.pause(self.server.pause_keys[0])
                        self.server.log(f"throttle pause stream={self.session.viewer_index} pid={job.pid} "
                                        f"ahead={ahead:.0f}s")
                elif job.paused:
                    job.resume(self.server.pause_keys[1])
                    self.server.log(f"throttle resume stream={self.session.viewer_index} pid={job.pid}")
        if now >= self._next_clean:
            self._next_clean = now + 20
            keep = max(options.get("SegmentKeepSeconds", 720), 20)
            if options.get("EnableSegmentDeletion") and self.download_position > keep:
                last = int((self.download_position - keep) // SEG)
                removed = 0
                for i in self.segment_indices():
                    if i <= last:
                        try:
                            os.remove(self.segment_path(i))
                            removed += 1
                        except OSError:
                            pass
                if removed:
                    self.server.log(f"segments deleted stream={self.session.viewer_index} count={removed} "
                                    f"up_to={last}")

    def transcoding_position(self):
        indices = self.segment_indices()
        return (max(indices) + 1) * SEG if indices else 0.0

    def transcoding_info(self, options):
        """TranscodingInfo as TranscodeManager.ReportTranscodingProgress fills it."""
        hls, job = self.hls, self.job
        if hls is None:
            return self.last_transcoding_info
        duration = self.server.media["duration"] or 1.0
        info = {
            "VideoCodec": "h264",
            "Container": "ts",
            "IsVideoDirect": False,
            "IsAudioDirect": False,
            "Bitrate": (job.bitrate if job is not None and job.bitrate else hls.maxrate),
            "CompletionPercentage": round(min(100.0, 100.0 * self.transcoding_position() / duration), 2),
            "Width": hls.width,
            "Height": hls.height,
            # Copied from the configuration by Jellyfin, not from the job.
            "HardwareAccelerationType": options.get("HardwareAccelerationType", "none"),
            "TranscodeReasons": list(self.session.transcode_reasons),
        }
        if job is not None and job.fps is not None:
            info["Framerate"] = job.fps
        if self.server.media["has_audio"]:
            info.update({"AudioCodec": "aac", "AudioChannels": 2})
        self.last_transcoding_info = info
        return info


class Viewer(threading.Thread):
    """One client playing through an item at 1x, item after item."""

    def __init__(self, server, session, buffer_seconds=30.0):
        super().__init__(daemon=True, name=f"viewer-{session.viewer_index}")
        self.server = server
        self.session = session
        self.buffer_seconds = buffer_seconds
        self.quit = threading.Event()
        self.stopped_by_server = False
        self.change_stream = threading.Event()
        self.play_position = 0.0
        self.stall_seconds = 0.0
        self.playback = None

    def leave(self):
        self.quit.set()

    def _interrupted(self):
        return self.quit.is_set() or self.change_stream.is_set()

    def run(self):
        session, server = self.session, self.server
        start_segment = 0
        while not self.quit.is_set():
            playback = Playback(server, session, start_segment)
            self.playback = playback
            session.now_playing(playback)
            next_segment = start_segment
            self.play_position = start_segment * SEG
            last = time.monotonic()
            start_segment = 0
            while not self.quit.is_set():
                now = time.monotonic()
                buffered_end = next_segment * SEG
                if not session.paused:
                    advance = min(now - last, max(0.0, buffered_end - self.play_position))
                    if next_segment < playback.segments_total:
                        self.stall_seconds += (now - last) - advance  # waiting with nothing to play
                    self.play_position += advance
                last = now
                session.position = self.play_position
                session.touch()
                if self.change_stream.is_set():  # SetMaxStreamingBitrate obeyed: reload here
                    self.change_stream.clear()
                    start_segment = int(self.play_position // SEG)
                    server.log(f"viewer {session.viewer_index} reloads at {self.play_position:.0f}s for "
                               f"{session.max_bitrate} bit/s")
                    break
                if next_segment >= playback.segments_total:
                    if self.play_position >= buffered_end - 0.01:
                        server.log(f"viewer {session.viewer_index} finished the item")
                        break
                    time.sleep(0.5)
                    continue
                if session.paused or buffered_end - self.play_position >= self.buffer_seconds:
                    time.sleep(0.5)
                    continue
                # A cap obeyed while a segment is awaited reloads at once: jellyfin-web's
                # playbackManager.setMaxStreamingBitrate calls changeStream right away, which drops
                # the pending load; it does not wait for the segment the old job is still making.
                path = playback.request_segment(next_segment, timeout=120, cancelled=self._interrupted)
                if path is not None:
                    next_segment += 1
                elif not self._interrupted():
                    time.sleep(1.0)  # the player retries the fragment
            playback.stop()
            session.now_playing(None)
            if self.stopped_by_server:
                break

