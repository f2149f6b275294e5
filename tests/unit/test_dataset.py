"""Unit tests of field dataset capture and management (agent.dataset): real crops of the shared
walkway video through the real backbone for the near-duplicate check, the size bound, YOLO labels,
and `edge-agent dataset` label/split/stats/list through the real CLI entry point."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.cli.main import main
from agent.config.recognition import DatasetCaptureConfig
from agent.dataset.capture import DatasetCaptureWorker, yolo_lines
from agent.dataset.layout import FRAMES, LABELLED, UNLABELLED, enforce_size
from agent.recognition.backbone import DEFAULT_BACKBONE, Backbone
from agent.records import BestCrop
from agent.types import BBox, Event, EventKind, Image, Track, TrackState
from tests.support.assets import PEDESTRIANS, model, video

TS = 1_750_000_000.0
PERSON_BOX = BBox(100, 100, 180, 300)
CROP_BOX = BBox(300, 100, 500, 400)


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(model(DEFAULT_BACKBONE))


@pytest.fixture(scope="module")
def frames() -> list[Image]:
    """Frames 0, 300 and 600 of the walkway: different scenes for different crops."""
    capture = cv2.VideoCapture(str(video(PEDESTRIANS)))
    found = []
    for index in (0, 300, 600):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        assert ok, f"frame {index} of {PEDESTRIANS}"
        found.append(np.asarray(image, dtype=np.uint8))
    capture.release()
    return found


def track(label: str = "person", box: BBox = PERSON_BOX) -> Track:
    return Track(1, label, box, 0.9, TrackState.CONFIRMED, TS, TS, 5)


def crop_of(image: Image, event_id: str, box: BBox = CROP_BOX, **extra: object) -> BestCrop:
    x1, y1, x2, y2 = (int(v) for v in (box.x1, box.y1, box.x2, box.y2))
    part = np.ascontiguousarray(image[y1:y2, x1:x2])
    size = (image.shape[1], image.shape[0])
    return BestCrop("walkway", "person", event_id, part, box, size, 0.9, TS, **extra)  # type: ignore[arg-type]


def end_of(event_id: str) -> Event:
    return Event(EventKind.END, event_id, "walkway", track(), 0.9, (), (), TS - 5, TS, TS)


def run_capture(worker: DatasetCaptureWorker, crops: list[BestCrop]) -> None:
    """Feed crops and their events' ends as the analytics thread would, then let the worker drain."""
    worker.start()
    for crop in crops:
        worker.accept(crop)
        worker.accept(end_of(crop.event_id))
    worker.stop()
    worker.join(30)
    assert not worker.is_alive()


def test_best_crop_of_each_ended_event_is_saved_and_near_duplicates_skipped(
    tmp_path: Path, backbone: Backbone, frames: list[Image]
) -> None:
    """The same walker's crop twice is a near-duplicate (cosine above the threshold); other scenes are kept."""
    worker = DatasetCaptureWorker(DatasetCaptureConfig(enabled=True, labels=("person",)), tmp_path, backbone)
    run_capture(worker, [crop_of(frames[0], "e1"), crop_of(frames[0], "e2"), crop_of(frames[1], "e3")])
    saved = sorted((tmp_path / UNLABELLED / "walkway" / "person").glob("*.jpg"))
    assert [p.name.split("_", 1)[1] for p in saved] == ["e1.jpg", "e3.jpg"]
    assert worker.duplicates == 1
    assert cv2.imread(str(saved[0])) is not None


def test_only_ended_events_of_captured_labels_are_saved(
    tmp_path: Path, backbone: Backbone, frames: list[Image]
) -> None:
    """A crop whose event never ends in the run is not saved; a car is not captured when only person is."""
    worker = DatasetCaptureWorker(DatasetCaptureConfig(enabled=True, labels=("person",)), tmp_path, backbone)
    worker.start()
    worker.accept(crop_of(frames[0], "open"))
    car = crop_of(frames[1], "car1")
    worker.accept(BestCrop("walkway", "car", "car1", car.image, car.box, car.frame_size, 0.9, TS))
    worker.accept(end_of("car1"))
    worker.stop()
    worker.join(30)
    assert not list(tmp_path.rglob("*.jpg"))


