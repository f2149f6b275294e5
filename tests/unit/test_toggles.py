"""Runtime toggles: ON/OFF parsing, the MQTT controller (flip now, publish and persist on the main
thread), the toggles file, and the pipeline honouring detect and snapshots OFF with scripted frames."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from agent.config.outputs import SnapshotConfig
from agent.config.perf import MotionConfig, RegionsConfig
from agent.config.schema import CameraConfig
from agent.pipeline.counters import DetectCounters
from agent.pipeline.detection_stage import DetectionStage
from agent.pipeline.processor import CameraProcessor, Snapshots
from agent.publish.messages import OutboundMessage
from agent.publish.sink import encode_record
from agent.publish.topics import Topics
from agent.records import Record, SnapshotJob
from agent.toggles import CameraToggles, Toggle, ToggleController, ToggleStates, parse_switch
from agent.toggles.store import TOGGLES_FILE, load_toggles, save_toggles
from agent.types import BBox, Detection, DetectionResult, Frame

T = Topics("edge", "dev1")
DETECT_SET = "edge/dev1/door/detect/set"
SNAPSHOTS_SET = "edge/dev1/door/snapshots/set"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"ON", True),
        (b"OFF", False),
        (b"on", True),
        (b"Off", False),
        (b" ON\n", True),
        (b"", None),
        (b"1", None),
        (b"true", None),
        (b"ONN", None),
        (b"\xff\xfe", None),
    ],
)
def test_parse_switch(payload: bytes, expected: bool | None) -> None:
    """ON and OFF are accepted in any letter case; anything else is not a command."""
    assert parse_switch(payload) is expected


class Sent:
    """What the controller sent, by topic (the latest payload wins, as on a broker's retained store)."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []

    def __call__(self, message: OutboundMessage) -> None:
        self.messages.append(message)

    def retained(self) -> dict[str, bytes]:
        return {m.topic: m.payload for m in self.messages if m.retain}


def controller(state_dir: Path, sent: Sent, snapshots_available: bool = True) -> ToggleController:
    ctl = ToggleController(state_dir, sent, snapshots_available)
    ctl.use_topics(T, lambda topic_filter, handler: None)
    return ctl


def test_attach_publishes_the_config_defaults_retained(tmp_path: Path) -> None:
    """A camera with nothing set starts with detect and snapshots ON, both states published retained."""
    sent = Sent()
    toggles = controller(tmp_path, sent).attach("door")
    assert toggles.states == ToggleStates(detect=True, snapshots=True)
    assert sent.retained() == {"edge/dev1/door/detect/state": b"ON", "edge/dev1/door/snapshots/state": b"ON"}


def test_set_flips_at_once_and_publishes_and_persists_on_process_pending(tmp_path: Path) -> None:
    """The paho handler only flips the live value; the state and the file follow on the main thread."""
    sent = Sent()
    ctl = controller(tmp_path, sent)
    toggles = ctl.attach("door")
    sent.messages.clear()
    ctl.on_set(DETECT_SET, b"off")
    assert toggles.detect is False  # the pipeline sees it on its next frame
    assert sent.messages == []
    assert not (tmp_path / TOGGLES_FILE).exists()
    ctl.process_pending()
    assert sent.retained() == {"edge/dev1/door/detect/state": b"OFF"}
    assert json.loads((tmp_path / TOGGLES_FILE).read_text()) == {"version": 1, "cameras": {"door": {"detect": False}}}
    assert not list(tmp_path.glob(".*.tmp"))


def test_toggles_survive_a_restart_and_unset_ones_follow_the_config(tmp_path: Path) -> None:
    """A new controller on the same state_dir starts the camera with what was set; the rest keeps its default."""
    first = controller(tmp_path, Sent())
    first.attach("door")
    first.on_set(SNAPSHOTS_SET, b"OFF")
    first.process_pending()
    sent = Sent()
    again = controller(tmp_path, sent).attach("door")
    assert again.states == ToggleStates(detect=True, snapshots=False)
    assert sent.retained()["edge/dev1/door/snapshots/state"] == b"OFF"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 2, "cameras": {}}',
        '{"version": 1}',
        '{"version": 1, "cameras": {"door": {"detect": "no"}}}',
    ],
)
def test_a_broken_file_is_logged_and_ignored(tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    """A file that is not what we write gives a warning naming it, and cameras start from the config defaults."""
    (tmp_path / TOGGLES_FILE).write_text(content)
    with caplog.at_level(logging.WARNING):
        toggles = controller(tmp_path, Sent()).attach("door")
    assert toggles.states == ToggleStates()
    assert any(TOGGLES_FILE in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_invalid_payload_is_ignored_with_one_rate_limited_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A payload other than ON/OFF changes nothing and warns naming topic and payload, once per interval."""
    ctl = controller(tmp_path, Sent())
    toggles = ctl.attach("door")
    with caplog.at_level(logging.WARNING, logger="agent.toggles.controller"):
        for payload in (b"maybe", b"disable", b"0"):
            ctl.on_set(DETECT_SET, payload)
    ctl.process_pending()
    assert toggles.detect is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert DETECT_SET in warnings[0]
    assert "maybe" in warnings[0]
    assert ctl.ignored == 3


def test_unknown_camera_and_foreign_topics_change_nothing(tmp_path: Path) -> None:
    """A set for a camera that is not running, or a topic of another device, is ignored."""
    sent = Sent()
    ctl = controller(tmp_path, sent)
    toggles = ctl.attach("door")
    sent.messages.clear()
    ctl.on_set("edge/dev1/garage/detect/set", b"OFF")
    ctl.on_set("edge/dev2/door/detect/set", b"OFF")
    ctl.process_pending()
    assert toggles.detect is True
    assert sent.messages == []
    assert ctl.ignored == 1  # the unknown camera; the other device's topic is not ours at all


def test_snapshots_cannot_be_switched_on_when_the_config_disables_them(tmp_path: Path) -> None:
    """With snapshots.enabled false the toggle starts OFF whatever was persisted, and ON is refused."""
    save_toggles(tmp_path / TOGGLES_FILE, {"door": {Toggle.SNAPSHOTS: True}})
    ctl = controller(tmp_path, Sent(), snapshots_available=False)
    toggles = ctl.attach("door")
    assert toggles.snapshots is False
    ctl.on_set(SNAPSHOTS_SET, b"ON")
    assert toggles.snapshots is False
    assert ctl.ignored == 1


def test_detach_clears_states_and_forget_missing_drops_the_persisted_toggles(tmp_path: Path) -> None:
    """A camera that stops gets its retained states cleared; once the config drops it, its file entry goes."""
    sent = Sent()
    ctl = controller(tmp_path, sent)
    ctl.attach("door")
    ctl.attach("yard")
    ctl.on_set(DETECT_SET, b"OFF")
    ctl.on_set("edge/dev1/yard/detect/set", b"OFF")
    ctl.detach("door")  # the pending switch is published and saved first
    assert sent.retained()["edge/dev1/door/detect/state"] == b""
    assert sent.retained()["edge/dev1/door/snapshots/state"] == b""
    assert load_toggles(tmp_path / TOGGLES_FILE) == {"door": {Toggle.DETECT: False}, "yard": {Toggle.DETECT: False}}
    ctl.forget_missing(["yard"])
    assert load_toggles(tmp_path / TOGGLES_FILE) == {"yard": {Toggle.DETECT: False}}


def test_camera_toggles_keep_the_other_toggle() -> None:
    """Setting one toggle leaves the other as it was."""
    toggles = CameraToggles(ToggleStates(detect=True, snapshots=False))
    toggles.set(Toggle.DETECT, False)
    assert toggles.states == ToggleStates(detect=False, snapshots=False)


# --- the pipeline honours the toggles ----------------------------------------------------

PERSON = Detection("person", 0, 0.9, BBox(100, 100, 200, 300))
CAMERA = CameraConfig.model_validate({"source": "x", "tracker": {"min_hits": 1}, "events": {"min_duration_s": 0.0}})


class NoSnapshots:
    """The snapshot index of a worker that has published nothing yet."""

    def has_snapshot(self, event_id: str) -> bool:
        return False


class PublishedProcessor:
    """A CameraProcessor whose records come back as the MQTT messages the publisher's sink makes of them."""

    def __init__(self, processor: CameraProcessor) -> None:
        self.processor = processor
        self.records: list[Record] = []  # every record, snapshot jobs included

    @property
    def active_boxes(self) -> tuple[BBox, ...]:
        return self.processor.active_boxes

    def process(self, frame: Frame, result: DetectionResult | None) -> list[OutboundMessage]:
        return self._published(self.processor.process(frame, result))

    def tick(self, ts_wall: float) -> list[OutboundMessage]:
        return self._published(self.processor.tick(ts_wall))

    def finish(self, ts_wall: float) -> list[OutboundMessage]:
        return self._published(self.processor.finish(ts_wall))

    def _published(self, records: list[Record]) -> list[OutboundMessage]:
        self.records.extend(records)
        return [m for m in (encode_record(T, r) for r in records) if m is not None]

    def snapshot_jobs(self) -> list[SnapshotJob]:
        return [r for r in self.records if isinstance(r, SnapshotJob)]


def frame(seq: int) -> Frame:
    return Frame("door", seq, 100.0 + seq, 1_750_000_000.0 + seq, np.zeros((480, 640, 3), dtype=np.uint8))


def topics_of(out: list[OutboundMessage]) -> list[str]:
    return [m.topic for m in out]


def events_of(out: list[OutboundMessage]) -> list[tuple[str, int]]:
    return [(e["type"], e["track_id"]) for e in (json.loads(m.payload) for m in out if m.topic == T.events())]


def test_detect_off_ends_events_drops_detections_and_on_resumes_with_new_tracks() -> None:
    """Detect OFF ends the open event once, reports counts as 0 and drops late results; ON starts a new track."""
    toggles = CameraToggles()
    processor = PublishedProcessor(CameraProcessor("door", CAMERA, 0.5, DetectCounters(), toggles=toggles))
    found = DetectionResult((PERSON,), 10.0)
    first = processor.process(frame(1), found)
    assert events_of(first) == [("start", 1)]
    toggles.set(Toggle.DETECT, False)
    paused = processor.process(frame(2), found)  # detected before the switch: dropped
    assert events_of(paused) == [("end", 1)]
    assert T.detections("door") not in topics_of(paused)
    counts = {m.topic: m.payload for m in paused if m.retain}
    assert counts[T.count("door", "person")] == b"0"
    assert counts[T.all_count("door")] == b"0"
    assert processor.active_boxes == ()
    assert processor.process(frame(3), None) == []  # nothing more while OFF
    assert processor.tick(1_750_000_003.5) == []
    toggles.set(Toggle.DETECT, True)
    resumed = processor.process(frame(4), found)
    assert T.detections("door") in topics_of(resumed)
    assert events_of(resumed) == [("start", 2)]


def test_detect_off_ends_events_on_tick_without_frames() -> None:
    """A camera that sends no frames still ends its events within a tick of detect going OFF."""
    toggles = CameraToggles()
    processor = PublishedProcessor(CameraProcessor("door", CAMERA, 0.5, DetectCounters(), toggles=toggles))
    processor.process(frame(1), DetectionResult((PERSON,), 10.0))
    toggles.set(Toggle.DETECT, False)
    assert events_of(processor.tick(1_750_000_002.0)) == [("end", 1)]


def test_snapshots_off_submits_no_snapshot_jobs() -> None:
    """Events still run with snapshots OFF, but no best-frame job reaches the snapshot worker."""
    toggles = CameraToggles(ToggleStates(snapshots=False))
    processor = PublishedProcessor(
        CameraProcessor(
            "door", CAMERA, 0.5, DetectCounters(), snapshots=Snapshots(NoSnapshots(), SnapshotConfig()), toggles=toggles
        )
    )
    assert events_of(processor.process(frame(1), DetectionResult((PERSON,), 10.0))) == [("start", 1)]
    assert processor.snapshot_jobs() == []
    toggles.set(Toggle.SNAPSHOTS, True)
    better = Detection("person", 0, 0.95, PERSON.box)  # a better frame of the same event
    processor.process(frame(2), DetectionResult((better,), 10.0))
    assert [job.score for job in processor.snapshot_jobs()] == [pytest.approx(0.95)]


def test_motion_is_published_on_change_only() -> None:
    """The motion topic carries the first state, then only changes, and OFF when the camera finishes."""
    moving = {101.0: True, 102.0: True, 103.0: False, 104.0: True}
    processor = PublishedProcessor(CameraProcessor("door", CAMERA, 0.5, DetectCounters(), motion=lambda ts: moving[ts]))
    published = [
        m.payload for seq in (1, 2, 3, 4) for m in processor.process(frame(seq), None) if m.topic == T.motion("door")
    ]
    assert published == [b"ON", b"OFF", b"ON"]
    assert [m.payload for m in processor.finish(1_750_000_005.0) if m.topic == T.motion("door")] == [b"OFF"]


def test_detection_stage_plans_nothing_with_detect_off_but_still_sees_motion() -> None:
    """With detect OFF the detector gets no regions, yet the motion gate keeps analysing frames."""
    toggles = CameraToggles(ToggleStates(detect=False))
    stage = DetectionStage(MotionConfig(), RegionsConfig(), 0.5, toggles)
    dark = np.zeros((480, 640, 3), dtype=np.uint8)
    bright = dark.copy()
    bright[100:300, 100:300] = 255
    assert stage.plan(Frame("door", 1, 1.0, 1.0, dark), 300, ()) == ()
    assert stage.plan(Frame("door", 2, 1.2, 1.2, bright), 300, ()) == ()
    assert stage.motion_active(1.2)
    toggles.set(Toggle.DETECT, True)
    assert stage.plan(Frame("door", 3, 1.4, 1.4, dark), 300, ())
