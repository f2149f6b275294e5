"""CaptureWorker: the thread `capture-<camera>` that reads one camera into its FrameRing.

It never waits for consumers, and downscales frames to the camera's detect_resolution
(agent.capture.scale) on their way into the ring. On an open or read failure, or a frozen
picture, it closes the source, marks the camera offline and retries forever with jittered
exponential backoff (stop() wakes it at once). The supervisor reads stats() and
heartbeat_mono from its own thread; the status listener is called on this thread."""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from agent.backoff import Backoff
from agent.capture.frozen import FrozenDetector
from agent.capture.media import MediaClock, MediaRateCap
from agent.capture.ring import FrameRing
from agent.capture.scale import FrameScaler
from agent.capture.source import FrameSource, OpenCVSource
from agent.config.schema import CameraConfig
from agent.config.sources import redact
from agent.errors import SourceError
from agent.types import FrameClock, Image

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
StatusListener = Callable[[str, bool], None]
SourceFactory = Callable[[str, CameraConfig], FrameSource]

FPS_WINDOW_S = 5.0  # measured fps is over the frames of the last few seconds
CONSUMER_WAIT_SLICE_S = 0.5  # a batch file waiting for the detector still refreshes its heartbeat this often
WAIT_SLICE_S = 0.5  # longest single sleep, so the heartbeat stays fresh while pacing or backing off
MAX_LAG_S = 1.0  # a paced file this far behind schedule re-anchors instead of bursting to catch up
FALLBACK_FILE_FPS = 25.0  # pace for files whose container reports no usable fps
FAILURE_LOG_INTERVAL_S = 60.0  # repeated failures of an offline camera are logged at most this often
UNKNOWN_SHAPE = (0, 0, 3)  # first frame of a source that reports no size is copied once


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """A snapshot of one camera's capture health."""

    camera: str
    frames: int
    dropped: int
    reconnects: int
    frozen: int
    nominal_fps: float  # the source's own frame rate (0 when it does not say)
    offline_s: float
    online_s: float  # time since start() minus offline_s
    online: bool
    fps: float
    ended: bool
    heartbeat_mono: float


class _Outcome(enum.Enum):
    EOF = "eof"
    FAILED = "failed"
    FROZEN = "frozen"
    STOPPED = "stopped"


class Pacer:
    """Monotonic schedule for realtime file playback: frame n is due at anchor + n / fps (no drift)."""

    def __init__(self, fps: float) -> None:
        self.period_s = 1.0 / fps
        self._anchor: float | None = None
        self._n = 0

    def next_due(self, now: float) -> float:
        if self._anchor is None or now - (self._anchor + self._n * self.period_s) > MAX_LAG_S:
            self._anchor, self._n = now, 0
        due = self._anchor + self._n * self.period_s
        self._n += 1
        return due


