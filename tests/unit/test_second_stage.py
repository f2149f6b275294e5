"""Unit tests of the second stage's pipeline side (agent.classify): the camera processor's best crops,
region crops and sub_label stamping, the state schedule, and the object and state classifier workers
driven by a scripted classifier (a fake at our own CropClassifier Protocol, not of a model runtime)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from agent.classify.objects import LoadedObjectClassifier, ObjectClassifierWorker
from agent.classify.queue import LatestByKey
from agent.classify.region import region_pixels
from agent.classify.schedule import StateSchedule
from agent.classify.states import LoadedStateClassifier, StateClassifierWorker
from agent.classify.sub_labels import SubLabel, SubLabelBook
from agent.config.recognition import ObjectClassifierConfig, StateClassifierConfig
from agent.config.schema import CameraConfig
from agent.errors import ConfigError
from agent.pipeline.counters import DetectCounters
from agent.pipeline.processor import CameraProcessor, SecondStageHooks
from agent.records import BestCrop, Record, RegionCrop, StateChange
from agent.types import BBox, Detection, DetectionResult, Event, EventKind, Frame, Image, Track, TrackState

TS = 1_750_000_000.0
STATE = StateClassifierConfig(model=Path("door.evc"), region=(0.5, 0.0, 1.0, 0.5), interval_s=10.0)


@dataclass(frozen=True)
class Answer:
    label: str
    score: float


class ScriptedClassifier:
    """Answers by the crop's mean brightness: bright -> 'light', dark -> 'dark'; records each call."""

    def __init__(self, score: float = 0.9) -> None:
        self.score = score
        self.calls = 0
        self.lock = threading.Lock()

    def classify(self, image: Image) -> Answer:
        with self.lock:
            self.calls += 1
        return Answer("light" if float(image.mean()) > 127 else "dark", self.score)


class Recorder:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def accept(self, record: Record) -> None:
        self.records.append(record)


def camera(**extra: object) -> CameraConfig:
    base = {"source": "x", "tracker": {"min_hits": 1}, "events": {"min_duration_s": 0.0}}
    return CameraConfig.model_validate({**base, **extra})


def frame(seq: int, value: int = 0, ts: float = TS) -> Frame:
    image = np.full((480, 640, 3), value, dtype=np.uint8)
    return Frame("door", seq, 100.0 + seq, ts + seq, image)


def car_at(x: float) -> DetectionResult:
    return DetectionResult((Detection("car", 2, 0.9, BBox(x, 100, x + 120, 200)),), 5.0)


def test_state_schedule_is_due_every_interval() -> None:
    """Without on_motion the region is due at the first frame and then once per interval_s."""
    schedule = StateSchedule(STATE)
    due = [t for t in range(0, 35) if schedule.due(float(t), motion=False)]
    assert due == [0, 10, 20, 30]


def test_state_schedule_on_motion_waits_for_motion_and_settles_when_it_stops() -> None:
    """With on_motion: first frame, then only while there is motion (per interval), plus once when it stops."""
    schedule = StateSchedule(STATE.model_copy(update={"on_motion": True}))
    motion = {t: 12 <= t < 25 for t in range(40)}
    due = [t for t in range(40) if schedule.due(float(t), motion[t])]
    assert due == [0, 12, 22, 25]


def test_region_in_fractions_and_pixels_and_outside_the_frame() -> None:
    """0..1 regions scale to the frame; a pixel region beyond the frame is a ConfigError naming the field."""
    assert region_pixels("door", "gate", STATE, 640, 480) == (320, 0, 640, 240)
    pixels = STATE.model_copy(update={"region": (10.0, 20.0, 110.0, 220.0)})
    assert region_pixels("door", "gate", pixels, 640, 480) == (10, 20, 110, 220)
    outside = STATE.model_copy(update={"region": (10.0, 20.0, 700.0, 220.0)})
    with pytest.raises(ConfigError, match=r"cameras\.door\.states\.gate\.region"):
        region_pixels("door", "gate", outside, 640, 480)


