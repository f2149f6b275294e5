"""Line counter: both directions, every real crossing counted, jitter never double counted."""

from __future__ import annotations

import pytest

from agent.config.analytics import LineConfig
from agent.core.lines import A_TO_B, B_TO_A, LineCounter, LineTotals
from agent.types import BBox, LineCrossing, Track, TrackState

W, H = 640, 480
# Drawn left to right at y=240: side A (left when walking a->b) is above, side B below.
DOOR = LineConfig(a=(100, 240), b=(540, 240), deadband_px=4.0)


def trk(foot_x: float, foot_y: float, track_id: int = 1, label: str = "person") -> Track:
    return Track(
        track_id, label, BBox(foot_x - 20, foot_y - 100, foot_x + 20, foot_y), 0.9, TrackState.CONFIRMED, 0, 0, 5
    )


def walk(counter: LineCounter, points: list[tuple[float, float]], label: str = "person") -> list[LineCrossing]:
    out: list[LineCrossing] = []
    for i, (x, y) in enumerate(points):
        out += counter.update([trk(x, y, label=label)], lambda tid: f"event-{tid}", 10.0 + i)
    return out


@pytest.mark.parametrize(
    ("ys", "direction"),
    [([200, 220, 260, 280], A_TO_B), ([280, 260, 220, 200], B_TO_A)],
)
def test_crossing_in_each_direction(ys: list[float], direction: str) -> None:
    """Walking down over the line counts a_to_b, walking up counts b_to_a, with the event id and time."""
    counter = LineCounter("cam", {"door": DOOR}, W, H)
    out = walk(counter, [(320, y) for y in ys])
    assert out == [LineCrossing("cam", "door", direction, 1, "event-1", "person", 12.0)]
    expected = LineTotals(1, 0) if direction == A_TO_B else LineTotals(0, 1)
    assert counter.totals == {"door": expected}


def test_jitter_on_the_line_counts_once() -> None:
    """Hovering on the line (within the deadband, or exactly on it) before going across counts one crossing."""
    counter = LineCounter("cam", {"door": DOOR}, W, H)
    hover = [238, 242, 239, 241, 240, 243, 237, 240] * 3
    out = walk(counter, [(320, y) for y in [200, 230, *hover, 250, 300]])
    assert [c.direction for c in out] == [A_TO_B]


def test_back_and_forth_counts_every_crossing() -> None:
    """Real crossings back and forth (beyond the deadband) are each counted."""
    counter = LineCounter("cam", {"door": DOOR}, W, H)
    out = walk(counter, [(320, y) for y in [200, 260, 200, 260, 200]])
    assert [c.direction for c in out] == [A_TO_B, B_TO_A, A_TO_B, B_TO_A]
    assert counter.totals["door"] == LineTotals(2, 2)


def test_passing_beside_the_segment_is_not_a_crossing() -> None:
    """Changing side beyond an end of the line segment is not counted."""
    counter = LineCounter("cam", {"door": DOOR}, W, H)
    assert walk(counter, [(600, y) for y in [200, 220, 260, 280]]) == []


def test_normalised_line_and_objects_allow_list() -> None:
    """A line in 0..1 units limited to cars counts the car and ignores the person."""
    line = LineConfig(a=(0.0, 0.5), b=(1.0, 0.5), objects=("car",))
    counter = LineCounter("cam", {"road": line}, W, H)
    assert walk(counter, [(320, 200), (320, 280)], label="person") == []
    counter2 = LineCounter("cam", {"road": line}, W, H)
    assert [c.direction for c in walk(counter2, [(320, 200), (320, 280)], label="car")] == [A_TO_B]


def test_only_confirmed_tracks_count_and_removed_are_forgotten() -> None:
    """LOST tracks do not move; REMOVED or absent tracks lose their state."""
    counter = LineCounter("cam", {"door": DOOR}, W, H)
    counter.update([trk(320, 200, 1), trk(320, 200, 2)], lambda _: None, 0.0)
    lost = Track(1, "person", BBox(300, 180, 340, 280), 0.9, TrackState.LOST, 0, 0, 5)
    assert counter.update([lost], lambda _: None, 1.0) == []
    assert len(counter) == 1
    assert counter.update([], lambda _: None, 2.0) == []
    assert len(counter) == 0