def test_full_frames_come_with_yolo_labels(tmp_path: Path, backbone: Backbone, frames: list[Image]) -> None:
    """With full_frames, the frame is saved beside a YOLO txt of its tracks of dataset labels, and classes.txt."""
    config = DatasetCaptureConfig(enabled=True, labels=("person", "car"), full_frames=True)
    worker = DatasetCaptureWorker(config, tmp_path, backbone)
    tracks = (track(), track("car", BBox(600, 50, 760, 150)), track("dog", BBox(0, 0, 10, 10)))
    run_capture(worker, [crop_of(frames[0], "e1", frame=frames[0], frame_tracks=tracks)])
    (label_file,) = (tmp_path / FRAMES / "walkway").glob("*.txt")
    assert label_file.with_suffix(".jpg").is_file()
    rows = [line.split() for line in label_file.read_text().splitlines()]
    assert [row[0] for row in rows] == ["0", "1"]
    cx, cy, w, h = (float(v) for v in rows[0][1:])
    assert (cx, cy, w, h) == pytest.approx((140 / 768, 200 / 576, 80 / 768, 200 / 576), abs=1e-5)
    assert (tmp_path / FRAMES / "classes.txt").read_text() == "person\ncar\n"


def test_yolo_lines_clip_boxes_to_the_frame() -> None:
    """A box past the frame edge is clipped before it is normalised."""
    (line,) = yolo_lines((track(box=BBox(-20, 0, 80, 100)),), (200, 100), ("person",))
    assert line == "0 0.200000 0.500000 0.400000 1.000000"


def test_size_bound_removes_oldest_first_with_their_labels(tmp_path: Path) -> None:
    """Over max_mb, the oldest images go first, and a frame's .txt goes with its .jpg."""
    files = []
    for i in range(5):
        image = tmp_path / FRAMES / "walkway" / f"{i}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"x" * 300_000)
        image.with_suffix(".txt").write_text("0 0.5 0.5 0.1 0.1\n")
        os.utime(image, (TS + i, TS + i))
        os.utime(image.with_suffix(".txt"), (TS + i, TS + i))
        files.append(image)
    enforce_size(tmp_path, 1.0)
    assert [p.exists() for p in files] == [False, False, True, True, True]
    assert not files[0].with_suffix(".txt").exists()


def make_unlabelled(root: Path, count: int, camera: str = "walkway") -> list[Path]:
    folder = root / UNLABELLED / camera / "person"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"2026_{camera}_{i}.jpg"
        cv2.imwrite(str(path), np.full((32, 32, 3), i * 20, dtype=np.uint8))
        paths.append(path)
    return paths


def test_cli_label_stats_list_and_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Crops are moved into class folders, counted, listed, and split into train/val per class."""
    crops = make_unlabelled(tmp_path, 6)
    assert main(["dataset", "label", "--data", str(tmp_path), "--as", "adult", *map(str, crops[:3])]) == 0
    assert main(["dataset", "label", "--data", str(tmp_path), "--as", "child", *map(str, crops[3:])]) == 0
    assert sorted(p.name for p in (tmp_path / LABELLED / "adult").iterdir()) == sorted(p.name for p in crops[:3])
    capsys.readouterr()
    assert main(["dataset", "stats", "--data", str(tmp_path)]) == 0
    stats = capsys.readouterr().out
    assert "adult" in stats
    assert "child" in stats
    assert main(["dataset", "list", "--data", str(tmp_path), "--part", LABELLED]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6
    out = tmp_path / "split"
    assert main(["dataset", "split", "--data", str(tmp_path), "--out", str(out), "--val-fraction", "0.34"]) == 0
    assert capsys.readouterr().out.splitlines() == ["adult\ttrain=2\tval=1", "child\ttrain=2\tval=1"]
    assert len(list((out / "train").rglob("*.jpg"))) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats", "--data", "{root}/missing"], "does not exist"),
        (["label", "--data", "{root}", "--as", "a/b", "{root}/unlabelled"], "class name"),
        (["label", "--data", "{root}", "--as", "x", "{root}/elsewhere.jpg"], "not a .jpg file of the dataset"),
        (["split", "--data", "{root}", "--out", "{root}/s"], "at least two class folders"),
    ],
)
def test_cli_bad_input_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad paths and names: exit 2 and a message naming what is wrong; nothing moves."""
    crops = make_unlabelled(tmp_path, 2)
    assert main(["dataset", *(a.format(root=tmp_path) for a in args)]) == 2
    assert message in capsys.readouterr().err
    assert all(p.exists() for p in crops)