def test_state_config_rejects_an_inverted_region() -> None:
    """x2 <= x1 is a validation error saying which way round it must be."""
    with pytest.raises(ValueError, match="x2 > x1"):
        StateClassifierConfig(model=Path("m"), region=(0.5, 0.0, 0.4, 1.0))


def test_processor_sends_best_crops_of_wanted_labels_and_stamps_sub_labels() -> None:
    """A car event's best frame yields a bounded BestCrop; once the book has a sub_label, the event's
    messages carry it, and its end message makes the book forget the event."""
    book = SubLabelBook()
    hooks = SecondStageHooks(book, frozenset({"car"}))
    processor = CameraProcessor("door", camera(), 0.3, DetectCounters(), second_stage=hooks)
    out = processor.analyse(frame(1, 200), car_at(100))
    crops = [r for r in out if isinstance(r, BestCrop)]
    assert len(crops) == 1
    crop = crops[0]
    assert crop.label == "car"
    assert crop.frame_size == (640, 480)
    assert crop.frame is None
    assert crop.image.shape[0] >= 100
    assert crop.image.shape[1] >= 120
    assert not crop.image.flags.writeable
    started = [r for r in out if isinstance(r, Event)]
    assert started
    assert started[0].sub_label is None
    book.give(crop.event_id, SubLabel("van", 0.8))
    for seq in range(2, 6):
        out = processor.analyse(frame(seq, 200), car_at(100 + seq))
    events = [r for r in out + processor.finish(TS + 10) if isinstance(r, Event)]
    assert events
    assert all(e.sub_label == "van" and e.sub_label_score == 0.8 for e in events)
    assert events[-1].kind is EventKind.END
    assert book.of(crop.event_id) is None


def test_processor_crops_no_label_it_was_not_asked_for() -> None:
    """Labels outside crop_labels cost nothing: no BestCrop."""
    hooks = SecondStageHooks(SubLabelBook(), frozenset({"person"}))
    processor = CameraProcessor("door", camera(), 0.3, DetectCounters(), second_stage=hooks)
    assert not [r for r in processor.analyse(frame(1), car_at(100)) if isinstance(r, BestCrop)]


def test_processor_cuts_the_state_region_when_due() -> None:
    """A camera with a state gets a RegionCrop of its region at the first frame and once per interval."""
    processor = CameraProcessor("door", camera(states={"gate": STATE.model_dump()}), 0.3, DetectCounters())
    crops = []
    for seq in range(0, 25):
        crops += [r for r in processor.process(frame(seq, 50), None) if isinstance(r, RegionCrop)]
    assert [c.ts_wall - TS for c in crops] == [0.0, 10.0, 20.0]
    assert crops[0].image.shape == (240, 320, 3)
    assert crops[0].state == "gate"


def test_object_worker_sets_sub_labels_at_min_score_and_rate_limits() -> None:
    """A crop above min_score sets the sub_label; a better crop within min_interval_s waits until an event
    message that much later; a score below min_score sets nothing."""
    classifier = ScriptedClassifier()
    config = ObjectClassifierConfig(model=Path("m"), labels=("car",), min_score=0.5, min_interval_s=2.0)
    book = SubLabelBook()
    worker = ObjectClassifierWorker([LoadedObjectClassifier(config, classifier)], book, 4)
    bright = np.full((50, 80, 3), 230, dtype=np.uint8)
    dark = np.zeros((50, 80, 3), dtype=np.uint8)
    track_event = event_of("e1")
    worker.accept(BestCrop("door", "car", "e1", bright, BBox(0, 0, 80, 50), (640, 480), 0.9, TS))
    worker.accept(BestCrop("door", "car", "e1", dark, BBox(0, 0, 80, 50), (640, 480), 0.95, TS + 1))
    worker.start()
    try:
        wait_until(lambda: book.of("e1") is not None)
        assert book.of("e1") == SubLabel("light", 0.9)
        worker.accept(track_event(EventKind.UPDATE, TS + 1.5))  # too soon: the dark crop still waits
        worker.accept(track_event(EventKind.UPDATE, TS + 3.5))
        wait_until(lambda: book.of("e1") == SubLabel("dark", 0.9))
        assert classifier.calls == 2
        classifier.score = 0.2
        worker.accept(BestCrop("door", "car", "e2", bright, BBox(0, 0, 80, 50), (640, 480), 0.9, TS))
        wait_until(lambda: classifier.calls == 3)
    finally:
        worker.stop()
        worker.join(5)
    assert book.of("e2") is None
    assert worker.below_min_score == 1
    assert not worker.is_alive()


