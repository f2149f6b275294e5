"""Unit tests of the batch parts of `edge-agent analyze`: the JSON-lines sink (agent.batch.jsonlines),
the per-file config (agent.batch.config), the tally and the summary (agent.cli.analyze)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from agent.batch.config import batch_config, choose_camera
from agent.batch.jsonlines import JsonLinesSink
from agent.batch.progress import Position
from agent.batch.run import FileResult
from agent.batch.tally import TallySink
from agent.cli.analyze import print_summary
from agent.config.loader import load_config_text
from agent.errors import ConfigError
from agent.publish.topics import Topics
from agent.records import CountChange, FrameDetections, LineTotals, MotionChange
from agent.types import (
    Anomaly,
    BBox,
    Detection,
    DetectionResult,
    Event,
    EventKind,
    Frame,
    LineCrossing,
    Severity,
    Track,
    TrackState,
)
from tests.support.schemas import validate

T = Topics("edge", "dev1")
TS = 1_750_000_000.0
BOX = BBox(10, 20, 110, 220)
E1 = "5f24b9a723634fd3835088a0d0abc34d"  # uuid4 hex, as the event engine makes them
A1 = "0c9e4f3b2a8d4e4f9a51c7d2b6e8f013"
CONFIG = """
device_id: yard
model: {path: ssd_mobilenet_v1_coco_uint8_300}
state_dir: /var/lib/edge-agent
cameras:
  gate:
    source: rtsp://cam/1
    objects: [person]
    lines: {door: {a: [0.5, 0.0], b: [0.5, 1.0]}}
  drive:
    source: rtsp://cam/2
"""


def event(
    kind: EventKind, event_id: str, label: str = "person", start: float = TS - 3, end: float | None = None
) -> Event:
    track = Track(4, label, BOX, 0.8, TrackState.CONFIRMED, start, TS, 9)
    return Event(kind, event_id, "gate", track, 0.8, (), (), start, end or TS, end, False)


def test_json_lines_hold_the_mqtt_payloads_and_named_counts(tmp_path: Path) -> None:
    """Events, crossings, anomalies and detections are the MQTT payloads (their schemas hold); counts and
    line totals are named; motion is not written."""
    sink = JsonLinesSink(tmp_path, T, detections=True)
    frame = Frame("gate", 7, 100.0, TS, np.zeros((48, 64, 3), np.uint8))
    sink.accept(FrameDetections.of(frame, DetectionResult((Detection("person", 0, 0.8, BOX),), 3.0)))
    sink.accept(event(EventKind.START, E1))
    sink.accept(LineCrossing("gate", "door", "a_to_b", 4, E1, "person", TS))
    sink.accept(LineTotals("gate", "door", 1, 0))
    sink.accept(CountChange("gate", "person", None, 1))
    sink.accept(Anomaly(A1, "loitering", "gate", Severity.WARNING, True, TS, None, {"dwell_s": 61.0}))
    sink.accept(MotionChange("gate", True))
    sink.close()
    assert sorted(sink.paths()) == ["anomalies", "counts", "crossings", "detections", "events", "lines"]
    read = {kind: [json.loads(line) for line in path.read_text().splitlines()] for kind, path in sink.paths().items()}
    validate("event", read["events"][0])
    validate("line-crossing", read["crossings"][0])
    validate("anomaly", read["anomalies"][0])
    validate("detections", read["detections"][0])
    assert read["counts"] == [{"camera": "gate", "label": "person", "zone": None, "count": 1, "ts": TS}]
    assert read["lines"] == [{"camera": "gate", "line": "door", "a_to_b": 1, "b_to_a": 0, "ts": TS}]


def test_detections_are_written_only_when_asked(tmp_path: Path) -> None:
    sink = JsonLinesSink(tmp_path, T)
    frame = Frame("gate", 1, 1.0, TS, np.zeros((8, 8, 3), np.uint8))
    sink.accept(FrameDetections.of(frame, DetectionResult((Detection("person", 0, 0.8, BOX),), 3.0)))
    sink.close()
    assert sink.paths() == {}
    assert not list(tmp_path.iterdir())


def test_batch_config_reads_the_file_once_with_its_state_under_out(tmp_path: Path) -> None:
    """Only the chosen camera, on the file, unpaced and unlooped; state, snapshots and the device id never
    the live agent's; the camera's own settings (objects, lines) are kept."""
    base = load_config_text(CONFIG)
    cfg = batch_config(base, "gate", tmp_path / "clip.mp4", tmp_path / "out")
    camera = cfg.cameras["gate"]
    assert list(cfg.cameras) == ["gate"]
    assert (camera.source, camera.realtime, camera.loop) == (str(tmp_path / "clip.mp4"), False, False)
    assert camera.objects == base.cameras["gate"].objects
    assert list(camera.lines) == ["door"]
    assert cfg.state_dir == tmp_path / "out" / "state"
    assert (cfg.snapshots.enabled, cfg.snapshots.save, cfg.snapshots.save_dir) == (
        True,
        True,
        tmp_path / "out" / "snapshots",
    )
    assert cfg.device_id == "yard-analyze"
    assert not cfg.remote_config.enabled


def test_the_camera_is_the_one_asked_for_or_the_only_one() -> None:
    base = load_config_text(CONFIG)
    assert choose_camera(base, "drive", "agent.yaml") == "drive"
    with pytest.raises(ConfigError, match=r"agent.yaml: the config has 2 cameras \(drive, gate\); choose one"):
        choose_camera(base, None, "agent.yaml")
    with pytest.raises(ConfigError, match=r"--camera-config 'porch': no such camera"):
        choose_camera(base, "porch", "agent.yaml")


def test_tally_counts_started_events_final_line_totals_and_raised_anomalies() -> None:
    tally = TallySink()
    tally.accept(event(EventKind.START, "e1"))
    tally.accept(event(EventKind.UPDATE, "e1"))
    tally.accept(event(EventKind.END, "e1", start=TS - 14.4, end=TS))
    tally.accept(event(EventKind.START, "e2", label="car"))
    tally.accept(LineTotals("gate", "door", 1, 0))
    tally.accept(LineTotals("gate", "door", 2, 1))
    tally.accept(Anomaly("a1", "loitering", "gate", Severity.WARNING, True, TS))
    tally.accept(Anomaly("a1", "loitering", "gate", Severity.WARNING, False, TS, TS + 5))
    summary = tally.summary()
    assert summary.events == {"person": 1, "car": 1}
    assert summary.lines == {"door": (2, 1)}
    assert summary.anomalies == {"loitering": 1}
    assert summary.event_seconds == (pytest.approx(14.4),)  # type: ignore[comparison-overlap]  # pytest types approx() as Approx, not float


def test_summary_lists_each_file_and_the_failed_ones() -> None:
    tally = TallySink()
    tally.accept(event(EventKind.START, "e1"))
    tally.accept(LineTotals("gate", "door", 3, 2))
    results = [
        FileResult(Path("a.mp4"), Path("out/a"), tally.summary(), Position(300, 300, 30.0, 3.0)),
        FileResult(Path("b.mp4"), Path("out/b"), None, None, "b.mp4: no such file"),
    ]
    out = io.StringIO()
    print_summary(results, out)
    text = out.getvalue()
    assert "300/300 frames, 30.0 s of video in 3.0 s (10.0x realtime)" in text
    assert "events: person 1" in text
    assert "line door: a_to_b 3, b_to_a 2" in text
    assert "FAILED: b.mp4: no such file" in text
    assert text.rstrip().endswith("1 of 2 files analysed; events: person 1")
