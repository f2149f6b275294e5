"""Events through re-entry: a track held for re-identification keeps one open event, ended only after the window."""

from __future__ import annotations

import itertools

from agent.config.analytics import EventsConfig, TrackerConfig
from agent.config.reid import ReidConfig
from agent.core.events import EventEngine
from agent.core.track import Tracker
from agent.types import BBox, Detection, Event, EventKind
from tests.unit.test_tracker_association import near, unit

DT_S = 0.2
T0 = 1_000.0


def run(frames: list[bool], window_s: float) -> list[tuple[float, Event]]:
    """A standing person seen (True) or missed (False) per frame; every event with the time it was emitted."""
    cfg = TrackerConfig(min_hits=2, max_age_s=1.0, reid_window_s=window_s, reid=ReidConfig())
    tracker = Tracker(cfg)
    ids = itertools.count()
    engine = EventEngine(
        "cam", EventsConfig(min_duration_s=1.0, update_interval_s=1.0), cfg.max_age_s, lambda: f"e{next(ids)}"
    )
    person = unit(7)
    out: list[tuple[float, Event]] = []
    for k, seen in enumerate(frames):
        ts = k * DT_S
        d = Detection("person", 0, 0.6 + 0.01 * (k % 30), BBox(300, 200, 340, 300))
        tracker.update([d] if seen else [], ts)
        tracks = tracker.attach({r.track_id: near(person, k) for r in tracker.appearance_requests()})
        out += [(T0 + ts, e) for e in engine.update(tracks, {}, T0 + ts, tracker.dormant_ids())]
    return out


def test_a_gap_inside_the_window_is_one_event() -> None:
    """Seen 3 s, lost 8 s, seen 3 s, then gone: one start, one end, and the end comes a window after the last sighting."""
    frames = [True] * 15 + [False] * 40 + [True] * 15 + [False] * 80
    events = run(frames, window_s=10.0)
    kinds = [e.kind for _, e in events]
    assert kinds.count(EventKind.START) == 1
    assert kinds.count(EventKind.END) == 1
    assert len({e.event_id for _, e in events}) == 1
    emitted_s, end = next((t, e) for t, e in events if e.kind is EventKind.END)
    last_seen_s = T0 + 69 * DT_S
    assert end.end_ts is not None
    assert abs(end.end_ts - last_seen_s) < 1e-6
    assert emitted_s - last_seen_s > 10.0  # published only after the re-entry window


def test_a_gap_longer_than_the_window_is_two_events() -> None:
    """Lost for longer than reid_window_s, the person's return is a second event."""
    frames = [True] * 15 + [False] * 40 + [True] * 15 + [False] * 30
    events = run(frames, window_s=4.0)
    assert [e.kind for _, e in events].count(EventKind.START) == 2
