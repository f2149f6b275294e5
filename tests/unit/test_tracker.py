"""Tracker: ids persist across motion, occlusion and crossings; ghosts and label swaps never do."""

from __future__ import annotations

import pytest

from agent.config.analytics import TrackerConfig
from agent.core.track import Tracker
from agent.types import BBox, Detection, Track, TrackState

DT_S = 0.1


def det(x: float, y: float, label: str = "person", score: float = 0.9, w: float = 40.0, h: float = 100.0) -> Detection:
    return Detection(label, 0 if label == "person" else 2, score, BBox(x, y, x + w, y + h))


def confirmed(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.state is TrackState.CONFIRMED]


def test_sliding_box_keeps_one_id() -> None:
    """A box moving 15 px per frame is one track, confirmed after min_hits frames."""
    tracker = Tracker(TrackerConfig(min_hits=3))
    ids = set()
    for i in range(30):
        tracks = tracker.update([det(100 + 15 * i, 200)], i * DT_S)
        assert len(tracks) == 1
        assert tracks[0].state is (TrackState.CONFIRMED if i >= 2 else TrackState.TENTATIVE)
        ids.add(tracks[0].track_id)
    assert len(ids) == 1
    assert tracks[0].hits == 30


@pytest.mark.parametrize(("gap_frames", "same_id"), [(3, True), (9, True), (25, False)])
def test_occlusion_keeps_id_only_within_max_age(gap_frames: int, same_id: bool) -> None:
    """A moving person hidden for less than max_age_s keeps its id; hidden longer it gets a new one."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=1.0))
    frame = 0
    for _ in range(5):
        first = tracker.update([det(100 + 10 * frame, 200)], frame * DT_S)
        frame += 1
    removed: list[Track] = []
    for _ in range(gap_frames):
        tracks = tracker.update([], frame * DT_S)
        removed += [t for t in tracks if t.state is TrackState.REMOVED]
        frame += 1
    after = tracker.update([det(100 + 10 * frame, 200)], frame * DT_S)
    alive = [t for t in after if t.state is not TrackState.REMOVED]
    assert (alive[0].track_id == first[0].track_id) is same_id
    assert len(removed) == (0 if same_id else 1)
    if same_id:
        assert alive[0].state is TrackState.CONFIRMED
    else:
        assert alive[0].state is TrackState.TENTATIVE


def test_two_people_crossing_keep_their_ids() -> None:
    """Two people walking through each other at constant speed keep their own ids."""
    tracker = Tracker(TrackerConfig(min_hits=2))
    ids_left_mover: set[int] = set()
    ids_right_mover: set[int] = set()
    for i in range(30):
        right_mover = det(100 + 20 * i, 200)  # walks right
        left_mover = det(680 - 20 * i, 206, h=90)  # walks left, slightly smaller
        tracks = tracker.update([left_mover, right_mover], i * DT_S)
        for t in tracks:
            if t.box == right_mover.box:
                ids_right_mover.add(t.track_id)
            elif t.box == left_mover.box:
                ids_left_mover.add(t.track_id)
    assert len(ids_right_mover) == 1
    assert len(ids_left_mover) == 1
    assert ids_left_mover != ids_right_mover
    assert len(tracker) == 2


def test_one_frame_false_positive_is_never_confirmed() -> None:
    """A detection seen once stays tentative and is removed the next frame."""
    tracker = Tracker(TrackerConfig(min_hits=2))
    first = tracker.update([det(100, 100)], 0.0)
    assert first[0].state is TrackState.TENTATIVE
    second = tracker.update([], DT_S)
    assert [t.state for t in second] == [TrackState.REMOVED]
    assert tracker.update([], 2 * DT_S) == []
    assert len(tracker) == 0


@pytest.mark.parametrize(("low_score", "kept"), [(0.1, True), (0.5, False)])
def test_low_score_second_pass_keeps_occluded_track(low_score: float, kept: bool) -> None:
    """A confirmed track continues on weak detections (score 0.3) only when the second pass takes them."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=0.5, high_score=0.5, low_score=low_score))
    for i in range(4):
        first = tracker.update([det(100 + 5 * i, 200)], i * DT_S)
    for i in range(4, 14):
        tracks = tracker.update([det(100 + 5 * i, 200, score=0.3)], i * DT_S)
    alive = [t for t in tracks if t.state is not TrackState.REMOVED]
    if kept:
        assert [(t.track_id, t.state) for t in alive] == [(first[0].track_id, TrackState.CONFIRMED)]
        assert alive[0].score == pytest.approx(0.3)
    else:
        assert alive == []  # lost, aged out; weak detections never start a track


