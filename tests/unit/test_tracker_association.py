"""Tracker association: the low-score second stage, duplicate-box suppression and re-entry linking by appearance."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.analytics import TrackerConfig
from agent.config.reid import ReidConfig
from agent.core.track import Tracker
from agent.types import BBox, Detection, Embedding, Track, TrackState

DT_S = 0.2
REID = ReidConfig(every_n_frames=5, max_cosine_distance=0.3)


def det(x: float, y: float, score: float = 0.9, label: str = "person", w: float = 40.0, h: float = 100.0) -> Detection:
    return Detection(label, 0, score, BBox(x, y, x + w, y + h))


def unit(seed: int) -> Embedding:
    """A random unit vector per person: two seeds are nearly orthogonal in 512-d (distance ~1)."""
    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def near(base: Embedding, seed: int, noise: float = 0.2) -> Embedding:
    """`base` seen again: a little noise, still the same person (distance ~0.02)."""
    v = base + noise * unit(seed) / np.sqrt(2.0)
    out: Embedding = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def step(tracker: Tracker, dets: list[Detection], ts: float, looks: dict[int, Embedding]) -> list[Track]:
    """One frame as the processor runs it: update, embed the requested crops (looked up by box x), attach."""
    tracker.update(dets, ts)
    by_x = {round(d.box.x1): i for i, d in enumerate(dets)}
    embeddings = {r.track_id: looks[by_x[round(r.box.x1)]] for r in tracker.appearance_requests()}
    return tracker.attach(embeddings)


def alive(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.state is not TrackState.REMOVED]


@pytest.mark.parametrize(("score", "continues"), [(0.3, True), (0.05, False)])
def test_low_score_box_continues_a_confirmed_track_only(score: float, continues: bool) -> None:
    """A box between low_score and high_score continues a confirmed track; below low_score it does not."""
    tracker = Tracker(TrackerConfig(min_hits=2, low_score=0.1, high_score=0.5))
    for i in range(4):
        first = tracker.update([det(100 + 5 * i, 200)], i * DT_S)
    after = tracker.update([det(120, 200, score=score)], 4 * DT_S)
    assert after[0].track_id == first[0].track_id
    assert (after[0].state is TrackState.CONFIRMED) is continues


def test_low_score_box_starts_no_track() -> None:
    """A weak box with no track to continue starts nothing (it is not a ghost source)."""
    tracker = Tracker(TrackerConfig(min_hits=1, low_score=0.1, high_score=0.5))
    assert tracker.update([det(100, 200, score=0.3)], 0.0) == []


@pytest.mark.parametrize(
    ("inner", "suppressed"),
    [
        (det(105, 205, w=30, h=45), True),
        (det(120, 150, w=40, h=100), False),
        (det(105, 205, w=30, h=45, label="dog"), False),
    ],
)
def test_box_mostly_inside_a_tracked_box_starts_no_track(inner: Detection, suppressed: bool) -> None:
    """An upper-body duplicate inside a tracked person starts no track; an overlapping neighbour or another label does."""
    tracker = Tracker(TrackerConfig(min_hits=1, contained_ratio=0.8))
    for i in range(3):
        tracker.update([det(100, 200)], i * DT_S)
    tracks = tracker.update([det(100, 200), inner], 3 * DT_S)
    assert len(alive(tracks)) == (1 if suppressed else 2)
    assert tracker.suppressed_boxes == (1 if suppressed else 0)


def run_gap(reid: ReidConfig | None, gap_s: float, same_person: bool, window_s: float = 10.0) -> tuple[list[int], int]:
    """A standing person seen 2 s, missed for gap_s, seen again 2 s: the ids it had, and REMOVED count."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=1.0, reid_window_s=window_s, reid=reid))
    person, stranger = unit(1), unit(2)
    ids: list[int] = []
    removed = 0
    ts = 0.0
    frames = [True] * 10 + [False] * round(gap_s / DT_S) + [True] * 10
    for k, seen in enumerate(frames):
        look = near(person, 100 + k) if (same_person or k < 10) else near(stranger, 100 + k)
        tracks = step(tracker, [det(300, 200)] if seen else [], ts, {0: look})
        removed += sum(1 for t in tracks if t.state is TrackState.REMOVED)
        ids += [t.track_id for t in tracks if t.state is TrackState.CONFIRMED and t.track_id not in ids]
        ts += DT_S
    return ids, removed


def test_reentry_with_matching_appearance_keeps_the_id() -> None:
    """A person lost for 6 s (beyond max_age_s, within reid_window_s) who looks the same continues the same id."""
    ids, removed = run_gap(REID, 6.0, same_person=True)
    assert len(ids) == 1
    assert removed == 0


def test_reentry_of_someone_else_gets_a_new_id() -> None:
    """A different-looking person at the same spot gets a new id; the lost one stays held for the window."""
    ids, removed = run_gap(REID, 6.0, same_person=False)
    assert len(ids) == 2
    assert removed == 0  # the first is still dormant (6 s + 2 s < 10 s window)


def test_reentry_after_the_window_gets_a_new_id() -> None:
    """Lost longer than reid_window_s, the old track is removed and the person starts a new one."""
    ids, removed = run_gap(REID, 5.0, same_person=True, window_s=3.0)
    assert len(ids) == 2
    assert removed == 1


def test_without_reid_a_long_gap_splits_the_track() -> None:
    """Without reid the same scene ends the track at max_age_s (the old behaviour)."""
    ids, removed = run_gap(None, 6.0, same_person=True)
    assert len(ids) == 2
    assert removed == 1


def test_dormant_track_is_not_returned_but_listed() -> None:
    """Past max_age_s a lost re-id track leaves the returned tracks (counts, zones) but stays in dormant_ids."""
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=1.0, reid_window_s=10.0, reid=REID))
    for i in range(5):
        tracks = step(tracker, [det(300, 200)], i * DT_S, {0: unit(1)})
    track_id = tracks[0].track_id
    for i in range(5, 5 + 8):
        tracks = step(tracker, [], i * DT_S, {})
    assert tracks == []
    assert tracker.dormant_ids() == {track_id}


def test_embeddings_are_requested_at_birth_and_every_n_hits() -> None:
    """Crops are asked for at a track's birth and then every every_n_frames hits, not every frame."""
    tracker = Tracker(TrackerConfig(min_hits=2, reid=ReidConfig(every_n_frames=5)))
    asked = []
    for i in range(20):
        tracker.update([det(100 + 2 * i, 200)], i * DT_S)
        asked.append(bool(tracker.appearance_requests()))
        tracker.attach({r.track_id: unit(1) for r in tracker.appearance_requests()})
    assert [i for i, a in enumerate(asked) if a] == [0, 4, 9, 14, 19]


def test_small_boxes_and_other_labels_are_not_embedded() -> None:
    """Boxes below min_box_height_px and labels outside reid.labels are never asked for."""
    tracker = Tracker(TrackerConfig(min_hits=1, reid=ReidConfig(min_box_height_px=50.0)))
    tracker.update([det(100, 200, h=30), det(300, 200, label="car")], 0.0)
    assert tracker.appearance_requests() == []
