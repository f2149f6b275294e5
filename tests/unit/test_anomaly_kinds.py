"""Unit tests of the per-kind anomaly detectors with scripted inputs: stream, restricted, loitering, rare."""

from __future__ import annotations

import itertools

import pytest

from agent.config.anomaly import LoiteringConfig, RareObjectConfig, RestrictedZoneConfig, StreamAnomalyConfig
from agent.core.anomaly.common import AnomalyBook, AnomalyStateError, LocalTime
from agent.core.anomaly.loitering import LoiteringDetector
from agent.core.anomaly.rare import RareObjectDetector
from agent.core.anomaly.restricted import RestrictedZoneDetector
from agent.core.anomaly.state import RareObjectState
from agent.core.anomaly.stream import StreamDetector, StreamStatus
from agent.types import Anomaly, BBox, Track, TrackState

NIGHT = LocalTime(2, 23, 30)
DAY = LocalTime(2, 14, 0)


def _book() -> AnomalyBook:
    ids = itertools.count(1)
    return AnomalyBook("cam", lambda: f"a{next(ids)}")


def _track(track_id: int, label: str = "person", state: TrackState = TrackState.CONFIRMED) -> Track:
    return Track(track_id, label, BBox(0, 0, 10, 10), 0.9, state, 0.0, 0.0, 5)


def _summary(changes: list[Anomaly]) -> list[tuple[str, bool]]:
    return [(a.kind, a.active) for a in changes]


ONLINE = StreamStatus(online=True, fps=10.0, nominal_fps=10.0)


@pytest.mark.parametrize(
    ("faulty", "kind"),
    [
        (StreamStatus(online=False), "stream_offline"),
        (StreamStatus(online=True, frozen=True, fps=10.0, nominal_fps=10.0), "stream_frozen"),
        (StreamStatus(online=True, fps=3.0, nominal_fps=10.0), "stream_fps_low"),
    ],
)
def test_stream_fault_fires_after_sustain_and_resolves_after_recovery(faulty: StreamStatus, kind: str) -> None:
    """Each stream fault opens once after its sustain time and resolves once the stream is healthy again."""
    det = StreamDetector(
        StreamAnomalyConfig(offline_sustain_s=4, frozen_sustain_s=4, fps_sustain_s=4, resolve_s=2), _book()
    )
    changes: list[Anomaly] = []
    for ts in range(12):
        changes += det.update(float(ts), ONLINE if ts < 2 or ts >= 8 else faulty)
    assert _summary(changes) == [(kind, True), (kind, False)]
    assert changes[0].started_ts == 2.0
    assert changes[0].anomaly_id == changes[1].anomaly_id


def test_stream_slightly_low_fps_and_unknown_nominal_do_not_fire() -> None:
    """fps above the configured fraction of nominal, or no nominal fps, never opens an anomaly."""
    det = StreamDetector(StreamAnomalyConfig(fps_sustain_s=1), _book())
    changes = [
        a for ts in range(20) for a in det.update(float(ts), StreamStatus(online=True, fps=6.0, nominal_fps=10.0))
    ]
    changes += [a for ts in range(20, 40) for a in det.update(float(ts), StreamStatus(online=True, fps=0.5))]
    assert changes == []


def _restricted() -> RestrictedZoneDetector:
    rule = {"name": "yard", "zone": "yard", "labels": ["person"], "schedule": [{"start": "23:00", "end": "06:00"}]}
    return RestrictedZoneDetector(RestrictedZoneConfig.model_validate({"rules": [rule], "min_dwell_s": 1.0}), _book())


@pytest.mark.parametrize(
    ("now", "label", "zone", "fires"),
    [
        (NIGHT, "person", "yard", True),
        (DAY, "person", "yard", False),
        (NIGHT, "car", "yard", False),
        (NIGHT, "person", "street", False),
    ],
)
def test_restricted_zone_fires_only_for_forbidden_label_in_zone_within_schedule(
    now: LocalTime, label: str, zone: str, fires: bool
) -> None:
    """A person in the yard at night violates the rule; by day, a car, or another zone does not."""
    det = _restricted()
    changes: list[Anomaly] = []
    for k in range(6):
        changes += det.update(float(k), now, [_track(1, label)], {1: (zone,)}, {1: "ev1"})
    assert bool(changes) is fires
    if fires:
        assert changes[0].event_ids == ("ev1",)
        assert changes[0].details["zone"] == "yard"


