"""Unit tests of the anomaly building blocks: latch, book, local time, schedules, config."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from agent.config.anomaly import AnomalyConfig, TimeWindow
from agent.core.anomaly.common import AnomalyBook, Latch, LocalTime, load_zone, local_time
from agent.core.anomaly.restricted import window_contains
from agent.types import Severity

T0 = 1_717_200_000.0  # 2024-06-01 00:00 UTC, Saturday


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ([(0, True, False), (1, True, False), (2, True, False)], [None, None, True]),
        ([(0, True, False), (1, False, True), (2, True, False), (3, True, False)], [None, None, None, None]),
        (
            [(0, True, False), (2, True, False), (3, False, False), (4, False, True), (7, False, True)],
            [None, True, None, None, False],
        ),
        (
            [(0, True, False), (2, True, False), (3, False, True), (4, True, False), (5, False, True)],
            [None, True, None, None, None],
        ),
    ],
)
def test_latch_needs_sustain_to_fire_and_clear_time_to_resolve(
    script: list[tuple[float, bool, bool]], expected: list[bool | None]
) -> None:
    """A 2 s sustain / 3 s resolve latch turns on and off only after the condition held long enough."""
    latch = Latch(sustain_s=2.0, resolve_s=3.0)
    assert [latch.step(ts, firing, clear) for ts, firing, clear in script] == expected


def test_latch_started_ts_is_when_condition_began() -> None:
    """The anomaly start is the first moment of the sustained condition, not the firing moment."""
    latch = Latch(sustain_s=2.0, resolve_s=1.0)
    for ts in (10.0, 11.0, 12.0):
        latch.step(ts, True, False)
    assert latch.on
    assert latch.started_ts == 10.0


def test_book_pairs_active_and_resolved_under_one_id() -> None:
    """Open then close yields active then resolved messages sharing the injected id; reopening is ignored."""
    ids = itertools.count(1)
    book = AnomalyBook("cam", lambda: f"id{next(ids)}")
    opened = book.open("k", "loitering", Severity.WARNING, 5.0, {"observed": 1.0}, ("e1",))
    assert opened is not None
    assert opened.active
    assert opened.anomaly_id == "id1"
    assert book.open("k", "loitering", Severity.WARNING, 6.0, {}) is None
    book.add_event_ids("k", ("e2", "e1"))
    closed = book.close("k", 9.0, {"resolved_observed": 0.0})
    assert closed is not None
    assert not closed.active
    assert closed.anomaly_id == "id1"
    assert closed.ended_ts == 9.0
    assert closed.event_ids == ("e1", "e2")
    assert closed.details["observed"] == 1.0
    assert book.close("k", 10.0) is None


@pytest.mark.parametrize(
    ("zone", "ts", "expected"),
    [
        ("UTC", T0, LocalTime(5, 0, 0)),
        ("Europe/Berlin", T0, LocalTime(5, 2, 0)),
        ("America/New_York", T0, LocalTime(4, 20, 0)),
    ],
)
def test_local_time_uses_the_configured_zone(zone: str, ts: float, expected: LocalTime) -> None:
    """Hour and weekday come from the wall timestamp seen in the configured IANA zone."""
    assert local_time(ts, load_zone(zone)) == expected


@pytest.mark.parametrize(
    ("window", "now", "inside"),
    [
        (TimeWindow(start="23:00", end="06:00"), LocalTime(2, 23, 30), True),
        (TimeWindow(start="23:00", end="06:00"), LocalTime(3, 5, 59), True),
        (TimeWindow(start="23:00", end="06:00"), LocalTime(3, 6, 0), False),
        (TimeWindow(start="23:00", end="06:00"), LocalTime(3, 12, 0), False),
        (TimeWindow(start="09:00", end="17:00", weekdays=[0, 1, 2, 3, 4]), LocalTime(5, 10, 0), False),
        (TimeWindow(start="09:00", end="17:00", weekdays=[0, 1, 2, 3, 4]), LocalTime(4, 10, 0), True),
        (TimeWindow(start="22:00", end="02:00", weekdays=[4]), LocalTime(5, 1, 0), True),  # Friday night into Saturday
        (TimeWindow(start="22:00", end="02:00", weekdays=[4]), LocalTime(4, 1, 0), False),
        (TimeWindow(), LocalTime(6, 13, 0), True),
    ],
)
def test_schedule_windows_wrap_midnight_and_respect_weekdays(window: TimeWindow, now: LocalTime, inside: bool) -> None:
    """A window ending before it starts wraps past midnight and belongs to the weekday it started on."""
    assert window_contains(window, now) is inside


@pytest.mark.parametrize(
    "settings",
    [
        {"timezone": "Mars/Olympus"},
        {"tamper": {"blur_max_ratio": 0.6, "blur_resolve_ratio": 0.5}},
        {"restricted_zone": {"rules": [{"name": "a", "zone": "z"}, {"name": "a", "zone": "y"}]}},
        {"restricted_zone": {"rules": [{"name": "a", "zone": "z", "schedule": [{"start": "25:00"}]}]}},
        {"loitering": {"max_dwell": 5}},
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, object]) -> None:
    """Unknown zones, inverted hysteresis, duplicate rules, bad times and unknown keys fail validation."""
    with pytest.raises(ValidationError):
        AnomalyConfig.model_validate(settings)


def test_config_defaults_enable_every_kind() -> None:
    """An empty anomalies section enables every kind with its defaults."""
    cfg = AnomalyConfig()
    kinds = (cfg.count, cfg.restricted_zone, cfg.loitering, cfg.tamper, cfg.stream, cfg.rare_object)
    assert cfg.enabled
    assert all(k.enabled for k in kinds)
    assert all(f.description for model in (cfg, *kinds) for f in type(model).model_fields.values())
