"""The pipeline's threads: detector threads hand frames to one analytics thread, in order per camera,
overlapping detection of frame n + 1 with analytics of frame n; retired cameras end after their frames.

Scripted detection runners and processors stand in at the pipeline's own Protocols; the rings are real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from agent.capture.ring import FrameRing
from agent.detect import Detector
from agent.pipeline.counters import DetectCounters
from agent.pipeline.lanes import CameraLane
from agent.pipeline.workers import PipelineWorkers
from agent.publish.messages import OutboundMessage
from agent.types import BBox, DetectionResult, Frame

SHAPE = (2, 2, 3)


class NamedDetector:
    """A Detector that is only passed through to the runner, which records which one it got."""

    input_size = (300, 300)

    def __init__(self, name: str) -> None:
        self.name = name

    def detect(self, image: object, min_score: float | None = None) -> DetectionResult:
        raise AssertionError("the scripted runner does not call detect()")


class ScriptedRunner:
    """Returns an empty result; blocks a frame until its gate (by seq) opens, or raises for chosen seqs."""

    def __init__(
        self, gates: dict[int, threading.Event] | None = None, fail_seqs: frozenset[int] = frozenset()
    ) -> None:
        self.gates = gates or {}
        self.fail_seqs = fail_seqs
        self.started: list[int] = []
        self.detectors: list[str] = []

    def run(
        self, frame: Frame, detector: Detector, min_score: float, track_boxes: Sequence[BBox]
    ) -> DetectionResult | None:
        self.started.append(frame.seq)
        self.detectors.append(getattr(detector, "name", "?"))
        gate = self.gates.get(frame.seq)
        if gate is not None:
            assert gate.wait(5.0)
        if frame.seq in self.fail_seqs:
            raise ValueError(f"scripted failure on frame {frame.seq}")
        return DetectionResult((), 1.0)


class RecordingProcessor:
    """Records what analytics did, in order, as (what, seq-or-time) pairs."""

    detector_floor = 0.3
    active_boxes: tuple[BBox, ...] = ()

    def __init__(self, on_process: Callable[[Frame], None] | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.results: list[DetectionResult | None] = []
        self._on_process = on_process

    def process(self, frame: Frame, result: DetectionResult | None) -> list[OutboundMessage]:
        if self._on_process is not None:
            self._on_process(frame)
        self.calls.append(("frame", frame.seq))
        self.results.append(result)
        return [OutboundMessage(f"t/{frame.camera}", str(frame.seq).encode(), qos=0, retain=False, durable=False)]

    def tick(self, ts_wall: float) -> list[OutboundMessage]:
        return []

    def finish(self, ts_wall: float) -> list[OutboundMessage]:
        self.calls.append(("finish", 0))
        return []


class Sent:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[OutboundMessage] = []

    def __call__(self, message: OutboundMessage) -> None:
        with self.lock:
            self.messages.append(message)


def commit(ring: FrameRing, n: int = 1) -> None:
    for _ in range(n):
        ring.writable(SHAPE)
        ring.commit(time.monotonic(), time.time())


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def frame_ready() -> threading.Event:
    return threading.Event()


def make_lane(ring: FrameRing, runner: ScriptedRunner, processor: RecordingProcessor) -> CameraLane:
    return CameraLane(ring.camera, ring, runner, processor, 0.0, DetectCounters())


def one_camera(
    frame_ready: threading.Event,
    runner: ScriptedRunner,
    processor: RecordingProcessor,
    detector: str = "d0",
    sent: Sent | None = None,
) -> tuple[PipelineWorkers, FrameRing]:
    """A started pipeline with one interpreter serving one camera ("cam") on a real 4-slot ring."""
    ring = FrameRing("cam", 4, notify=frame_ready)
    workers = PipelineWorkers([NamedDetector(detector)], sent if sent is not None else Sent(), frame_ready)
    workers.set_lane(make_lane(ring, runner, processor))
    workers.start()
    return workers, ring


def test_frames_reach_analytics_in_order_per_camera_and_go_back_to_the_ring(frame_ready: threading.Event) -> None:
    """Three cameras, two detector threads: each camera's frames are analysed in seq order and all released."""
    sent = Sent()
    workers = PipelineWorkers([NamedDetector("d0"), NamedDetector("d1")], sent, frame_ready)
    rings = [FrameRing(f"cam{i}", 4, notify=frame_ready) for i in range(3)]
    processors = [RecordingProcessor() for _ in rings]
    for ring, processor in zip(rings, processors, strict=True):
        workers.set_lane(make_lane(ring, ScriptedRunner(), processor))
    workers.start()
    try:
        for _ in range(40):
            for ring in rings:
                commit(ring)
            time.sleep(0.002)
        wait_until(lambda: all(workers.idle_for(r.camera) for r in rings))
    finally:
        assert workers.stop(time.time(), 2.0)
    for ring, processor in zip(rings, processors, strict=True):
        seqs = [seq for what, seq in processor.calls if what == "frame"]
        assert seqs == sorted(seqs)
        assert len(seqs) == len(set(seqs))
        assert seqs[-1] == ring.latest_seq
        assert processor.calls[-1] == ("finish", 0)
        assert ring.held_count == 0
    assert sum(w.served for w in workers.detector_workers) == sum(
        len([c for c in p.calls if c[0] == "frame"]) for p in processors
    )
    assert len(sent.messages) == sum(w.served for w in workers.detector_workers)


