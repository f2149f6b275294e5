"""CaptureWorker reads real video into its ring, paces files, ends or loops, and survives failures."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.capture.source import FrameSource
from agent.capture.worker import CaptureWorker, Pacer
from agent.config.schema import CameraConfig
from agent.errors import SourceError
from agent.types import Frame, FrameClock, Image
from tests.support import assets

PEDESTRIAN_FRAMES = 795


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass
class StatusLog:
    """A status listener that records (camera, online) calls."""

    calls: list[tuple[str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, camera: str, online: bool) -> None:
        with self.lock:
            self.calls.append((camera, online))

    def of(self, camera: str) -> list[bool]:
        with self.lock:
            return [online for name, online in self.calls if name == camera]


@dataclass
class ScriptedSource:
    """A FrameSource that plays scripted real frames, then fails (a stream that drops)."""

    frames: list[Image]
    fail_open: bool = False
    crash_on_read: bool = False
    opens: int = 0
    _index: int = 0

    @property
    def fps(self) -> float | None:
        return None

    @property
    def is_file(self) -> bool:
        return False

    @property
    def frame_shape(self) -> tuple[int, int, int] | None:
        return None

    @property
    def position_s(self) -> float | None:
        return None

    def open(self) -> None:
        self.opens += 1
        self._index = 0
        if self.fail_open:
            raise SourceError("scripted: connection refused")

    def read_into(self, buf: Image) -> Image | None:
        if self.crash_on_read:
            raise RuntimeError("scripted bug in a decoder")
        if self._index >= len(self.frames):
            return None
        image = self.frames[self._index]
        self._index += 1
        if buf.shape != image.shape:
            return image.copy()
        buf[...] = image
        return buf

    def close(self) -> None:
        pass


def factory_of(source: FrameSource) -> Callable[[str, CameraConfig], FrameSource]:
    return lambda camera, config: source


@pytest.fixture(scope="module")
def real_frames() -> list[Image]:
    cap = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    frames = [np.asarray(cap.read()[1], dtype=np.uint8) for _ in range(5)]
    cap.release()
    return frames


@pytest.fixture
def workers() -> Iterator[list[CaptureWorker]]:
    """Workers a test starts; all are stopped and joined afterwards."""
    started: list[CaptureWorker] = []
    yield started
    for worker in started:
        worker.stop()
    for worker in started:
        assert worker.join(10.0), f"{worker.camera} did not stop"


def start(workers: list[CaptureWorker], camera: str, config: CameraConfig, **kwargs: object) -> CaptureWorker:
    worker = CaptureWorker(camera, config, FrameRing(camera, config.ring_slots), **kwargs)  # type: ignore[arg-type]
    workers.append(worker)
    worker.start()
    return worker


class Drainer:
    """A consumer that takes and releases every frame, as the detector does with a batch file
    (`realtime: false` is consumer-paced: the next frame is decoded only once the last was taken)."""

    def __init__(self, ring: FrameRing) -> None:
        self.ring = ring
        self.taken: list[int] = []
        self.stamps: list[tuple[float, float, FrameClock]] = []  # (ts_mono, ts_wall, clock) of each frame taken
        self.last_size: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.ring.wait_for_frame(0.05):
                continue
            frame = self.ring.take_latest()
            if frame is not None:
                self.taken.append(frame.seq)
                self.stamps.append((frame.ts_mono, frame.ts_wall, frame.clock))
                self.last_size = (frame.width, frame.height)
                self.ring.release(frame)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


@pytest.fixture
def drainers() -> Iterator[list[Drainer]]:
    made: list[Drainer] = []
    yield made
    for drainer in made:
        drainer.stop()


def fast_retry(**overrides: object) -> CameraConfig:
    values: dict[str, object] = {"reconnect_initial_s": 0.02, "reconnect_max_s": 0.05, **overrides}
    return CameraConfig.model_validate(values)


def test_file_non_realtime_reads_every_frame_then_ends(workers: list[CaptureWorker], drainers: list[Drainer]) -> None:
    """realtime: false, loop: false with detect_fps at the file's 10 fps hands all 795 frames of the
    real video to its consumer, none dropped, then sets ended and goes offline."""
    status = StatusLog()
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False, loop=False, detect_fps=10)
    worker = start(workers, "walkway", config, status_listener=status)
    drainer = Drainer(worker.ring)
    drainers.append(drainer)
    assert worker.ended.wait(60.0)
    assert worker.join(10.0)
    stats = worker.stats()
    assert stats.frames == PEDESTRIAN_FRAMES
    assert worker.ring.counters().committed == PEDESTRIAN_FRAMES
    assert (stats.reconnects, stats.frozen, stats.ended, stats.online) == (0, 0, True, False)
    assert status.of("walkway") == [True, False]
    assert wait_until(lambda: len(drainer.taken) == PEDESTRIAN_FRAMES, 5.0)
    assert drainer.taken == list(range(1, PEDESTRIAN_FRAMES + 1))
    assert worker.ring.counters().dropped == 0
    assert drainer.last_size == (768, 576)


def test_file_detect_fps_is_per_media_second(workers: list[CaptureWorker], drainers: list[Drainer]) -> None:
    """detect_fps 5 on the 10 fps file passes every 2nd frame to the ring (the others count as
    rate_capped), stamped with media time: 0.2 s of video apart however fast they were decoded,
    and on the wall clock from the first frame's read."""
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False, loop=False, detect_fps=5)
    before = time.time()
    worker = start(workers, "replay", config)
    drainer = Drainer(worker.ring)
    drainers.append(drainer)
    assert worker.ended.wait(60.0)
    assert wait_until(lambda: len(drainer.taken) == 398, 5.0)
    counters = worker.ring.counters()
    assert (counters.committed, counters.rate_capped, counters.overwritten) == (398, 397, 0)
    assert worker.stats().frames == PEDESTRIAN_FRAMES
    monos = [m for m, _, _ in drainer.stamps]
    walls = [w for _, w, _ in drainer.stamps]
    assert {c for _, _, c in drainer.stamps} == {FrameClock.MEDIA}
    assert [round(b - a, 3) for a, b in itertools.pairwise(monos)] == [0.2] * 397
    assert [round(w - walls[0], 3) for w in walls] == [round(m - monos[0], 3) for m in monos]
    assert before <= walls[0] <= time.time()
    assert monos[-1] - monos[0] == pytest.approx(79.4, abs=1e-6)  # frame 794 at 10 fps


