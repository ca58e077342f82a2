"""Scheduled tasks: the test double's TaskInfo list, with live State, CurrentProgressPercentage and
LastExecutionResult. "Generate Trickplay Images" runs the trickplay ffmpeg over the library's items
one after the other, "Extract Chapter Images" one ffmpeg per chapter (every 5 minutes of runtime);
the other tasks finish at once. DELETE /ScheduledTasks/Running/{id} cancels (the running ffmpeg is
stopped, Status "Cancelled"), POST starts a task again; as in Jellyfin a trickplay run skips items
whose thumbnails exist unless `replace` is set (the library's "replace existing trickplay images")."""
import copy
import os
import shutil
import threading
import time

from . import ffmpeg_cmd
from .jobs import FfmpegJob
from .sessions import jellyfin_date


class Task:
    def __init__(self, server, template):
        self.server = server
        self.template = copy.deepcopy(template)
        self.id = template["Id"]
        self.key = template.get("Key", "")
        self.name = template.get("Name", self.key)
        self.state = "Idle"
        self.progress = None
        self.last_result = copy.deepcopy(template.get("LastExecutionResult"))
        self.thread = None
        self.cancel = threading.Event()
        self.job = None
        self.lock = threading.Lock()

    def info(self):
        doc = copy.deepcopy(self.template)
        doc["State"] = self.state
        doc.pop("CurrentProgressPercentage", None)
        if self.state == "Running" and self.progress is not None:
            doc["CurrentProgressPercentage"] = round(self.progress, 1)
        if self.last_result is not None:
            doc["LastExecutionResult"] = self.last_result
        return doc

    def start(self):
        with self.lock:
            if self.state != "Idle":
                self.server.log(f"task {self.key} already {self.state.lower()}: start queued as Jellyfin does, "
                                f"not run twice")
                return
            self.cancel.clear()
            self.state = "Running"
            self.progress = 0.0
            self.thread = threading.Thread(target=self._run, daemon=True, name=f"task-{self.key}")
            self.thread.start()

    def stop(self):
        with self.lock:
            if self.state != "Running":
                return
            self.state = "Cancelling"
            self.cancel.set()
            job = self.job
        if job is not None:
            job.proc.kill()  # Jellyfin cancels the token; the ffmpeg process is killed

    def _run(self):
        started = time.time()
        self.server.log(f"task start {self.key}")
        status = "Completed"
        try:
            if self.key == "RefreshTrickplayImages":
                status = self._trickplay()
            elif self.key == "RefreshChapterImages":
                status = self._chapter_images()
        except Exception as e:  # a failed task is reported as Failed, the server keeps running
            self.server.log(f"task {self.key} failed: {e}")
            status = "Failed"
        if self.cancel.is_set():
            status = "Cancelled"
        self.last_result = {"StartTimeUtc": jellyfin_date(started), "EndTimeUtc": jellyfin_date(time.time()),
                            "Status": status, "Name": self.name, "Key": self.key, "Id": self.id}
        with self.lock:
            self.state, self.progress, self.job = "Idle", None, None
        self.server.log(f"task end {self.key} status={status}")

    def _run_ffmpeg(self, argv, label):
        log_path = os.path.join(self.server.workdir, "log", f"FFmpeg.{label}-{time.strftime('%Y-%m-%d_%H-%M-%S')}.log")
        with self.lock:
            if self.cancel.is_set():
                return False
            self.job = FfmpegJob(argv, log_path, f"{label} {self.key}")
        self.server.register_job(self.job, label.lower(), None, None)
        self.server.log(f"{label.lower()} start pid={self.job.pid} task={self.key}")
        self.job.proc.wait()
        self.job._reader.join(timeout=5)
        return self.job.exit_code == 0

    def _trickplay(self):
        items = self.server.library_items()
        for n, (item_id, path) in enumerate(items):
            if self.cancel.is_set():
                return "Cancelled"
            out = os.path.join(self.server.workdir, "trickplay", item_id, "320")
            if os.path.isdir(out) and os.listdir(out) and not self.server.trickplay_replace:
                self.progress = 100.0 * (n + 1) / len(items)
                continue
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            argv = ffmpeg_cmd.trickplay_command(self.server.ffmpeg, path, out)
            if not self._run_ffmpeg(argv, "Trickplay") and not self.cancel.is_set():
                shutil.rmtree(out, ignore_errors=True)
                return "Failed"
            self.progress = 100.0 * (n + 1) / len(items)
        return "Completed"

    def _chapter_images(self):
        items = self.server.library_items()
        duration = self.server.media["duration"]
        chapters = [t for t in range(0, max(1, int(duration)), 300)]
        total = len(items) * len(chapters)
        done = 0
        for item_id, path in items:
            out = os.path.join(self.server.workdir, "chapters", item_id)
            os.makedirs(out, exist_ok=True)
            for i, t in enumerate(chapters):
                if self.cancel.is_set():
                    return "Cancelled"
                argv = ffmpeg_cmd.chapter_image_command(self.server.ffmpeg, path, os.path.join(out, f"{i}.jpg"),
                                                        t + 10)
                self._run_ffmpeg(argv, "ChapterImage")
                done += 1
                self.progress = 100.0 * done / total
        return "Completed"