def test_restricted_zone_resolves_after_the_zone_is_clear() -> None:
    """The rule's anomaly resolves resolve_s after the last violator left."""
    det = _restricted()
    changes: list[Anomaly] = []
    for k in range(4):
        changes += det.update(float(k), NIGHT, [_track(1)], {1: ("yard",)}, {})
    for k in range(4, 12):
        changes += det.update(float(k), NIGHT, [], {}, {})
    assert _summary(changes) == [("restricted_zone", True), ("restricted_zone", False)]
    assert changes[1].ended_ts == 9.0


@pytest.mark.parametrize(("stay_s", "fires"), [(30, False), (59, False), (61, True), (200, True)])
def test_loitering_fires_when_a_track_stays_longer_than_max_dwell(stay_s: int, fires: bool) -> None:
    """A person in one zone beyond max_dwell_s loiters; shorter stays never fire."""
    det = LoiteringDetector(LoiteringConfig(max_dwell_s=60.0, grace_s=2.0), _book())
    changes: list[Anomaly] = []
    for ts in range(stay_s + 1):
        changes += det.update(float(ts), [_track(7)], {7: ("door",)}, {7: "ev7"})
    for ts in range(stay_s + 1, stay_s + 6):
        changes += det.update(float(ts), [], {}, {})
    expected = [("loitering", True), ("loitering", False)] if fires else []
    assert _summary(changes) == expected
    if fires:
        assert changes[0].started_ts == 0.0
        assert changes[0].event_ids == ("ev7",)


def test_loitering_ignores_other_labels_and_bounds_its_state() -> None:
    """Cars are not watched by default, and at most max_tracked pairs are remembered."""
    det = LoiteringDetector(LoiteringConfig(max_dwell_s=5.0, max_tracked=3), _book())
    for ts in range(10):
        assert det.update(float(ts), [_track(1, "car")], {1: ("door",)}, {}) == []
    tracks = [_track(i) for i in range(10)]
    det.update(20.0, tracks, {i: ("door",) for i in range(10)}, {})
    assert len(det._stays) == 3


def _rare(**settings: object) -> RareObjectDetector:
    cfg = RareObjectConfig.model_validate({"warmup_tracks": 20, "warmup_s": 0.0, "hour_min_total": 40, **settings})
    return RareObjectDetector(cfg, _book())


def _history(det: RareObjectDetector, n: int) -> int:
    """n sightings alternating a daytime-only car and an any-hour person; returns the next track id."""
    for i in range(n):
        label, hour = ("car", 8 + i % 10) if i % 2 else ("person", (i // 2) % 24)
        assert det.update(float(i), LocalTime(0, hour, 0), [_track(i + 1, label)], {}) == []
    return n + 1


@pytest.mark.parametrize(
    ("label", "hour", "reason"),
    [("horse", 12, "rare_label"), ("car", 3, "unusual_hour"), ("car", 12, None), ("person", 3, None)],
)
def test_rare_object_flags_new_labels_and_unusual_hours(label: str, hour: int, reason: str | None) -> None:
    """After warm-up, a never-seen label or a daytime-only label at night is rare; usual sightings are not."""
    det = _rare()
    next_id = _history(det, 100)
    changes = det.update(1000.0, LocalTime(0, hour, 0), [_track(next_id, label)], {next_id: "evX"})
    if reason is None:
        assert changes == []
    else:
        assert _summary(changes) == [("rare_object", True)]
        assert changes[0].details["reason"] == reason
        assert changes[0].event_ids == ("evX",)


def test_rare_object_is_silent_during_warmup_and_state_round_trips() -> None:
    """Nothing is rare before warm-up; the histogram survives to_state/from_state (the JSON codec is test_anomaly_state's)."""
    det = _rare(warmup_tracks=1000)
    _history(det, 50)
    assert det.update(99.0, LocalTime(0, 12, 0), [_track(999, "horse")], {}) == []
    restored = _rare()
    restored.from_state(det.to_state())
    assert restored.to_state() == det.to_state()
    assert restored.total_tracks == 51


def test_rare_object_state_loads_at_most_max_labels_and_refuses_a_short_histogram() -> None:
    """A saved history is capped at max_labels labels; a histogram without 24 bins raises AnomalyStateError."""
    det = _rare(max_labels=2)
    det.from_state(RareObjectState(5.0, {label: (1,) * 24 for label in ("car", "person", "dog")}))
    assert det.to_state() == RareObjectState(5.0, {"car": (1,) * 24, "person": (1,) * 24})
    with pytest.raises(AnomalyStateError):
        det.from_state(RareObjectState(None, {"car": (1,) * 23}))