def test_looping_file_media_time_goes_on(workers: list[CaptureWorker], drainers: list[Drainer]) -> None:
    """The second pass of a looping file continues one frame after the first ended: time never goes back."""
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False, loop=True, detect_fps=10)
    worker = start(workers, "replayed", config)
    drainer = Drainer(worker.ring)
    drainers.append(drainer)
    assert wait_until(lambda: len(drainer.stamps) > PEDESTRIAN_FRAMES + 10, 60.0)
    monos = [m for m, _, _ in drainer.stamps[: PEDESTRIAN_FRAMES + 10]]
    steps = [round(b - a, 3) for a, b in itertools.pairwise(monos)]
    assert steps == [0.1] * (PEDESTRIAN_FRAMES + 9)


def test_file_non_realtime_waits_for_its_consumer(workers: list[CaptureWorker]) -> None:
    """Without a consumer a batch file decodes its first frame and then waits, instead of decoding
    frames that would be overwritten unread."""
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False, loop=False)
    worker = start(workers, "idle", config)
    assert worker.ring.wait_for_frame(10.0, after_seq=0)
    time.sleep(0.3)
    assert worker.ring.counters().committed == 1
    assert not worker.ended.is_set()


def test_file_loop_starts_again_at_the_end(workers: list[CaptureWorker], drainers: list[Drainer]) -> None:
    """loop: true keeps reading past the end of the file without ending, failing or going offline."""
    status = StatusLog()
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False, loop=True)
    worker = start(workers, "looped", config, status_listener=status)
    drainers.append(Drainer(worker.ring))
    assert wait_until(lambda: worker.stats().frames > PEDESTRIAN_FRAMES + 50, 60.0)
    stats = worker.stats()
    assert not worker.ended.is_set()
    assert (stats.reconnects, stats.online) == (0, True)
    assert status.of("looped") == [True]