def test_analytics_of_frame_n_overlaps_detection_of_frame_n_plus_1(frame_ready: threading.Event) -> None:
    """While frame 1 is still being analysed, the detector already works on frame 2."""
    in_analytics, release_analytics = threading.Event(), threading.Event()

    def hold_first(frame: Frame) -> None:
        if frame.seq == 1:
            in_analytics.set()
            assert release_analytics.wait(5.0)

    runner = ScriptedRunner()
    processor = RecordingProcessor(on_process=hold_first)
    workers, ring = one_camera(frame_ready, runner, processor)
    try:
        commit(ring)
        assert in_analytics.wait(5.0)
        commit(ring)
        wait_until(lambda: runner.started == [1, 2])  # detection of 2 while analytics holds 1
        assert processor.calls == []
        release_analytics.set()
        wait_until(lambda: processor.calls == [("frame", 1), ("frame", 2)])
    finally:
        release_analytics.set()
        assert workers.stop(time.time(), 2.0)


def test_a_failing_frame_is_counted_released_and_the_camera_goes_on(frame_ready: threading.Event) -> None:
    """A detector exception on one frame is counted and the frame goes back to its ring unanalysed (it is
    neither a detection nor a frame the motion gate skipped); later frames flow."""
    sent = Sent()
    runner = ScriptedRunner(fail_seqs=frozenset({1}))
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, runner, processor, sent=sent)
    try:
        commit(ring)
        wait_until(lambda: runner.started == [1] and workers.idle_for("cam"))
        commit(ring)
        wait_until(lambda: len(processor.calls) == 1)
    finally:
        assert workers.stop(time.time(), 2.0)
    assert workers.detector_workers[0].errors == 1
    assert processor.calls == [("frame", 2), ("finish", 0)]
    assert processor.results[0] is not None
    assert ring.held_count == 0


def test_an_analytics_failure_does_not_leak_the_frame(frame_ready: threading.Event) -> None:
    """A processor exception is counted by the analytics thread and the frame still goes back to the ring."""

    def explode(frame: Frame) -> None:
        if frame.seq == 1:
            raise RuntimeError("scripted analytics failure")

    processor = RecordingProcessor(on_process=explode)
    workers, ring = one_camera(frame_ready, ScriptedRunner(), processor)
    try:
        commit(ring)
        wait_until(lambda: workers.analytics.errors == 1)
        commit(ring)
        wait_until(lambda: processor.calls == [("frame", 2)])
    finally:
        assert workers.stop(time.time(), 2.0)
    assert ring.held_count == 0


def test_retired_camera_is_finished_after_its_frame_in_detection(frame_ready: threading.Event) -> None:
    """A camera retired while its frame is inside the detector ends its events after that frame's analytics."""
    gate = threading.Event()
    runner = ScriptedRunner(gates={1: gate})
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, runner, processor)
    try:
        commit(ring)
        wait_until(lambda: runner.started == [1])
        workers.retire_lane("cam")
        assert processor.calls == []
        gate.set()
        wait_until(lambda: processor.calls == [("frame", 1), ("finish", 0)])
        commit(ring)
        time.sleep(0.1)
        assert runner.started == [1]  # a retired camera is not served again
    finally:
        gate.set()
        assert workers.stop(time.time(), 2.0)
    assert processor.calls.count(("finish", 0)) == 1


def test_replaced_detectors_serve_from_then_on(frame_ready: threading.Event) -> None:
    """After replace_detectors (a model reload) frames go through the new interpreter only."""
    runner = ScriptedRunner()
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, runner, processor, detector="old")
    try:
        commit(ring)
        wait_until(lambda: len(processor.calls) == 1)
        assert workers.replace_detectors([NamedDetector("new")], 2.0)
        commit(ring)
        wait_until(lambda: len(processor.calls) == 2)
    finally:
        assert workers.stop(time.time(), 2.0)
    assert runner.detectors == ["old", "new"]


def test_heartbeats_name_every_thread(frame_ready: threading.Event) -> None:
    """The watchdog sees one heartbeat per detector thread plus the analytics thread."""
    workers = PipelineWorkers([NamedDetector("a"), NamedDetector("b")], Sent(), frame_ready)
    workers.start()
    try:
        names = [beat.worker for beat in workers.heartbeats()]
        assert names == ["detector-0", "detector-1", "analytics"]
        assert all(beat.expected for beat in workers.heartbeats())
    finally:
        assert workers.stop(time.time(), 2.0)
    assert not any(beat.expected for beat in workers.heartbeats())