def test_weak_detection_does_not_start_a_track() -> None:
    """Detections below high_score never create tracks."""
    tracker = Tracker(TrackerConfig(min_hits=1, high_score=0.5, low_score=0.1))
    assert tracker.update([det(0, 0, score=0.4)], 0.0) == []


def test_labels_never_cross_associate() -> None:
    """A car appearing exactly where a person is gets its own id; the person's track goes lost."""
    tracker = Tracker(TrackerConfig(min_hits=1))
    person = tracker.update([det(100, 100)], 0.0)[0]
    tracks = tracker.update([det(100, 100, label="car")], DT_S)
    by_label = {t.label: t for t in tracks}
    assert by_label["person"].track_id == person.track_id
    assert by_label["person"].state is TrackState.LOST
    assert by_label["car"].track_id != person.track_id


def test_max_tracks_evicts_oldest_lost_then_refuses() -> None:
    """At max_tracks a new object evicts the oldest LOST track; with none lost it is refused and counted."""
    tracker = Tracker(TrackerConfig(min_hits=1, max_tracks=2, max_age_s=100.0))
    a, _ = tracker.update([det(0, 0), det(200, 0)], 0.0)
    tracks = tracker.update([det(200, 0)], 1.0)  # a is lost
    assert {t.track_id: t.state for t in tracks}[a.track_id] is TrackState.LOST
    tracks = tracker.update([det(200, 0), det(400, 0)], 2.0)
    assert (a.track_id, TrackState.REMOVED) in [(t.track_id, t.state) for t in tracks]
    assert len(tracker) == 2
    tracker.update([det(200, 0), det(400, 0), det(600, 0)], 3.0)
    assert tracker.refused_tracks == 1
    assert len(tracker) == 2


def test_ids_are_per_instance() -> None:
    """Two trackers (two cameras) number their tracks independently from 1."""
    one, two = Tracker(TrackerConfig(min_hits=1)), Tracker(TrackerConfig(min_hits=1))
    one.update([det(0, 0), det(200, 0)], 0.0)
    assert two.update([det(0, 0)], 0.0)[0].track_id == 1


def test_state_bounded_after_10000_tracks() -> None:
    """10,000 short-lived objects leave the tracker holding only the live ones, with unique ids."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=0.3))
    seen: set[int] = set()
    most = 0
    per_frame, life, cells = 5, 4, 40
    frames = 10_000 // per_frame + life
    for f in range(frames + 6):
        dets = []
        for k in range(max(0, (f - life + 1) * per_frame), min(10_000, (f + 1) * per_frame)):
            cell = k % cells
            dets.append(det(160 * (cell % 8) + 4 * (f - k // per_frame), 140 * (cell // 8)))
        tracks = tracker.update(dets, f * DT_S)
        seen.update(t.track_id for t in tracks)
        most = max(most, len(tracker))
    assert len(seen) == 10_000
    assert most <= cells
    assert len(tracker) == 0


def test_clear_forgets_tracks_but_never_reuses_ids() -> None:
    """After clear() the tracker holds nothing, and the next object gets a new id, not an earlier one."""
    tracker = Tracker(TrackerConfig(min_hits=1))
    first = tracker.update([Detection("person", 0, 0.9, BBox(0, 0, 10, 10))], 0.0)
    tracker.clear()
    assert len(tracker) == 0
    again = tracker.update([Detection("person", 0, 0.9, BBox(0, 0, 10, 10))], 0.1)
    assert [t.track_id for t in again] == [first[0].track_id + 1]