def test_realtime_file_is_paced_at_its_fps(workers: list[CaptureWorker]) -> None:
    """realtime: true commits frames 1/fps apart in real time (10 fps video: median spacing ~0.1 s),
    and stamps them 0.1 s apart in media time."""
    config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=True, detect_fps=10)
    worker = start(workers, "paced", config)
    seen: list[tuple[Frame, float]] = []  # (frame, when it arrived)
    last = 0
    while len(seen) < 15 and worker.ring.wait_for_frame(10.0):
        frame = worker.ring.take_latest(after_seq=last)
        if frame is not None:
            arrived = time.monotonic()
            seen.append((Frame(frame.camera, frame.seq, frame.ts_mono, frame.ts_wall, frame.image.copy()), arrived))
            last = frame.seq
            worker.ring.release(frame)
    spacings = [tb - ta for (a, ta), (b, tb) in itertools.pairwise(seen) if b.seq == a.seq + 1]
    assert len(spacings) >= 8
    assert statistics.median(spacings) == pytest.approx(0.1, abs=0.03)
    (first, first_arrived), (final, final_arrived) = seen[0], seen[-1]
    assert (final_arrived - first_arrived) / (final.seq - first.seq) == pytest.approx(0.1, abs=0.02)
    assert (final.ts_mono - first.ts_mono) / (final.seq - first.seq) == pytest.approx(0.1, abs=1e-6)


def test_pacer_schedule_does_not_drift() -> None:
    """Due times are anchor + n/fps however late each call is, and re-anchor when far behind."""
    pacer = Pacer(10.0)
    assert pacer.next_due(100.0) == 100.0
    assert pacer.next_due(100.05) == pytest.approx(100.1)
    assert pacer.next_due(100.19) == pytest.approx(100.2)
    assert pacer.next_due(105.0) == 105.0  # more than MAX_LAG_S late: start a new schedule


def test_bad_source_retries_while_other_camera_is_unaffected(
    workers: list[CaptureWorker], drainers: list[Drainer]
) -> None:
    """A missing file goes offline and keeps reconnecting; a second camera still reads all its frames."""
    status = StatusLog()
    bad = start(workers, "broken", fast_retry(source="/nonexistent/camera.avi"), status_listener=status)
    good_config = CameraConfig(source=str(assets.video(assets.PEDESTRIANS)), realtime=False)
    good = start(workers, "fine", good_config, status_listener=status)
    drainers.append(Drainer(good.ring))
    assert wait_until(lambda: bad.stats().reconnects >= 5)
    assert good.ended.wait(60.0)
    assert good.stats().frames == PEDESTRIAN_FRAMES
    bad_stats = bad.stats()
    assert (bad_stats.online, bad_stats.frames) == (False, 0)
    assert bad_stats.offline_s > 0
    assert status.of("broken") == [False]
    assert bad.is_alive


def test_stream_that_drops_is_reopened_with_backoff_reset(
    workers: list[CaptureWorker], real_frames: list[Image]
) -> None:
    """A source failing after 5 frames each session is reopened again and again, toggling online.

    The backoff resets after each good frame: 10 reconnects without the reset would need at
    least 25 s of delays (0.025 s doubling), with it they take well under the 15 s allowed."""
    status = StatusLog()
    source = ScriptedSource(real_frames)
    config = fast_retry(source="rtsp://cam/1", reconnect_initial_s=0.05, reconnect_max_s=60.0)
    worker = start(workers, "flaky", config, source_factory=factory_of(source), status_listener=status)
    assert wait_until(lambda: worker.stats().reconnects >= 10, 15.0)
    stats = worker.stats()
    assert source.opens >= 10
    assert stats.frames >= 5 * 10
    assert status.of("flaky")[:4] == [True, False, True, False]


