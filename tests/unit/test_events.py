"""Event engine: start after min_duration, updates on change, one end, bounded state."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from agent.config.analytics import EventsConfig, LineConfig, TrackerConfig, ZoneConfig
from agent.core.events import EventEngine
from agent.core.lines import LineCounter
from agent.core.track import Tracker
from agent.core.zones import ZoneTracker
from agent.types import BBox, Detection, Event, EventKind, Track, TrackState

DT_S = 0.1
WALL0 = 1_700_000_000.0

BOX = BBox(100, 100, 140, 200)


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"ev{next(counter)}"


def trk(
    t: float,
    track_id: int = 1,
    score: float = 0.9,
    state: TrackState = TrackState.CONFIRMED,
    box: BBox = BOX,
    first: float = 0.0,
) -> Track:
    return Track(track_id, "person", box, score, state, first, t, 1 + round((t - first) / DT_S))


def engine(**cfg: float) -> EventEngine:
    return EventEngine("cam", EventsConfig(**cfg), max_age_s=1.0, id_factory=ids(), frame_size=(640, 480))


def kinds(events: list[Event]) -> list[EventKind]:
    return [e.kind for e in events]


def test_start_waits_for_min_duration_then_id_is_stable() -> None:
    """START comes once the track has lasted min_duration_s; later messages share its event_id."""
    eng = engine(min_duration_s=0.5, update_interval_s=0.0)
    out: list[Event] = []
    for i in range(8):
        t = i * DT_S
        out += eng.update([trk(t, score=0.5 + 0.01 * i)], {}, WALL0 + t)
        if i < 5:
            assert out == []
            assert eng.open_event_id(1) is None
    assert kinds(out) == [EventKind.START, EventKind.UPDATE, EventKind.UPDATE]
    assert {e.event_id for e in out} == {"ev1"}
    assert eng.open_event_id(1) == "ev1"
    assert out[0].start_ts == pytest.approx(WALL0)  # the wall time of the first sighting
    assert out[-1].top_score == pytest.approx(0.57)


def test_one_frame_false_positive_gives_no_event() -> None:
    """A detection seen once never becomes a confirmed track, so no message at all is produced."""
    tracker = Tracker(TrackerConfig(min_hits=2))
    eng = engine(min_duration_s=0.0)
    events = eng.update(tracker.update([Detection("person", 0, 0.9, BBox(0, 0, 10, 10))], 0.0), {}, WALL0)
    for i in range(1, 30):
        events += eng.update(tracker.update([], i * DT_S), {}, WALL0 + i * DT_S)
    assert events == []
    assert len(eng) == 0


def test_score_updates_are_rate_limited_but_zone_changes_are_not() -> None:
    """Score improvements send at most one UPDATE per update_interval_s; a zone change sends at once."""
    eng = engine(min_duration_s=0.0, update_interval_s=1.0)
    assert kinds(eng.update([trk(0.0, score=0.6)], {}, WALL0)) == [EventKind.START]
    assert eng.update([trk(0.1, score=0.7)], {}, WALL0 + 0.1) == []  # improved, too soon
    zone_change = eng.update([trk(0.2, score=0.7)], {1: ("yard",)}, WALL0 + 0.2)
    assert kinds(zone_change) == [EventKind.UPDATE]
    assert zone_change[0].current_zones == ("yard",)
    assert zone_change[0].top_score == pytest.approx(0.7)
    assert eng.update([trk(0.3, score=0.8)], {1: ("yard",)}, WALL0 + 0.3) == []
    late = eng.update([trk(1.3, score=0.5)], {1: ("yard",)}, WALL0 + 1.3)
    assert kinds(late) == [EventKind.UPDATE]  # the pending improvement, once the interval passed
    assert late[0].top_score == pytest.approx(0.8)
    assert eng.update([trk(2.5, score=0.5)], {1: ("yard",)}, WALL0 + 2.5) == []  # nothing new


def test_zones_entered_accumulate_and_current_follows() -> None:
    """entered_zones lists every zone visited, current_zones only where the object is now."""
    eng = engine(min_duration_s=0.0)
    eng.update([trk(0.0)], {1: ("drive",)}, WALL0)
    eng.update([trk(0.1)], {1: ("drive", "door")}, WALL0 + 0.1)
    last = eng.update([trk(0.2)], {1: ()}, WALL0 + 0.2)
    assert last[0].current_zones == ()
    assert last[0].entered_zones == ("drive", "door")


def test_end_when_removed_uses_last_seen_time() -> None:
    """A REMOVED track ends its event once, with end_ts the last wall time it was confirmed."""
    eng = engine(min_duration_s=0.0)
    eng.update([trk(0.0)], {}, WALL0)
    eng.update([trk(0.1, state=TrackState.LOST)], {}, WALL0 + 0.5)
    end = eng.update([trk(0.1, state=TrackState.REMOVED)], {}, WALL0 + 0.9)
    assert kinds(end) == [EventKind.END]
    assert end[0].end_ts == pytest.approx(WALL0)
    assert end[0].ts_wall == pytest.approx(WALL0 + 0.9)
    assert end[0].track.state is TrackState.REMOVED
    assert eng.open_event_id(1) is None
    assert eng.update([], {}, WALL0 + 1.0) == []


def test_end_when_track_disappears_or_stays_lost_too_long() -> None:
    """A track missing from the input, or LOST longer than max_age_s, ends its event."""
    eng = engine(min_duration_s=0.0)
    eng.update([trk(0.0, track_id=1), trk(0.0, track_id=2)], {}, WALL0)
    out = eng.update([trk(0.0, track_id=2, state=TrackState.LOST)], {}, WALL0 + 0.5)
    assert [(e.kind, e.track.track_id) for e in out] == [(EventKind.END, 1)]
    out = eng.update([trk(0.0, track_id=2, state=TrackState.LOST)], {}, WALL0 + 1.5)
    assert [(e.kind, e.track.track_id) for e in out] == [(EventKind.END, 2)]
    assert len(eng) == 0


def test_long_occlusion_ends_event_and_starts_a_new_one() -> None:
    """Hidden longer than max_age_s, a person gets a new track id AND a new event (end, then start)."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=1.0))
    eng = engine(min_duration_s=0.2)
    box = Detection("person", 0, 0.9, BBox(100, 100, 140, 200))
    events: list[Event] = []
    for i in range(60):
        visible = i < 10 or i >= 30
        tracks = tracker.update([box] if visible else [], i * DT_S)
        events += eng.update(tracks, {}, WALL0 + i * DT_S)
    assert kinds(events) == [EventKind.START, EventKind.END, EventKind.START]
    assert events[0].event_id == events[1].event_id != events[2].event_id
    assert events[0].track.track_id != events[2].track.track_id


