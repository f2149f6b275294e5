"""Snapshots: best-frame selection, bounded copies, JPEG encoding, publishing and retention."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.outputs import SnapshotConfig
from agent.geometry import touches_edge
from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics
from agent.records import SnapshotJob
from agent.snapshots.store import (
    BYTES_PER_MB,
    RetentionLimits,
    SnapshotStore,
    StoredFile,
    plan_retention,
    safe_file_stem,
    snapshot_path,
)
from agent.snapshots.worker import SnapshotWorker, make_jobs, render_snapshot
from agent.types import BBox, Frame, Image, Track, TrackState
from tests.support import assets

W, H = 800, 600
MARGIN = 2.0


def track(box: BBox, score: float, label: str = "person") -> Track:
    return Track(1, label, box, score, TrackState.CONFIRMED, 0.0, 1.0, 5)


def frame(image: Image | None = None, seq: int = 0, camera: str = "front") -> Frame:
    img = image if image is not None else np.full((H, W, 3), seq % 256, np.uint8)
    return Frame(camera, seq, float(seq), 1_700_000_000.0 + seq, img)


INSIDE = BBox(100, 100, 200, 300)
TOUCHING_LEFT = BBox(0, 100, 100, 300)


@pytest.fixture(scope="module")
def real_image() -> Image:
    capture = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, image = capture.read()
    capture.release()
    assert ok, "could not decode frame 100 of the pedestrians video"
    return np.asarray(image, dtype=np.uint8)


@pytest.mark.parametrize(
    ("box", "cut"),
    [
        (INSIDE, False),
        (TOUCHING_LEFT, True),
        (BBox(100, 1, 200, 300), True),  # within the margin of the top edge
        (BBox(600, 100, 798.5, 300), True),  # within the margin of the right edge
        (BBox(100, 100, 200, H - 3), False),  # just outside the margin of the bottom edge
    ],
)
def test_box_near_an_edge_counts_as_cut(box: BBox, cut: bool) -> None:
    """A box counts as cut off (a worse snapshot) when it comes within the margin of any frame edge."""
    assert touches_edge(box, W, H, MARGIN) is cut


def one_job(source: Frame, event_id: str, best: Track, config: SnapshotConfig) -> SnapshotJob:
    [job] = make_jobs(source, [(event_id, best)], config)
    return job


def test_events_improving_on_one_frame_share_its_copy_unless_cropped() -> None:
    """Several events whose best frame is this one: one whole-frame copy for all of them (each box
    mapped into it); with crop, each gets its own crop."""
    other = BBox(10, 10, 60, 60)
    best = [("e1", track(INSIDE, 0.9)), ("e2", track(other, 0.8))]
    whole = make_jobs(frame(), best, SnapshotConfig(crop=False, max_width_px=400, max_height_px=400))
    assert whole[0].image is whole[1].image
    assert [j.event_id for j in whole] == ["e1", "e2"]
    assert whole[1].box == BBox(5, 5, 30, 30)
    cropped = make_jobs(frame(), best, SnapshotConfig(crop=True, crop_margin_frac=0.0))
    assert cropped[0].image is not cropped[1].image
    assert cropped[1].image.shape[:2] == (50, 50)


def test_job_image_is_independent_of_the_source_frame() -> None:
    """Overwriting the ring slot after make_jobs leaves the job's image unchanged."""
    source = np.zeros((H, W, 3), np.uint8)
    source[100:300, 100:200] = 77
    job = one_job(frame(source), "e1", track(INSIDE, 0.9), SnapshotConfig(crop=True, crop_margin_frac=0.0))
    before = job.image.copy()
    source[:] = 255
    assert np.array_equal(job.image, before)
    assert int(job.image.max()) == 77
    assert not np.shares_memory(job.image, source)