def test_frozen_picture_counts_as_failure_and_reconnects(
    workers: list[CaptureWorker], real_frames: list[Image]
) -> None:
    """The same real frame forever is detected as frozen after frozen_timeout_s and the source reopened."""
    source = ScriptedSource([real_frames[0]] * 1_000_000)
    config = fast_retry(source="rtsp://cam/frozen", frozen_timeout_s=0.3)
    worker = start(workers, "frozen", config, source_factory=factory_of(source))
    assert wait_until(lambda: worker.stats().frozen >= 2)
    assert source.opens >= 2
    assert worker.stats().reconnects >= 2


def test_source_bug_is_logged_and_capture_keeps_retrying(
    workers: list[CaptureWorker], real_frames: list[Image], caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception from a source is logged with its traceback and retried, not fatal."""
    source = ScriptedSource(real_frames, crash_on_read=True)
    worker = start(workers, "buggy", fast_retry(source="rtsp://cam/bug"), source_factory=factory_of(source))
    assert wait_until(lambda: worker.stats().reconnects >= 3)
    assert worker.is_alive
    assert any(r.exc_info is not None and "unexpected" in r.getMessage() for r in caplog.records)


def test_shape_change_reallocates_ring_slots(workers: list[CaptureWorker], real_frames: list[Image]) -> None:
    """Frames of a new size are committed at that size (the ring reallocates its slot)."""
    small = np.asarray(cv2.resize(real_frames[1], (384, 288)), dtype=np.uint8)
    source = ScriptedSource([real_frames[0], small])
    config = CameraConfig(source="rtsp://cam/shape", reconnect_initial_s=30.0, reconnect_max_s=30.0)
    worker = start(workers, "shape", config, source_factory=factory_of(source))
    assert wait_until(lambda: worker.stats().reconnects >= 1)
    frame = worker.ring.take_latest()
    assert frame is not None
    assert (frame.seq, frame.image.shape) == (2, (288, 384, 3))
    assert (frame.image == small).all()
    worker.ring.release(frame)


def test_stop_interrupts_a_long_backoff(workers: list[CaptureWorker]) -> None:
    """stop() during a 30 s backoff ends the thread promptly, and the heartbeat keeps beating while waiting."""
    config = CameraConfig(source="/nonexistent/x.avi", reconnect_initial_s=30.0, reconnect_max_s=60.0)
    worker = start(workers, "patient", config)
    assert wait_until(lambda: worker.stats().reconnects == 1)
    beat = worker.heartbeat_mono
    assert wait_until(lambda: worker.heartbeat_mono > beat, 5.0)
    worker.stop()
    assert worker.join(5.0)


def test_frame_times_come_from_the_injected_clocks(workers: list[CaptureWorker], real_frames: list[Image]) -> None:
    """ts_mono and ts_wall of committed frames are read from the clocks given to the worker."""
    ticks = iter(range(10_000_000))
    clock_lock = threading.Lock()

    def fake_mono() -> float:
        with clock_lock:
            return 1000.0 + next(ticks) * 0.001

    source = ScriptedSource(real_frames[:2])
    config = CameraConfig(source="rtsp://cam/clock", reconnect_initial_s=30.0, reconnect_max_s=30.0)
    worker = start(
        workers, "clocked", config, source_factory=factory_of(source), monotonic=fake_mono, wall=lambda: 1.7e9
    )
    assert wait_until(lambda: worker.stats().reconnects >= 1)
    frame = worker.ring.take_latest()
    assert frame is not None
    assert frame.ts_wall == 1.7e9
    assert 1000.0 < frame.ts_mono < 1100.0
    worker.ring.release(frame)
