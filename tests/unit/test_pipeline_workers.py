"""The pipeline's threads: detector threads prepare inputs for their invoke threads and hand frames to
one analytics thread, in order per camera, overlapping the preparation of frame n + 1 and the analytics
of frame n with the invoke of frame n + 1 / n; retired cameras end after their frames.

A scripted detector and planner stand in at the pipeline's own Protocols (each frame's pixels hold
its seq, so the detector knows which frame it invokes); the rings and threads are real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.detect import InputBuffer, InvokeOutput
from agent.gate.regions import Region
from agent.pipeline.counters import DetectCounters
from agent.pipeline.lanes import CameraLane
from agent.pipeline.wake import WakeSignal
from agent.pipeline.workers import PipelineWorkers
from agent.records import MotionChange, Record
from agent.types import BBox, Detection, DetectionResult, Frame

SHAPE = (2, 2, 3)


class Script:
    """What the scripted detectors do and saw: a frame's invoke blocks until its gate (by seq) opens,
    or raises for chosen seqs."""

    def __init__(
        self, gates: dict[int, threading.Event] | None = None, fail_seqs: frozenset[int] = frozenset()
    ) -> None:
        self.gates = gates or {}
        self.fail_seqs = fail_seqs
        self.prepared: list[int] = []
        self.started: list[int] = []  # invokes begun, by frame seq
        self.detectors: list[str] = []  # which detector ran each invoke


class ScriptedDetector:
    """A Detector whose prepared input is the frame's seq (read from its pixels)."""

    input_size = (2, 2)

    def __init__(self, name: str, script: Script) -> None:
        self.name = name
        self.script = script

    def detect(self, image: object, min_score: float | None = None) -> DetectionResult:
        raise AssertionError("the pipeline prepares, invokes and decodes in separate steps")

    def new_input_buffer(self) -> InputBuffer:
        return np.zeros(1, dtype=np.int64)

    def prepare(self, image: np.ndarray, buffer: InputBuffer) -> None:
        buffer[0] = int(image[0, 0, 0])
        self.script.prepared.append(int(buffer[0]))

    def invoke_prepared(self, buffer: InputBuffer) -> InvokeOutput:
        seq = int(buffer[0])
        self.script.started.append(seq)
        self.script.detectors.append(self.name)
        gate = self.script.gates.get(seq)
        if gate is not None:
            assert gate.wait(5.0)
        if seq in self.script.fail_seqs:
            raise ValueError(f"scripted failure on frame {seq}")
        return InvokeOutput({0: np.array([seq])}, 1.0)

    def decode(self, output: InvokeOutput, width: int, height: int, min_score: float | None = None) -> DetectionResult:
        seq = float(output.tensors[0][0])
        return DetectionResult((Detection("person", 0, 0.9, BBox(seq, 0.0, seq + 1.0, 1.0)),), output.inference_ms)


class WholeFrame:
    """A DetectionPlanner: the whole frame as `regions` regions, or none for the seqs in `gated` (the
    motion gate skips them); merge keeps every region's detections."""

    def __init__(
        self, regions: int = 1, gated: frozenset[int] = frozenset(), broken: frozenset[int] = frozenset()
    ) -> None:
        self.regions = regions
        self.gated = gated
        self.broken = broken  # plan() raises for these seqs

    def plan(self, frame: Frame, model_side: int, track_boxes: Sequence[BBox]) -> tuple[Region, ...]:
        if frame.seq in self.broken:
            raise RuntimeError(f"scripted planning failure on frame {frame.seq}")
        if frame.seq in self.gated:
            return ()
        return tuple(Region(0, 0, frame.width, frame.height) for _ in range(self.regions))

    def merge(self, regions: Sequence[Region], results: Sequence[DetectionResult]) -> DetectionResult:
        return DetectionResult(tuple(d for r in results for d in r.detections), sum(r.inference_ms for r in results))