def test_end_all_ends_started_events_only() -> None:
    """Shutdown ends every started event and forgets pending ones."""
    eng = engine(min_duration_s=0.5)
    eng.update([trk(0.0, track_id=1, first=-1.0), trk(0.0, track_id=2)], {}, WALL0)
    out = eng.end_all(WALL0 + 1)
    assert [(e.kind, e.track.track_id, e.end_ts) for e in out] == [(EventKind.END, 1, WALL0)]
    assert len(eng) == 0


def test_best_frame_prefers_uncut_boxes_then_score() -> None:
    """The best frame improves on a higher score, but a box cut by the frame edge never beats an uncut one."""
    eng = engine(min_duration_s=0.0)
    edge_box = BBox(0, 100, 40, 200)
    eng.update([trk(0.0, score=0.6, box=edge_box)], {}, WALL0)
    assert [(b.event_id, b.cut_by_edge) for b in eng.best_frames] == [("ev1", True)]
    eng.update([trk(0.1, score=0.5)], {}, WALL0 + 0.1)
    assert [b.cut_by_edge for b in eng.best_frames] == [False]  # uncut beats cut despite lower score
    eng.update([trk(0.2, score=0.95, box=edge_box)], {}, WALL0 + 0.2)
    assert not eng.best_frames
    eng.update([trk(0.3, score=0.55)], {}, WALL0 + 0.3)
    assert [b.track.score for b in eng.best_frames] == [0.55]


def test_state_bounded_after_10000_tracks_through_the_pipeline() -> None:
    """10,000 objects passing through tracker, zones, events and lines leave no state behind."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=0.3))
    zones = ZoneTracker({"left": ZoneConfig(points=((0, 0), (0.5, 0), (0.5, 1), (0, 1)), inertia_frames=1)}, 1280, 720)
    eng = EventEngine("cam", EventsConfig(min_duration_s=0.1), 0.3, ids())
    lines = LineCounter("cam", {"door": LineConfig(a=(26, 720), b=(26, 0), deadband_px=1.0)}, 1280, 720)
    per_frame, life, cells = 5, 4, 40
    starts = ends = most = 0
    for f in range(10_000 // per_frame + life + 6):
        dets = []
        for k in range(max(0, (f - life + 1) * per_frame), min(10_000, (f + 1) * per_frame)):
            x, y = 160 * (k % cells % 8) + 4 * (f - k // per_frame), 140 * (k % cells // 8)
            dets.append(Detection("person", 0, 0.9, BBox(x, y, x + 40, y + 100)))
        tracks = tracker.update(dets, f * DT_S)
        in_zones = zones.update(tracks)
        events = eng.update(tracks, in_zones, WALL0 + f * DT_S)
        lines.update(tracks, eng.open_event_id, WALL0 + f * DT_S)
        starts += kinds(events).count(EventKind.START)
        ends += kinds(events).count(EventKind.END)
        most = max(most, len(tracker), len(zones), len(eng), len(lines))
    assert starts == ends == 10_000
    assert most <= cells
    assert (len(tracker), len(zones), len(eng), len(lines)) == (0, 0, 0, 0)
    assert lines.totals["door"].a_to_b == 10_000 // cells * 5  # cells 0, 8, 16, 24, 32 sit on the line
