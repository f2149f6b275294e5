"""Unit tests of the count baseline and of AnomalyEngine composition and persistence."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from agent.config.anomaly import AnomalyConfig, CountAnomalyConfig
from agent.core.anomaly import AnomalyEngine, AnomalyStateError, StreamStatus
from agent.core.anomaly.baseline import CountDetector
from agent.core.anomaly.common import AnomalyBook, load_zone
from agent.core.anomaly.state import STATE_VERSION, AnomalyState, CountBaselineState, LabelLevels, decode, encode
from agent.types import Anomaly, BBox, Track, TrackState

T0 = 1_717_200_000.0  # Saturday 00:00 UTC
DAY_S = 86400.0


def _people(n: int, ts: float) -> list[Track]:
    return [Track(i, "person", BBox(0, 0, 5, 5), 0.9, TrackState.CONFIRMED, ts, ts, 5) for i in range(n)]


def _count(**settings: object) -> CountDetector:
    base = {"labels": ["person"], "warmup_s": DAY_S, "min_slot_samples": 10, "sustain_buckets": 2}
    ids = itertools.count(1)
    cfg = CountAnomalyConfig.model_validate({**base, **settings})
    return CountDetector(cfg, load_zone("UTC"), AnomalyBook("cam", lambda: f"c{next(ids)}"))


def _feed(det: CountDetector, start_s: float, minutes: int, counts: list[int]) -> list[Anomaly]:
    out: list[Anomaly] = []
    for m in range(minutes):
        ts = T0 + start_s + m * 60.0
        out += det.update(ts, _people(counts[m % len(counts)], ts))
    return out


def _two_days(det: CountDetector) -> None:
    """Nights (00-06) empty-ish, days busy around 8 people."""
    for hour in range(48):
        counts = [0, 1, 0] if hour % 24 < 6 else [7, 8, 9, 8]
        assert _feed(det, hour * 3600.0, 60, counts) == []


@pytest.mark.parametrize(
    ("hour", "counts", "kind"),
    [(3, [9], "count_surge"), (14, [0], "count_absence"), (14, [8, 9, 7], None), (3, [1, 0], None)],
)
def test_count_baseline_reports_surges_and_absences_only(hour: int, counts: list[int], kind: str | None) -> None:
    """After warm-up, 9 people at 3 am is a surge and nobody at 2 pm an absence; usual counts are silent."""
    det = _count()
    _two_days(det)
    changes = _feed(det, 2 * DAY_S + hour * 3600.0, 10, counts)
    assert [a.kind for a in changes if a.active] == ([kind] if kind else [])
    if kind:
        assert changes[0].details["label"] == "person"
        assert isinstance(changes[0].details["z"], float)


def test_count_baseline_is_silent_during_warmup() -> None:
    """Before warmup_s of learned buckets nothing is judged, however extreme."""
    det = _count(warmup_s=7 * DAY_S)
    _two_days(det)
    assert _feed(det, 2 * DAY_S + 3 * 3600.0, 10, [30]) == []


def _through_json(count: CountBaselineState) -> CountBaselineState:
    """`count` as it comes back from a saved state file."""
    back = decode(encode(AnomalyState(STATE_VERSION, "cam", count, None))).count
    assert back is not None
    return back


def test_count_state_round_trips_through_json_and_keeps_judging() -> None:
    """A baseline saved as JSON and loaded into a new detector gives the same expectation and verdicts."""
    det = _count()
    _two_days(det)
    restored = _count()
    restored.from_state(_through_json(det.to_state()))
    assert restored.expectation("person", 14) == det.expectation("person", 14)
    assert [a.kind for a in _feed(restored, 2 * DAY_S + 3 * 3600.0, 5, [9])] == ["count_surge"]


def _empty_levels(learned: int) -> LabelLevels:
    return LabelLevels(((),) * 168, ((),) * 24, ((),), learned)


def test_count_state_of_another_bucket_s_is_dropped_and_loaded_labels_are_capped() -> None:
    """Samples of another bucket size are not comparable; a load keeps only configured labels, at most max_labels."""
    det = _count()
    _two_days(det)
    other = _count(bucket_s=120.0)
    other.from_state(det.to_state())
    assert other.to_state().labels["person"].learned == 0
    saved = CountBaselineState(60.0, {label: _empty_levels(5) for label in ("car", "person", "dog")})
    capped = _count(labels=[], max_labels=2)
    capped.from_state(saved)
    assert list(capped.to_state().labels) == ["car", "person"]
    configured = _count()
    configured.from_state(saved)
    assert list(configured.to_state().labels) == ["person"]
    assert configured.to_state().labels["person"].learned == 5


def test_count_memory_is_bounded_by_windows() -> None:
    """The rolling windows never grow past their configured sizes."""
    det = _count(hour_of_week_window=8, hour_of_day_window=8, global_window=32, min_slot_samples=4)
    _two_days(det)
    state = det.to_state().labels["person"]
    assert max(len(s) for s in state.hour_of_week) <= 8
    assert len(state.global_[0]) == 32


def _engine(**settings: object) -> AnomalyEngine:
    ids = itertools.count(1)
    return AnomalyEngine("cam", AnomalyConfig.model_validate(settings), lambda: f"e{next(ids)}")


def test_engine_resolve_all_closes_open_anomalies_with_same_ids() -> None:
    """Shutdown resolves every open anomaly under the id it was opened with."""
    engine = _engine(loitering={"max_dwell_s": 2.0})
    opened = [a for k in range(6) for a in engine.update(T0 + k, _people(1, T0 + k), {0: ("door",)}, None, None)]
    assert [a.kind for a in opened] == ["loitering"]
    closed = engine.resolve_all(T0 + 10)
    assert [(a.anomaly_id, a.active, a.ended_ts) for a in closed] == [(opened[0].anomaly_id, False, T0 + 10)]


def test_engine_offline_skips_tamper_and_disabled_engine_is_silent() -> None:
    """While the stream is offline a black frame is not judged as tamper; a disabled engine reports nothing."""
    engine = _engine(stream={"offline_sustain_s": 0.0})
    black = np.zeros((90, 160), np.uint8)
    changes = [a for k in range(10) for a in engine.update(T0 + k, [], {}, black, StreamStatus(online=False))]
    assert [a.kind for a in changes] == ["stream_offline"]
    assert engine.view_impaired
    disabled = _engine(enabled=False)
    assert disabled.update(T0, [], {}, black, StreamStatus(online=False)) == []


def test_engine_state_round_trip_and_version_check() -> None:
    """to_state is JSON-able and loads back; a foreign version is refused with AnomalyStateError."""
    engine = _engine()
    for k in range(5):
        engine.update(T0 + k * 60, _people(2, T0 + k * 60), {}, None, None)
    state = decode(encode(engine.to_state()))
    other = _engine()
    other.from_state(state)
    assert other.to_state() == engine.to_state()
    with pytest.raises(AnomalyStateError):
        other.from_state(replace(state, schema_version=99))


def test_count_buckets_are_not_judged_while_detection_is_off() -> None:
    """With the detect toggle OFF there are no tracks, which must not read as an absence (nor be learned)."""
    count = {"labels": ["person"], "warmup_s": DAY_S, "min_slot_samples": 10, "sustain_buckets": 2}
    found: dict[bool, list[str]] = {}
    for detecting in (True, False):
        engine = _engine(count=count)
        for hour in range(48):
            for m in range(60):
                ts = T0 + hour * 3600.0 + m * 60.0
                engine.update(ts, _people(0 if hour % 24 < 6 else 8, ts), {})
        afternoon = T0 + 2 * DAY_S + 14 * 3600.0
        changes = [a for m in range(10) for a in engine.update(afternoon + m * 60.0, [], {}, detecting=detecting)]
        found[detecting] = [a.kind for a in changes if a.active]
    assert found == {True: ["count_absence"], False: []}