class RecordingProcessor:
    """Records what analytics did, in order, as (what, seq-or-time) pairs."""

    detector_floor = 0.3
    active_boxes: tuple[BBox, ...] = ()

    def __init__(self, on_process: Callable[[Frame], None] | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.results: list[DetectionResult | None] = []
        self._on_process = on_process

    def process(self, frame: Frame, result: DetectionResult | None) -> list[Record]:
        if self._on_process is not None:
            self._on_process(frame)
        self.calls.append(("frame", frame.seq))
        self.results.append(result)
        return [MotionChange(frame.camera, frame.seq % 2 == 0)]  # one record per analysed frame

    def tick(self, ts_wall: float) -> list[Record]:
        return []

    def finish(self, ts_wall: float) -> list[Record]:
        self.calls.append(("finish", 0))
        return []


class Sent:
    """A Sink that keeps every record it is handed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[Record] = []

    def accept(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)


def commit(ring: FrameRing, n: int = 1) -> None:
    """Commit frames whose pixels hold their seq (mod 256)."""
    for _ in range(n):
        ring.writable(SHAPE)[...] = (ring.latest_seq + 1) % 256
        ring.commit(time.monotonic(), time.time())


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def frame_ready() -> WakeSignal:
    return WakeSignal()


def make_lane(ring: FrameRing, processor: RecordingProcessor, planner: WholeFrame | None = None) -> CameraLane:
    return CameraLane(ring.camera, ring, planner or WholeFrame(), processor, 0.0, DetectCounters())


def one_camera(
    frame_ready: WakeSignal,
    script: Script,
    processor: RecordingProcessor,
    detector: str = "d0",
    sent: Sent | None = None,
    planner: WholeFrame | None = None,
) -> tuple[PipelineWorkers, FrameRing]:
    """A started pipeline with one interpreter serving one camera ("cam") on a real 4-slot ring."""
    ring = FrameRing("cam", 4, notify=frame_ready)
    workers = PipelineWorkers([ScriptedDetector(detector, script)], sent if sent is not None else Sent(), frame_ready)
    workers.set_lane(make_lane(ring, processor, planner))
    workers.start()
    return workers, ring


@dataclass
class FirstFrameInInvoke:
    """A started one-camera pipeline whose frame 1 is inside invoke, held there until `gate` opens."""

    gate: threading.Event
    script: Script
    processor: RecordingProcessor
    workers: PipelineWorkers
    ring: FrameRing


def first_frame_in_invoke(frame_ready: WakeSignal, planner: WholeFrame | None = None) -> FirstFrameInInvoke:
    gate = threading.Event()
    script = Script(gates={1: gate})
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, script, processor, planner=planner)
    try:
        commit(ring)
        wait_until(lambda: script.started == [1])
    except BaseException:
        gate.set()
        workers.stop(time.time(), 2.0)
        raise
    return FirstFrameInInvoke(gate, script, processor, workers, ring)


def test_frames_reach_analytics_in_order_per_camera_and_go_back_to_the_ring(frame_ready: WakeSignal) -> None:
    """Three cameras, two detector threads: each camera's frames are analysed in seq order and all released."""
    sent = Sent()
    script = Script()
    workers = PipelineWorkers([ScriptedDetector("d0", script), ScriptedDetector("d1", script)], sent, frame_ready)
    rings = [FrameRing(f"cam{i}", 4, notify=frame_ready) for i in range(3)]
    processors = [RecordingProcessor() for _ in rings]
    for ring, processor in zip(rings, processors, strict=True):
        workers.set_lane(make_lane(ring, processor))
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
    assert len(sent.records) == sum(w.served for w in workers.detector_workers)


def test_analytics_of_frame_n_overlaps_detection_of_frame_n_plus_1(frame_ready: WakeSignal) -> None:
    """While frame 1 is still being analysed, the detector already works on frame 2."""
    in_analytics, release_analytics = threading.Event(), threading.Event()

    def hold_first(frame: Frame) -> None:
        if frame.seq == 1:
            in_analytics.set()
            assert release_analytics.wait(5.0)

    script = Script()
    processor = RecordingProcessor(on_process=hold_first)
    workers, ring = one_camera(frame_ready, script, processor)
    try:
        commit(ring)
        assert in_analytics.wait(5.0)
        commit(ring)
        wait_until(lambda: script.started == [1, 2])  # detection of 2 while analytics holds 1
        assert processor.calls == []
        release_analytics.set()
        wait_until(lambda: processor.calls == [("frame", 1), ("frame", 2)])
    finally:
        release_analytics.set()
        assert workers.stop(time.time(), 2.0)


def test_the_next_frame_is_prepared_while_the_current_one_is_invoked(frame_ready: WakeSignal) -> None:
    """The interpreter never waits for preparation: frame 2's input is ready and queued while frame 1 is
    still inside invoke, and it is invoked only after frame 1."""
    held = first_frame_in_invoke(frame_ready)
    try:
        commit(held.ring)
        wait_until(lambda: held.script.prepared == [1, 2])
        assert held.script.started == [1]
        held.gate.set()
        wait_until(lambda: held.processor.calls == [("frame", 1), ("frame", 2)])
        assert held.script.started == [1, 2]
    finally:
        held.gate.set()
        assert held.workers.stop(time.time(), 2.0)


def test_a_frame_of_several_regions_is_handed_on_whole_and_later_frames_wait_behind_it(
    frame_ready: WakeSignal,
) -> None:
    """Each region is one invoke; the frame reaches analytics once, with every region's detections, and a
    later frame the motion gate skipped does not overtake it."""
    held = first_frame_in_invoke(frame_ready, WholeFrame(regions=2, gated=frozenset({2})))
    try:
        commit(held.ring)
        wait_until(lambda: held.script.prepared == [1, 1])
        time.sleep(0.1)
        assert held.processor.calls == []
        held.gate.set()
        wait_until(lambda: held.processor.calls == [("frame", 1), ("frame", 2)])
    finally:
        held.gate.set()
        assert held.workers.stop(time.time(), 2.0)
    assert held.script.started == [1, 1]
    first, second = held.processor.results
    assert first is not None
    assert len(first.detections) == 2
    assert first.inference_ms == 2.0
    assert second is None
    assert held.ring.held_count == 0


def test_stopping_finishes_the_frames_already_claimed(frame_ready: WakeSignal) -> None:
    """stop() while a frame is inside invoke: its regions still run, it is analysed, then events end."""
    held = first_frame_in_invoke(frame_ready, WholeFrame(regions=3))
    wait_until(lambda: held.script.prepared == [1, 1])  # the third region is not submitted yet
    opener = threading.Timer(0.2, held.gate.set)
    opener.start()
    try:
        assert held.workers.stop(time.time(), 5.0)
    finally:
        opener.cancel()
        held.gate.set()
    assert held.processor.calls == [("frame", 1), ("finish", 0)]
    assert held.processor.results[0] is not None
    assert len(held.processor.results[0].detections) == 3
    assert held.ring.held_count == 0


def test_a_failing_frame_is_counted_released_and_the_camera_goes_on(frame_ready: WakeSignal) -> None:
    """A detector exception on one frame is counted and the frame goes back to its ring unanalysed (it is
    neither a detection nor a frame the motion gate skipped); later frames flow."""
    sent = Sent()
    script = Script(fail_seqs=frozenset({1}))
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, script, processor, sent=sent)
    try:
        commit(ring)
        wait_until(lambda: script.started == [1] and workers.idle_for("cam"))
        commit(ring)
        wait_until(lambda: len(processor.calls) == 1)
    finally:
        assert workers.stop(time.time(), 2.0)
    assert workers.detector_workers[0].errors == 1
    assert processor.calls == [("frame", 2), ("finish", 0)]
    assert processor.results[0] is not None
    assert ring.held_count == 0


