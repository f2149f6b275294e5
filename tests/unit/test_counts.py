"""Object counter: per label, per zone x label and in all, reporting only the counts that changed."""

from __future__ import annotations

from agent.core.counts import ALL_OBJECTS, CountKey, ObjectCounter
from agent.types import BBox, Track, TrackState


def trk(track_id: int, label: str, state: TrackState = TrackState.CONFIRMED) -> Track:
    return Track(track_id, label, BBox(0, 0, 10, 10), 0.9, state, 0.0, 0.0, 3)


def test_counts_per_label_and_zone() -> None:
    """CONFIRMED and LOST tracks count, per label, per zone and in all; TENTATIVE and REMOVED do not."""
    counter = ObjectCounter()
    tracks = [
        trk(1, "person"),
        trk(2, "person", TrackState.LOST),
        trk(3, "car"),
        trk(4, "person", TrackState.TENTATIVE),
        trk(5, "person", TrackState.REMOVED),
    ]
    counter.update(tracks, {1: ("yard",), 2: ("yard", "door"), 3: ("yard",)})
    assert counter.counts == {
        ALL_OBJECTS: 3,
        CountKey("person"): 2,
        CountKey("person", "yard"): 2,
        CountKey("person", "door"): 1,
        CountKey("car"): 1,
        CountKey("car", "yard"): 1,
    }


def test_changes_only_reports_differences_and_drops_to_zero_once() -> None:
    """changes() gives new and changed counts, a label that vanished as 0 once, then nothing."""
    counter = ObjectCounter()
    counter.update([trk(1, "person"), trk(2, "car")], {1: ("yard",)})
    first = counter.changes()
    assert first == {ALL_OBJECTS: 2, CountKey("car"): 1, CountKey("person"): 1, CountKey("person", "yard"): 1}
    assert list(first) == [ALL_OBJECTS, CountKey("car"), CountKey("person"), CountKey("person", "yard")]
    counter.update([trk(1, "person"), trk(2, "car")], {1: ("yard",)})
    assert counter.changes() == {}
    counter.update([trk(1, "person")], {})
    assert counter.changes() == {ALL_OBJECTS: 1, CountKey("car"): 0, CountKey("person", "yard"): 0}
    counter.update([trk(1, "person")], {})
    assert counter.changes() == {}
    counter.update([trk(1, "person"), trk(3, "person")], {})
    assert counter.changes() == {ALL_OBJECTS: 2, CountKey("person"): 2}


def test_all_changes_only_with_the_total() -> None:
    """One object leaving as another of a different label arrives changes both labels but not the total."""
    counter = ObjectCounter()
    counter.update([trk(1, "person")], {})
    counter.changes()
    counter.update([trk(2, "car")], {})
    assert counter.changes() == {CountKey("car"): 1, CountKey("person"): 0}
