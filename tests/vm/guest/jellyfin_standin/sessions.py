"""Sessions as GET /Sessions shows them: the test double's fixture sessions (SessionInfoDto as
@jellyfin/sdk models it), with the fields that change while something plays filled from the
real playback: NowPlayingItem (the library item's real path and runtime), PlayState
(PositionTicks, IsPaused), LastActivityDate, and TranscodingInfo from the running ffmpeg job.

Viewers take sessions in order: the fixture's transcoding sessions (alice on Jellyfin Web, kids on
Jellyfin Android TV), then bob's Jellyfin Media Player session (a direct play in the fixture; as
a viewer it transcodes to 720p at 4 Mbit/s), then copies of the first two with new ids. A session
that no viewer uses is listed as the fixture has it (bob playing directly, without ffmpeg) or idle
(connected, nothing playing); alice's idle Android session was last active two hours ago, so
`activeWithinSeconds` leaves it out."""
import copy
import datetime
import hashlib
import threading
import time

from . import ffmpeg_cmd

TICKS = 10_000_000
IDLE_KEYS = ("NowPlayingItem", "TranscodingInfo", "NowPlayingQueue", "NowPlayingQueueFullItems")
PLAYING_STATE_KEYS = ("PositionTicks", "VolumeLevel", "AudioStreamIndex", "SubtitleStreamIndex", "MediaSourceId",
                      "PlayMethod")


def jellyfin_date(wall):
    """DateTime in Jellyfin's JSON: 2025-11-21T07:19:58.1234567Z."""
    dt = datetime.datetime.fromtimestamp(wall, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond * 10:07d}Z"


class SessionState:
    def __init__(self, template, index_in_fixture):
        self.template = copy.deepcopy(template)
        self.id = template["Id"]
        self.fixture_index = index_in_fixture
        self.viewer_index = None
        self.viewer = None
        self.playback = None
        self.paused = False
        self.position = 0.0
        self.last_activity = time.time()
        self.messages = []
        self.commands = []
        self.obeys_bitrate = False
        self.max_bitrate = None       # the client's cap after an obeyed SetMaxStreamingBitrate
        self.lock = threading.Lock()
        info = template.get("TranscodingInfo") or {}
        self.request_width = info.get("Width", 1280)
        self.request_height = info.get("Height", 720)
        self.request_bitrate = info.get("Bitrate", 4_000_000)
        self.transcode_reasons = info.get("TranscodeReasons", ["ContainerBitrateExceedsLimit"])
        item = template.get("NowPlayingItem") or {}
        self.item_id = item.get("Id")
        self.item_path = item.get("Path")
        self.stopped_by_server = False

    @property
    def label(self):
        return f"{self.template.get('UserName')}@{self.template.get('Client')}"

    def touch(self):
        self.last_activity = time.time()

    def now_playing(self, playback):
        with self.lock:
            self.playback = playback
            if playback is not None:
                self.paused = False

    def bitrate(self):
        return min(self.request_bitrate, self.max_bitrate) if self.max_bitrate else self.request_bitrate

    def hls_request(self, server, start_segment, prefix):
        media = server.media
        bitrate = self.bitrate()
        max_width = ffmpeg_cmd.resolution_for_bitrate(bitrate, media["fps"], self.request_width)
        max_height = self.request_height if max_width == self.request_width else 4096
        return ffmpeg_cmd.HlsRequest(
            ffmpeg=server.ffmpeg, input_path=server.item_path(self.item_id), source_width=media["width"],
            source_height=media["height"], source_codec=media["codec"], has_audio=media["has_audio"],
            max_width=max_width, max_height=max_height, bitrate=bitrate, start_segment=start_segment,
            output_prefix=prefix, runtime_seconds=media["duration"])

    def dto(self, server, options):
        """The SessionInfoDto for GET /Sessions."""
        doc = copy.deepcopy(self.template)
        playback = self.playback
        if self.viewer_index is not None and playback is not None:
            item = doc.setdefault("NowPlayingItem", {})
            item["Path"] = server.item_path(self.item_id)
            item["RunTimeTicks"] = int(server.media["duration"] * TICKS)
            item["Width"], item["Height"] = server.media["width"], server.media["height"]
            state = doc.setdefault("PlayState", {})
            state["PositionTicks"] = int(self.position * TICKS)
            state["IsPaused"] = self.paused
            state["PlayMethod"] = "Transcode"
            info = playback.transcoding_info(options)
            if info is not None:
                doc["TranscodingInfo"] = info
            doc["LastActivityDate"] = doc["LastPlaybackCheckIn"] = jellyfin_date(self.last_activity)
            return doc
        if self.viewer_index is not None or "TranscodingInfo" in self.template:
            # A client that is connected but plays nothing (no viewer now, or stopped).
            for key in IDLE_KEYS:
                doc.pop(key, None)
            for key in PLAYING_STATE_KEYS:
                doc.get("PlayState", {}).pop(key, None)
            doc["LastActivityDate"] = jellyfin_date(self.last_activity)
            return doc
        if "NowPlayingItem" in doc:  # bob's direct play: a real path and runtime too
            self.touch()
            item = doc["NowPlayingItem"]
            item["Path"] = server.item_path(self.item_id)
            item["RunTimeTicks"] = int(server.media["duration"] * TICKS)
        doc["LastActivityDate"] = jellyfin_date(self.last_activity)
        return doc


def clone_id(template_id, n):
    return hashlib.md5(f"{template_id}/{n}".encode()).hexdigest()


def build_sessions(fixture_sessions, started_wall):
    """SessionStates in fixture order; a session with nothing playing and no transcode template
    (alice's Android phone) was last active two hours before the stand-in started."""
    sessions = [SessionState(s, i) for i, s in enumerate(fixture_sessions)]
    for s in sessions:
        if "NowPlayingItem" not in s.template:
            s.last_activity = started_wall - 7200
    return sessions


def viewer_templates(sessions):
    """The order in which viewers take sessions: transcoding sessions, then sessions playing
    directly (they switch to a 720p transcode)."""
    transcoding = [s for s in sessions if "TranscodingInfo" in s.template]
    direct = [s for s in sessions if "NowPlayingItem" in s.template and "TranscodingInfo" not in s.template]
    for s in direct:
        s.request_width, s.request_height, s.request_bitrate = 1280, 720, 4_000_000
    return transcoding + direct


def extra_session(template_state, n):
    """A further viewer: a copy of a transcoding session with its own ids (a second device)."""
    t = copy.deepcopy(template_state.template)
    t["Id"] = clone_id(t["Id"], n)
    t["DeviceId"] = clone_id(t.get("DeviceId", ""), n)[:16]
    t["DeviceName"] = f"{t.get('DeviceName', 'device')} {n + 1}"
    state = SessionState(t, None)
    state.request_width, state.request_height = template_state.request_width, template_state.request_height
    state.request_bitrate = template_state.request_bitrate
    state.transcode_reasons = template_state.transcode_reasons
    return state