def test_a_planning_failure_fails_only_that_frame(frame_ready: WakeSignal) -> None:
    """A motion gate or region planner that raises fails its frame (counted, released, not invoked);
    the next frame is detected."""
    script = Script()
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, script, processor, planner=WholeFrame(broken=frozenset({1})))
    try:
        commit(ring)
        wait_until(lambda: workers.detector_workers[0].errors == 1 and workers.idle_for("cam"))
        commit(ring)
        wait_until(lambda: processor.calls == [("frame", 2)])
    finally:
        assert workers.stop(time.time(), 2.0)
    assert script.started == [2]
    assert ring.held_count == 0


def test_an_analytics_failure_does_not_leak_the_frame(frame_ready: WakeSignal) -> None:
    """A processor exception is counted by the analytics thread and the frame still goes back to the ring."""

    def explode(frame: Frame) -> None:
        if frame.seq == 1:
            raise RuntimeError("scripted analytics failure")

    processor = RecordingProcessor(on_process=explode)
    workers, ring = one_camera(frame_ready, Script(), processor)
    try:
        commit(ring)
        wait_until(lambda: workers.analytics.errors == 1)
        commit(ring)
        wait_until(lambda: processor.calls == [("frame", 2)])
    finally:
        assert workers.stop(time.time(), 2.0)
    assert ring.held_count == 0


def test_retired_camera_is_finished_after_its_frame_in_detection(frame_ready: WakeSignal) -> None:
    """A camera retired while its frame is inside the detector ends its events after that frame's analytics."""
    held = first_frame_in_invoke(frame_ready)
    try:
        held.workers.retire_lane("cam")
        assert held.processor.calls == []
        held.gate.set()
        wait_until(lambda: held.processor.calls == [("frame", 1), ("finish", 0)])
        commit(held.ring)
        time.sleep(0.1)
        assert held.script.started == [1]  # a retired camera is not served again
    finally:
        held.gate.set()
        assert held.workers.stop(time.time(), 2.0)
    assert held.processor.calls.count(("finish", 0)) == 1


def test_replaced_detectors_serve_from_then_on(frame_ready: WakeSignal) -> None:
    """After replace_detectors (a model reload) frames go through the new interpreter only."""
    script = Script()
    processor = RecordingProcessor()
    workers, ring = one_camera(frame_ready, script, processor, detector="old")
    try:
        commit(ring)
        wait_until(lambda: len(processor.calls) == 1)
        assert workers.replace_detectors([ScriptedDetector("new", script)], 2.0)
        commit(ring)
        wait_until(lambda: len(processor.calls) == 2)
    finally:
        assert workers.stop(time.time(), 2.0)
    assert script.detectors == ["old", "new"]


def test_heartbeats_name_every_thread(frame_ready: WakeSignal) -> None:
    """The watchdog sees every detector thread and its invoke thread, plus the analytics thread."""
    script = Script()
    workers = PipelineWorkers([ScriptedDetector("a", script), ScriptedDetector("b", script)], Sent(), frame_ready)
    workers.start()
    try:
        names = [beat.worker for beat in workers.heartbeats()]
        assert names == ["detector-0", "detector-0-invoke", "detector-1", "detector-1-invoke", "analytics"]
        assert all(beat.expected for beat in workers.heartbeats())
    finally:
        assert workers.stop(time.time(), 2.0)
    assert not any(beat.expected for beat in workers.heartbeats())