def test_object_worker_ignores_other_labels_and_cameras() -> None:
    """A classifier for cars on camera gate does not look at a car on door or a person."""
    classifier = ScriptedClassifier()
    config = ObjectClassifierConfig(model=Path("m"), labels=("car",), cameras=("gate",))
    worker = ObjectClassifierWorker([LoadedObjectClassifier(config, classifier)], SubLabelBook(), 4)
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    worker.accept(BestCrop("door", "car", "e1", image, BBox(0, 0, 40, 40), (640, 480), 0.9, TS))
    worker.accept(BestCrop("gate", "person", "e2", image, BBox(0, 0, 40, 40), (640, 480), 0.9, TS))
    worker.start()
    worker.stop()
    worker.join(5)
    assert classifier.calls == 0


def test_state_worker_reports_changes_only() -> None:
    """The first answer and each change become StateChange records; the same answer again does not."""
    output = Recorder()
    worker = StateClassifierWorker({("door", "gate"): LoadedStateClassifier(STATE, ScriptedClassifier())}, output, 4)
    worker.start()
    try:
        for i, value in enumerate((20, 30, 220, 210, 10)):
            worker.accept(RegionCrop("door", "gate", np.full((10, 10, 3), value, dtype=np.uint8), TS + i))
            wait_until(functools.partial(lambda n: worker.classified == n, i + 1))
    finally:
        worker.stop()
        worker.join(5)
    changes = [r for r in output.records if isinstance(r, StateChange)]
    assert [(c.value, c.ts_wall - TS) for c in changes] == [("dark", 0.0), ("light", 2.0), ("dark", 4.0)]


def test_latest_by_key_supersedes_and_drops_when_full() -> None:
    """A newer item of a waiting key replaces it; a new key while full is dropped and counted."""
    queue: LatestByKey[str, int] = LatestByKey(2)
    assert queue.put("a", 1)
    assert queue.put("b", 2)
    assert queue.put("a", 3)
    assert not queue.put("c", 4)
    assert (queue.superseded, queue.dropped) == (1, 1)
    assert [queue.take(0), queue.take(0), queue.take(0)] == [3, 2, None]


def event_of(event_id: str) -> Callable[[EventKind, float], Event]:
    track = Track(1, "car", BBox(0, 0, 10, 10), 0.9, TrackState.CONFIRMED, TS, TS, 3)

    def make(kind: EventKind, ts: float) -> Event:
        return Event(kind, event_id, "door", track, 0.9, (), (), TS, ts)

    return make


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll a condition another thread makes true (the workers expose counters, not events)."""
    pause = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("condition not met in time")


def test_a_new_sub_label_is_announced_by_an_update_at_the_next_frame() -> None:
    """When the classifier gives an open event a sub_label, the next frame sends an update carrying it,
    once: the frame after does not repeat it."""
    book = SubLabelBook()
    hooks = SecondStageHooks(book, frozenset({"car"}))
    cfg = camera(events={"min_duration_s": 0.0, "update_interval_s": 3600})
    processor = CameraProcessor("door", cfg, 0.3, DetectCounters(), second_stage=hooks)
    out = processor.analyse(frame(1, 200), car_at(100))
    (crop,) = [r for r in out if isinstance(r, BestCrop)]
    book.give(crop.event_id, SubLabel("van", 0.8))
    updates = [r for r in processor.analyse(frame(2, 200), car_at(100)) if isinstance(r, Event)]
    assert [(u.kind, u.sub_label) for u in updates] == [(EventKind.UPDATE, "van")]
    assert not [r for r in processor.analyse(frame(3, 200), car_at(100)) if isinstance(r, Event)]
