"""Unit tests of AnomalyStage's persistence: saving, loading and setting aside a state file that does not decode."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly import StreamStatus
from agent.core.anomaly.state import decode
from agent.pipeline.anomaly_stage import AnomalyStage
from agent.types import BBox, Track, TrackState

T0 = 1_717_200_000.0  # Saturday 00:00 UTC
REJECTED_AT = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC).timestamp()
REJECTED_SUFFIX = ".rejected-20261204T120000Z"


def _stage(path: Path) -> AnomalyStage:
    return AnomalyStage("cam", AnomalyConfig(), path, lambda: StreamStatus(online=True), wall_clock=lambda: REJECTED_AT)


def _learn(stage: AnomalyStage) -> None:
    """Ten minutes of a person or two, so the count baseline and rare-object history hold something."""
    for k in range(10):
        ts = T0 + k * 60.0
        tracks = [Track(i, "person", BBox(0, 0, 5, 5), 0.9, TrackState.CONFIRMED, ts, ts, 5) for i in range(k % 3)]
        stage.on_tick(ts, tracks, {})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_good_file_round_trips(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Baselines saved by one stage are loaded by the next, which saves the same bytes again, with no warning."""
    path = tmp_path / "anomaly" / "cam.json"
    first = _stage(path)
    _learn(first)
    first.save_state()
    saved = path.read_text()
    learned = decode(saved)
    assert learned.count is not None
    assert learned.count.labels["person"].learned > 0
    caplog.set_level(logging.INFO, logger="agent.pipeline.anomaly_stage")
    second = _stage(path)
    assert f"loaded anomaly baselines from {path}" in caplog.messages
    path.unlink()
    second.save_state()
    assert path.read_text() == saved
    assert _warnings(caplog) == []


def _foreign_version() -> str:
    return json.dumps({"version": 99, "camera": "cam", "count": None, "rare_object": None})


def _malformed_field() -> str:
    hours = {"person": [0] * 23}
    return json.dumps({"version": 1, "camera": "cam", "count": None, "rare_object": {"first_ts": 1.0, "hours": hours}})


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{truncated", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (_foreign_version().encode(), "version: 99 is not the supported schema version 1"),
        (_malformed_field().encode(), "rare_object.hours.person: expected a list of 24 counts"),
    ],
)
def test_a_file_that_does_not_decode_is_renamed_and_fresh_baselines_save_over_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    """The bad file moves to <name>.rejected-<UTC stamp> with one warning naming both files and why; a good file follows."""
    path = tmp_path / "cam.json"
    path.write_bytes(content)
    caplog.set_level(logging.INFO, logger="agent.pipeline.anomaly_stage")
    stage = _stage(path)
    rejected = tmp_path / f"cam.json{REJECTED_SUFFIX}"
    assert rejected.read_bytes() == content
    assert not path.exists()
    [warning] = _warnings(caplog)
    assert str(path) in warning
    assert reason in warning
    assert str(rejected) in warning
    assert not any(m.startswith("loaded anomaly baselines") for m in caplog.messages)
    _learn(stage)
    stage.save_state()
    state = decode(path.read_text())
    assert state.camera == "cam"
    assert state.rare_object is not None
    assert sum(state.rare_object.hours["person"]) > 0


def test_a_failed_rename_is_in_the_same_warning_and_the_agent_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the rejected name cannot be taken (here a non-empty directory holds it) one warning says so and saving still works."""
    path = tmp_path / "cam.json"
    path.write_text("{truncated")
    blocker = tmp_path / f"cam.json{REJECTED_SUFFIX}"
    blocker.mkdir()
    (blocker / "keep").write_text("x")
    caplog.set_level(logging.INFO, logger="agent.pipeline.anomaly_stage")
    stage = _stage(path)
    [warning] = _warnings(caplog)
    assert str(path) in warning
    assert "not valid JSON" in warning
    assert f"could not rename it to {blocker}" in warning
    _learn(stage)
    stage.save_state()
    assert decode(path.read_text()).camera == "cam"


def test_no_file_means_fresh_baselines_without_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A first start (no state file yet) logs nothing and leaves no rejected file."""
    caplog.set_level(logging.INFO, logger="agent.pipeline.anomaly_stage")
    _stage(tmp_path / "cam.json")
    assert caplog.records == []
    assert list(tmp_path.iterdir()) == []