def test_crop_maps_the_box_into_crop_coordinates() -> None:
    """A crop with a margin holds the box at an offset equal to the margin."""
    job = one_job(frame(), "e1", track(INSIDE, 0.9), SnapshotConfig(crop=True, crop_margin_frac=0.5))
    assert job.image.shape[:2] == (400, 200)  # 200x100 box plus half on each side
    assert (job.box.x1, job.box.y1, job.box.x2, job.box.y2) == (50, 100, 150, 300)


def test_full_frame_copy_is_downscaled_to_the_limits() -> None:
    """Without cropping the copy is the whole frame shrunk within max width/height, box scaled alike."""
    config = SnapshotConfig(crop=False, max_width_px=400, max_height_px=400)
    job = one_job(frame(), "e1", track(INSIDE, 0.9), config)
    assert job.image.shape[:2] == (300, 400)
    assert job.box == BBox(50, 50, 100, 150)
    assert not job.image.flags.writeable
    assert job.score == 0.9
    assert job.ts_wall == frame().ts_wall


def decode(jpeg: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return np.asarray(image, dtype=np.uint8)


@pytest.mark.parametrize(("crop", "max_w", "max_h"), [(False, 320, 240), (False, 640, 640), (True, 128, 128)])
def test_render_real_frame_respects_size_limits(real_image: Image, crop: bool, max_w: int, max_h: int) -> None:
    """A real video frame encodes to a decodable JPEG no larger than the configured limits."""
    config = SnapshotConfig(crop=crop, max_width_px=max_w, max_height_px=max_h, jpeg_quality=70)
    source = frame(real_image)
    job = one_job(source, "e1", track(BBox(300, 150, 380, 400), 0.8), config)
    assert job is not None
    image = decode(render_snapshot(job, config))
    assert image.shape[1] <= max_w
    assert image.shape[0] <= max_h
    if not crop:  # the full 768x576 frame keeps its aspect ratio
        assert image.shape[1] / image.shape[0] == pytest.approx(768 / 576, rel=0.02)


def test_render_draws_the_box(real_image: Image) -> None:
    """With draw_box the box outline changes the pixels on its edge; without it they match the source."""
    box = BBox(300, 150, 380, 400)
    plain = SnapshotConfig(draw_box=False, jpeg_quality=95, max_width_px=768, max_height_px=576)
    job = one_job(frame(real_image), "e1", track(box, 0.8), plain)
    assert job is not None
    undrawn = decode(render_snapshot(job, plain)).astype(int)
    drawn = decode(render_snapshot(job, plain.model_copy(update={"draw_box": True}))).astype(int)
    edge = (slice(200, 350), 380)  # the right edge of the box
    assert np.abs(drawn[edge] - undrawn[edge]).mean() > 40
    assert np.abs(undrawn[edge] - real_image[edge].astype(int)).mean() < 10


def scripted_job(event_id: str, label: str = "person", score: float = 0.8) -> SnapshotJob:
    image = np.full((120, 160, 3), 90, np.uint8)
    return SnapshotJob("front", label, event_id, image, BBox(10, 10, 80, 100), score, 1_700_000_000.0)


def test_worker_publishes_retained_jpeg_and_saves(tmp_path: Path) -> None:
    """The worker publishes a retained JPEG on the snapshot topic, saves it and reports has_snapshot."""
    sent: list[OutboundMessage] = []
    topics = Topics("edge", "dev1")
    store = SnapshotStore(tmp_path, RetentionLimits(10 * BYTES_PER_MB, 86_400.0))
    worker = SnapshotWorker(topics, SnapshotConfig(save=True), sent.append, store, clock=lambda: 1_700_000_000.0)
    assert worker.submit(scripted_job("e1"))
    assert not worker.has_snapshot("e1")
    worker.start()
    worker.stop()
    worker.join(10)
    assert not worker.is_alive()
    assert [m.topic for m in sent] == ["edge/dev1/front/person/snapshot"]
    assert sent[0].retain
    assert not sent[0].durable
    decode(sent[0].payload)
    saved = snapshot_path(tmp_path, "front", "e1", 1_700_000_000.0)
    assert saved.read_bytes() == sent[0].payload
    assert saved.parent.name == "2023-11-14"
    assert worker.has_snapshot("e1")
    assert worker.errors == 0


def test_worker_queue_keeps_latest_job_per_event_and_counts_drops() -> None:
    """A newer job replaces a waiting one of the same event; a new event over the cap is dropped."""
    sent: list[OutboundMessage] = []
    worker = SnapshotWorker(Topics("edge", "dev1"), SnapshotConfig(queue_size=2), sent.append)
    assert worker.submit(scripted_job("e1", score=0.5))
    assert worker.submit(scripted_job("e2", label="car"))
    assert worker.submit(scripted_job("e1", score=0.9))
    assert not worker.submit(scripted_job("e3"))
    assert (worker.superseded, worker.dropped, worker.pending) == (1, 1, 2)
    worker.start()
    worker.stop()
    worker.join(10)
    assert [m.topic for m in sent] == ["edge/dev1/front/person/snapshot", "edge/dev1/front/car/snapshot"]
    assert worker.has_snapshot("e1")
    assert not worker.has_snapshot("e3")


HOUR = 3600.0
NOW = 1_000_000.0


def files(*specs: tuple[str, int, float]) -> list[StoredFile]:
    return [StoredFile(Path(name), size, NOW - age_h * HOUR) for name, size, age_h in specs]


@pytest.mark.parametrize(
    ("stored", "limits", "expected"),
    [
        (files(("a", 10, 1), ("b", 10, 2)), RetentionLimits(100, 10 * HOUR), []),  # within both limits
        (files(("a", 10, 1), ("b", 10, 20)), RetentionLimits(100, 10 * HOUR), ["b"]),  # too old
        (files(("a", 60, 1), ("b", 60, 2), ("c", 60, 3)), RetentionLimits(100, 99 * HOUR), ["c", "b"]),  # size
        (files(("a", 50, 1), ("b", 50, 2)), RetentionLimits(100, 99 * HOUR), []),  # exactly at the size limit
        (files(("new", 90, 1), ("old", 5, 50), ("mid", 20, 5)), RetentionLimits(100, 10 * HOUR), ["old", "mid"]),
        (files(("big", 500, 1)), RetentionLimits(100, 10 * HOUR), ["big"]),  # one file larger than the limit
        ([], RetentionLimits(100, 10 * HOUR), []),
    ],
)
def test_plan_retention(stored: list[StoredFile], limits: RetentionLimits, expected: list[str]) -> None:
    """Too-old files go first, then the oldest until the total fits, in deletion order."""
    assert plan_retention(stored, NOW, limits) == [Path(name) for name in expected]


def test_store_enforce_deletes_oldest_and_empty_days(tmp_path: Path) -> None:
    """A sweep deletes the planned files from disk and removes day directories left empty."""
    store = SnapshotStore(tmp_path, RetentionLimits(max_bytes=150, max_age_s=10 * 86_400.0))
    old = store.save("front", "old", 1_700_000_000.0, b"\xff\xd8" + b"x" * 98)
    new = store.save("front", "new", 1_700_100_000.0, b"\xff\xd8" + b"y" * 98)
    os.utime(old, (1_700_000_000.0, 1_700_000_000.0))
    os.utime(new, (1_700_100_000.0, 1_700_100_000.0))
    assert store.enforce(now=1_700_100_001.0) == 1
    assert not old.exists()
    assert not old.parent.exists()
    assert new.exists()


@pytest.mark.parametrize(("event_id", "stem"), [("abc-1_2.x", "abc-1_2.x"), ("../../etc", "_.._etc"), ("", "_")])
def test_safe_file_stem(event_id: str, stem: str) -> None:
    """Event ids become file names that cannot leave the day directory."""
    assert safe_file_stem(event_id) == stem
    assert "/" not in safe_file_stem(event_id)