class CaptureWorker:
    """Reads `camera` into `ring` on its own non-daemon thread until stop() (or a file ends)."""

    def __init__(
        self,
        camera: str,
        config: CameraConfig,
        ring: FrameRing,
        *,
        source_factory: SourceFactory = OpenCVSource,
        status_listener: StatusListener | None = None,
        monotonic: Clock = time.monotonic,
        wall: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.camera = camera
        self.config = config
        self.ring = ring
        self.ended = threading.Event()
        self._factory = source_factory
        self._listener = status_listener
        self._monotonic = monotonic
        self._wall = wall
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s, rng)
        self._scaler = FrameScaler(camera, config.detect_resolution)  # kept across sessions: one scratch buffer
        self._media = MediaClock()  # kept across sessions: a looping file's time goes on
        self._rate_cap = MediaRateCap()
        self._stop = threading.Event()
        # Daemon: a camera hung in open() must not block process exit after the supervisor's bounded join.
        self._thread = threading.Thread(target=self._run, name=f"capture-{camera}", daemon=True)
        self._lock = threading.Lock()  # guards the counters below, read by stats()
        self._frames = 0
        self._reconnects = 0
        self._frozen = 0
        self._nominal_fps = 0.0
        self._online: bool | None = None  # None until the first open succeeds or fails
        self._offline_since: float | None = None
        self._offline_total_s = 0.0
        self._started_mono: float | None = None
        self._recent: deque[float] = deque(maxlen=4096)
        self._last_failure_log = -FAILURE_LOG_INTERVAL_S
        self.heartbeat_mono = monotonic()

    # --- control, from the supervisor's thread ----------------------------------
    def start(self) -> None:
        self._offline_since = self._started_mono = self._monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish; a hung network read ends within read_timeout_s."""
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the thread; True if it has finished."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> CaptureStats:
        now = self._monotonic()
        with self._lock:
            offline_s = self._offline_total_s + (now - self._offline_since if self._offline_since is not None else 0.0)
            recent = [t for t in self._recent if now - t <= FPS_WINDOW_S]
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) >= 2 and recent[-1] > recent[0] else 0.0
            return CaptureStats(
                camera=self.camera,
                frames=self._frames,
                dropped=self.ring.counters().dropped,
                reconnects=self._reconnects,
                frozen=self._frozen,
                nominal_fps=self._nominal_fps,
                offline_s=offline_s,
                online_s=max(0.0, now - self._started_mono - offline_s) if self._started_mono is not None else 0.0,
                online=bool(self._online),
                fps=fps,
                ended=self.ended.is_set(),
                heartbeat_mono=self.heartbeat_mono,
            )

    # --- the capture thread -------------------------------------------------------
    def _run(self) -> None:
        logger.info("camera %s: capture starting from %s", self.camera, redact(self.config.source))
        try:
            while not self._stop.is_set():
                self._beat()
                outcome = self._session()
                if outcome is _Outcome.EOF and not self.config.loop:
                    logger.info("camera %s: file ended after %d frames", self.camera, self._frames)
                    self.ended.set()
                    break
                if outcome in (_Outcome.FAILED, _Outcome.FROZEN):
                    self._wait_backoff()
        finally:
            if self._online:
                self._set_online(False)
            self._close_offline_period()
            logger.info("camera %s: capture stopped", self.camera)

    def _session(self) -> _Outcome:
        """Open the source once and pump frames until it ends, fails, freezes or we stop."""
        source: FrameSource | None = None
        try:
            source = self._factory(self.camera, self.config)
            source.open()
            return self._pump(source)
        except SourceError as exc:
            self._fail(str(exc))
        except Exception:  # the worker loop's one broad except: a bug must not end capture
            logger.exception("camera %s: unexpected capture error", self.camera)
            self._fail("unexpected error")
        finally:
            if source is not None:
                source.close()
        return _Outcome.FAILED

    def _pump(self, source: FrameSource) -> _Outcome:
        frozen = FrozenDetector(self.config.frozen_timeout_s)
        consumer_paced = source.is_file and not self.config.realtime
        # An unpaced file has no frame rate to fall short of: the detector sets its speed.
        self._nominal_fps = 0.0 if consumer_paced else source.fps or 0.0
        pacer = Pacer(source.fps or FALLBACK_FILE_FPS) if source.is_file and self.config.realtime else None
        if source.is_file:
            self._media.new_pass(source.fps or FALLBACK_FILE_FPS)
        shape: tuple[int, ...] = source.frame_shape or UNKNOWN_SHAPE
        frames = 0
        while not self._stop.is_set():
            self._beat()
            if consumer_paced and not self._await_consumer():
                return _Outcome.STOPPED
            # Native-size decode: into the ring slot, or into the scratch buffer when it must shrink.
            image = source.read_into(self._scaler.decode_buffer(self.ring, shape))
            if image is None:
                if source.is_file and frames > 0:
                    return _Outcome.EOF
                self._fail(f"no frame from {redact(self.config.source)} (stream ended or read timed out)")
                return _Outcome.FAILED
            shape = image.shape
            frames += 1
            if pacer is not None and not self._sleep_until(pacer.next_due(self._monotonic())):
                return _Outcome.STOPPED
            stored = self._store(source, image)
            if stored is not None and frozen.update(*stored):
                with self._lock:
                    self._frozen += 1
                self._fail(f"picture unchanged for {frozen.unchanged_s(stored[1]):.1f} s (frozen stream)")
                return _Outcome.FROZEN
        return _Outcome.STOPPED

    def _store(self, source: FrameSource, image: Image) -> tuple[Image, float] | None:
        """Commit the frame just read; the ring slot it went into and its ts_mono, or None when a
        file's media-time rate cap passed it over (it never reaches the ring).

        A live frame carries the capture time; a file's frame its media time on the run's clock, and
        only the frames detect_fps admits per media second go to the ring (agent.capture.media)."""
        now_mono = self._monotonic()
        if not source.is_file:
            buf = self._scaler.store(self.ring, image)
            self.ring.commit(now_mono, self._wall())
            self._on_frame(now_mono, buf.shape)
            return buf, now_mono
        stamp = self._media.stamp(source.position_s, now_mono, self._wall())
        if not self._rate_cap.admit(stamp.offset_s, self.config.detect_fps):
            self.ring.skip()
            self._on_frame(now_mono, image.shape)
            return None
        buf = self._scaler.store(self.ring, image)
        self.ring.commit(stamp.ts_mono, stamp.ts_wall, FrameClock.MEDIA)
        self._on_frame(now_mono, buf.shape)
        return buf, stamp.ts_mono

    def _await_consumer(self) -> bool:
        """A file read with `realtime: false` goes as fast as the detector takes frames: the next
        frame is decoded only once the last one was taken, so no decoding is thrown away and
        every frame is analysed, including those decoded before the detector started."""
        while not self._stop.is_set():
            if self.ring.wait_consumed(CONSUMER_WAIT_SLICE_S):
                return True
            self._beat()
        return False

    def _on_frame(self, ts_mono: float, shape: tuple[int, ...]) -> None:
        with self._lock:
            self._frames += 1
            self._recent.append(ts_mono)
            while self._recent and ts_mono - self._recent[0] > FPS_WINDOW_S:
                self._recent.popleft()
        if not self._online:
            self._backoff.reset()
            logger.info("camera %s: online (%dx%d)", self.camera, shape[1], shape[0])
            self._set_online(True)

    def _fail(self, reason: str) -> None:
        """Count a failure, mark the camera offline and log at a limited rate."""
        now = self._monotonic()
        with self._lock:
            self._reconnects += 1
        if self._online is not False or now - self._last_failure_log >= FAILURE_LOG_INTERVAL_S:
            self._last_failure_log = now
            logger.warning("%s; reconnecting with backoff", _with_camera(self.camera, reason))
        else:
            logger.debug("%s", _with_camera(self.camera, reason))
        if self._online is not False:
            self._set_online(False)

    def _set_online(self, online: bool) -> None:
        now = self._monotonic()
        with self._lock:
            if online and self._offline_since is not None:
                self._offline_total_s += now - self._offline_since
                self._offline_since = None
            elif not online and self._offline_since is None:
                self._offline_since = now
            self._online = online
        if self._listener is not None:
            self._listener(self.camera, online)

    def _close_offline_period(self) -> None:
        with self._lock:
            if self._offline_since is not None:
                self._offline_total_s += self._monotonic() - self._offline_since
                self._offline_since = None

    def _wait_backoff(self) -> None:
        self._sleep_until(self._monotonic() + self._backoff.next_delay_s())

    def _sleep_until(self, due_mono: float) -> bool:
        """Sleep until due_mono in short slices, beating; False if stop() was called."""
        while True:
            remaining = due_mono - self._monotonic()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(remaining, WAIT_SLICE_S)):
                return False
            self._beat()

    def _beat(self) -> None:
        self.heartbeat_mono = self._monotonic()


def _with_camera(camera: str, reason: str) -> str:
    """Prefix the camera's name unless the message (a SourceError's) already starts with it."""
    prefix = f"camera {camera}: "
    return reason if reason.startswith(prefix) else prefix + reason
