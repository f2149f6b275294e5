"""The clip recorder with scripted frames of a real video and real H.264 encoding: pre-roll before the
event's start, post-roll after its end, a clip cut when the camera goes offline, bounded queues; and
the live views, which copy nothing while no one watches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from agent.clips.recorder import ClipRecorder
from agent.config.schema import CameraConfig
from agent.config.web import ClipConfig
from agent.records import CameraStatus, FrameDetections
from agent.store.rows import ClipDone
from agent.types import BBox, Detection, EventKind, Frame, Image
from agent.web.live import LiveViews, jpeg_of
from tests.support import assets
from tests.support.store_records import CAMERA, person_event

FPS = 5.0
T0 = 1_000.0


def video_frames(count: int) -> list[Image]:
    cap = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    frames: list[Image] = []
    while len(frames) < count:
        ok, frame = cap.read()
        assert ok
        frames.append(np.asarray(frame, dtype=np.uint8))
    cap.release()
    return frames


@pytest.fixture(scope="module")
def frames() -> list[Image]:
    return video_frames(40)  # reused in turn: the recorder only needs real pictures


def frame_at(images: list[Image], index: int) -> Frame:
    return Frame(CAMERA, index + 1, T0 + index / FPS, T0 + index / FPS, images[index % len(images)])


class Clips:
    def __init__(self, tmp_path: Path, **settings: float) -> None:
        self.done: list[ClipDone] = []
        self.root = tmp_path
        self.recorder = ClipRecorder(tmp_path, ClipConfig(**settings), self.done.append)

    def wait_done(self, count: int, timeout_s: float = 30.0) -> list[ClipDone]:
        deadline = time.monotonic() + timeout_s
        while len(self.done) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.done


@pytest.fixture
def clips(tmp_path: Path) -> Iterator[Clips]:
    made = Clips(tmp_path, pre_roll_s=3.0, post_roll_s=5.0, queue_size=1000)
    made.recorder.start()
    yield made
    made.recorder.stop()
    made.recorder.join(30)


def feed(clips: Clips, images: list[Image], first: int, last: int) -> None:
    for index in range(first, last):
        clips.recorder.on_frame(frame_at(images, index), ())


def decoded(path: Path) -> tuple[str, float, float]:
    """(codec, first frame time, last frame time) as PyAV decodes the file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.time) for f in container.decode(stream) if f.time is not None]
        return stream.codec_context.name, min(times), max(times)


def test_clip_spans_pre_roll_event_and_post_roll(clips: Clips, frames: list[Image]) -> None:
    """An event from 10 s to 15 s gives one clip from 7 s (3 s pre-roll) to 20 s (5 s post-roll)."""
    feed(clips, frames, 0, 51)  # 0 .. 10 s
    clips.recorder.accept(person_event("e1", EventKind.START, T0 + 10.0))
    feed(clips, frames, 51, 76)  # .. 15 s
    clips.recorder.accept(person_event("e1", EventKind.END, T0 + 10.0, T0 + 15.0))
    feed(clips, frames, 76, 150)  # .. 30 s
    (done,) = clips.wait_done(1)
    assert done.event_ids == ("e1",)
    assert done.start_ts == pytest.approx(T0 + 7.0, abs=1 / FPS)
    assert done.end_ts == pytest.approx(T0 + 20.0, abs=1 / FPS)
    codec, first_s, last_s = decoded(clips.root / done.path)
    assert codec == "h264"
    assert last_s - first_s == pytest.approx(done.end_ts - done.start_ts, abs=1 / FPS)
    assert done.size_bytes == (clips.root / done.path).stat().st_size


def test_overlapping_events_share_one_clip(clips: Clips, frames: list[Image]) -> None:
    """A second event starting before the first ends extends the same clip; post-roll runs from the last end."""
    feed(clips, frames, 0, 20)
    clips.recorder.accept(person_event("a", EventKind.START, T0 + 4.0))
    feed(clips, frames, 20, 30)
    clips.recorder.accept(person_event("b", EventKind.START, T0 + 6.0))
    clips.recorder.accept(person_event("a", EventKind.END, T0 + 4.0, T0 + 6.0))
    feed(clips, frames, 30, 45)
    clips.recorder.accept(person_event("b", EventKind.END, T0 + 6.0, T0 + 9.0))
    feed(clips, frames, 45, 100)
    (done,) = clips.wait_done(1)
    assert done.event_ids == ("a", "b")
    assert done.end_ts == pytest.approx(T0 + 14.0, abs=1 / FPS)


def test_camera_offline_closes_the_clip(clips: Clips, frames: list[Image]) -> None:
    """A file's end (camera offline) closes the open clip with the frames it has."""
    feed(clips, frames, 0, 10)
    clips.recorder.accept(person_event("x", EventKind.START, T0 + 2.0))
    feed(clips, frames, 10, 20)
    clips.recorder.accept(CameraStatus(CAMERA, online=False))
    (done,) = clips.wait_done(1)
    assert done.end_ts == pytest.approx(T0 + 19 / FPS, abs=1e-6)


def test_no_event_no_clip_and_bounded_pre_roll(tmp_path: Path, frames: list[Image]) -> None:
    """Without events nothing is written and the pre-roll holds only its window of frames."""
    made = Clips(tmp_path, pre_roll_s=2.0, queue_size=1000)
    made.recorder.start()
    feed(made, frames, 0, 100)
    made.recorder.stop()
    made.recorder.join(30)
    assert made.done == []
    assert not any(tmp_path.rglob("*.mp4"))
    one_jpeg = len(cv2.imencode(".jpg", cv2.resize(frames[0], (640, 480)), [cv2.IMWRITE_JPEG_QUALITY, 75])[1])
    assert 0 < made.recorder.preroll_bytes() < (2.0 + 1.0) * FPS * one_jpeg * 2


def test_full_queue_drops_frames_and_counts(tmp_path: Path, frames: list[Image]) -> None:
    """With the clip thread not running, frames beyond queue_size are dropped and counted, not queued."""
    made = Clips(tmp_path, queue_size=4)
    feed(made, frames, 0, 10)
    assert made.recorder.dropped == 6


def test_live_views_copy_nothing_without_a_viewer(frames: list[Image]) -> None:
    """No viewer: no picture kept; one viewer: pictures kept, at most mjpeg_fps, with the boxes drawn."""
    live = LiveViews(fps=1000.0, max_viewers=2)
    slot = live.slot(CAMERA)
    frame = frame_at(frames, 0)
    live.on_frame(frame, ())
    assert slot.picture is None
    slot.viewers = 1
    detection = Detection("person", 0, 0.9, BBox(100, 100, 200, 300))
    record = FrameDetections(CAMERA, 1, frame.ts_wall, frame.width, frame.height, 20.0, (detection,))
    live.on_frame(frame, (record,))
    assert slot.picture is not None
    assert slot.picture.boxes[0][0] == "person"
    assert slot.picture.image is not frame.image
    jpeg = jpeg_of(slot.picture, CameraConfig(source="/dev/video0"))
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
    capped = LiveViews(fps=0.5, max_viewers=1)
    capped_slot = capped.slot(CAMERA)
    capped_slot.viewers = 1
    capped.on_frame(frame_at(frames, 0), ())
    capped.on_frame(frame_at(frames, 1), ())
    assert capped_slot.picture is not None
    assert capped_slot.picture.seq == 1
