"""MediaClock and MediaRateCap: a video file's frames on the clip's own time, and detect_fps per media second."""

from __future__ import annotations

import cv2
import pytest

from agent.capture.media import MediaClock, MediaRateCap
from tests.support import assets


def offsets(clock: MediaClock, positions: list[float | None]) -> list[float]:
    return [round(clock.stamp(p, 500.0, 1.7e9).offset_s, 6) for p in positions]


def test_stamps_are_the_first_frames_clocks_plus_the_media_offset() -> None:
    clock = MediaClock()
    clock.new_pass(10.0)
    first = clock.stamp(0.0, 100.0, 1.7e9)
    later = clock.stamp(2.5, 180.0, 1.7e9 + 80.0)  # read 80 s later: its time is still 2.5 s into the clip
    assert (first.ts_mono, first.ts_wall) == (100.0, 1.7e9)
    assert (later.offset_s, later.ts_mono, later.ts_wall) == (2.5, 102.5, 1.7e9 + 2.5)


def test_offsets_start_at_zero_whatever_the_first_presentation_time() -> None:
    clock = MediaClock()
    clock.new_pass(25.0)
    assert offsets(clock, [1.4, 1.44, 1.48]) == [0.0, 0.04, 0.08]


def test_missing_or_backward_positions_advance_one_frame_period() -> None:
    clock = MediaClock()
    clock.new_pass(10.0)
    assert offsets(clock, [0.0, None, float("nan"), 0.1, 0.5]) == [0.0, 0.1, 0.2, 0.3, 0.5]


def test_a_container_without_positions_runs_on_frame_index_over_fps() -> None:
    clock = MediaClock()
    clock.new_pass(4.0)
    assert offsets(clock, [None] * 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_new_pass_continues_one_period_after_the_last_frame() -> None:
    clock = MediaClock()
    clock.new_pass(10.0)
    offsets(clock, [0.0, 0.1, 0.2])
    clock.new_pass(10.0)
    assert offsets(clock, [0.0, 0.1]) == [0.3, 0.4]


@pytest.mark.parametrize(
    ("fps", "detect_fps", "every"), [(30.0, 5.0, 6), (15.0, 5.0, 3), (10.0, 5.0, 2), (10.0, 10.0, 1)]
)
def test_rate_cap_takes_every_nth_frame(fps: float, detect_fps: float, every: int) -> None:
    """Frame times k / fps, as floating point makes them: a 30 fps file at detect_fps 5 gives frames 0, 6, 12, ..."""
    cap = MediaRateCap()
    admitted = [k for k in range(120) if cap.admit(k / fps, detect_fps)]
    assert admitted == list(range(0, 120, every))


def test_rate_cap_above_the_file_rate_takes_every_frame_and_a_gap_restarts_the_grid() -> None:
    cap = MediaRateCap()
    assert all(cap.admit(k / 10.0, 30.0) for k in range(20))
    cap = MediaRateCap()
    assert [cap.admit(t, 5.0) for t in (0.0, 0.1, 0.2, 7.05, 7.1, 7.2, 7.25)] == [
        True,
        False,
        True,
        True,  # after a gap the next frame due is the first one past it
        False,
        True,
        False,
    ]


def test_opencv_reports_the_presentation_time_of_the_frame_just_read() -> None:
    """The real files: CAP_PROP_POS_MSEC after read() is frame k's time (k / fps), which MediaClock relies on."""
    for name in (assets.PEDESTRIANS, assets.TRAFFIC):
        cap = cv2.VideoCapture(str(assets.video(name)), cv2.CAP_FFMPEG)
        fps = cap.get(cv2.CAP_PROP_FPS)
        positions = []
        for _ in range(30):
            ok, _frame = cap.read()
            assert ok
            positions.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        cap.release()
        assert positions == pytest.approx([k / fps for k in range(30)], abs=1e-3), name
