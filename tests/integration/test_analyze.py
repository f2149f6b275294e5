"""`edge-agent analyze` as a real subprocess on real video, with a real broker for --publish."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import yaml

from tests.support import assets
from tests.support.broker import MosquittoBroker
from tests.support.clips import write_visit_clip
from tests.support.schemas import validate
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300
CLIP_FRAMES = 120  # 12 s of the 10 fps walkway: several people cross the middle line


def cut_clip(source: Path, dest: Path, frames: int, start: int = 0) -> Path:
    """The first `frames` frames of `source` from `start`, re-encoded (real decoded video, a shorter file)."""
    capture = cv2.VideoCapture(str(source))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer: cv2.VideoWriter | None = None
    for _ in range(frames):
        ok, image = capture.read()
        assert ok, f"{source} ended early"
        if writer is None:
            height, width = image.shape[:2]
            writer = cv2.VideoWriter(str(dest), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
        writer.write(image)
    assert writer is not None
    writer.release()
    capture.release()
    return dest


def write_config(tmp_path: Path, broker: MosquittoBroker | None = None, prefix: str = "edge-agent") -> Path:
    doc = {
        "device_id": "yard",
        "state_dir": str(tmp_path / "live-state"),
        "model_dir": str(assets.assets_dir() / "models"),
        "model": {"path": assets.SSD_MODEL.removesuffix(".tflite")},
        "mqtt": {"host": "127.0.0.1", "port": broker.port if broker else 1, "topic_prefix": prefix},
        "cameras": {
            "walkway": {
                "source": "/dev/video0",
                "objects": ["person"],
                "detect_fps": 5,
                "lines": {"middle": {"a": [0.5, 0.05], "b": [0.5, 0.95], "objects": ["person"]}},
            }
        },
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", "analyze", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(cwd)},
    )


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    return cut_clip(assets.video(assets.PEDESTRIANS), folder / "walk.avi", CLIP_FRAMES)


def test_analyze_writes_events_in_the_payload_schema_and_an_unreadable_file_exits_2(tmp_path: Path, clip: Path) -> None:
    """A good file and a broken one: exit 2 naming the broken file, the good one's events and snapshots written."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    config = write_config(tmp_path)
    done = analyze(str(clip), str(broken), "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"FAILED: {broken}: OpenCV cannot decode a frame of it" in done.stdout
    assert "1 of 2 files analysed" in done.stdout
    result = tmp_path / "out" / "walk"
    events = lines_of(result / "events.jsonl")
    for payload in events:
        validate("event", payload)
    starts = [e for e in events if e["type"] == "start"]
    ends = {e["event_id"] for e in events if e["type"] == "end"}
    assert starts, done.stdout
    assert {e["event_id"] for e in starts} == ends  # every event is ended at the end of the file
    assert f"events: person {len(starts)}" in done.stdout
    assert list((result / "snapshots").rglob("*.jpg"))
    assert not (tmp_path / "live-state").exists()  # the live agent's baselines and outbox are not touched


def test_analyze_publish_sends_the_same_events_to_the_broker(
    tmp_path: Path, clip: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """--publish: the broker gets every event written to events.jsonl, under <device_id>-analyze."""
    subscriber = Subscriber(broker.host, broker.port, f"{topic_prefix}/yard-analyze/events")
    try:
        config = write_config(tmp_path, broker, topic_prefix)
        out = tmp_path / "out"
        done = analyze(str(clip), "--config", str(config), "--out", str(out), "--publish", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        written = {(e["event_id"], e["type"]) for e in lines_of(out / "walk" / "events.jsonl")}
        assert written
        assert subscriber.wait_for(lambda got: {(m.json()["event_id"], m.json()["type"]) for m in got} >= written)
    finally:
        subscriber.close()


def event_summary(path: Path) -> list[tuple[object, object, object]]:
    """(label, type, duration_s) of every event message, in order: what a replay must reproduce."""
    return [(e["label"], e["type"], e["duration_s"]) for e in lines_of(path)]


def test_analyze_in_two_processes_analyses_each_file_as_one_process_does(tmp_path: Path, clip: Path) -> None:
    """--jobs 2 on two files: each is analysed in its own process, into its own directory, with the same
    events as --jobs 1 (media time: the frames analysed and their times do not depend on the speed)."""
    second = cut_clip(assets.video(assets.PEDESTRIANS), tmp_path / "walk2.avi", CLIP_FRAMES, start=300)
    config = write_config(tmp_path)
    out, serial = tmp_path / "out", tmp_path / "serial"
    done = analyze(str(clip), str(second), "--config", str(config), "--out", str(out), "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 of 2 files analysed" in done.stdout
    alone = analyze(str(clip), str(second), "--config", str(config), "--out", str(serial), cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    for stem in ("walk", "walk2"):
        starts = [e for e in lines_of(out / stem / "events.jsonl") if e["type"] == "start"]
        assert starts, stem
        assert f"results: {out / stem}" in done.stdout
        assert event_summary(out / stem / "events.jsonl") == event_summary(serial / stem / "events.jsonl"), stem


def test_a_person_visit_is_one_event_of_its_length_in_media_time(tmp_path: Path) -> None:
    """The holdout-style check of issue 15 with the default config (only the model and the camera):
    a 34 s clip with a 14.4 s person visit gives one person event of 14.4 +- 2.5 s, on the media clock."""
    visit = write_visit_clip(tmp_path / "visit.avi")
    doc = {
        "device_id": "holdout",
        "model_dir": str(assets.assets_dir() / "models"),
        "model": {"path": assets.SSD_MODEL.removesuffix(".tflite")},
        "cameras": {"door": {"source": "/dev/video0"}},
    }
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    done = analyze(str(visit.path), "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ends = [e for e in lines_of(tmp_path / "out" / "visit" / "events.jsonl") if e["type"] == "end"]
    assert [e["label"] for e in ends] == ["person"], done.stdout
    assert ends[0]["clock"] == "media"
    assert ends[0]["duration_s"] == pytest.approx(visit.visit_s, abs=2.5)
    assert f"{visit.frames}/{visit.frames} frames, {visit.duration_s:.1f} s of video" in done.stdout
