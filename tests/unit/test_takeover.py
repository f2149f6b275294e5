"""TakeoverWatch: repeated short broker-ended sessions make a takeover suspected and due for a rate-limited
report; a session that lasts ends the streak."""

from typing import Any

import pytest

from agent.publish.takeover import TakeoverReport, TakeoverWatch


def watch() -> TakeoverWatch:
    return TakeoverWatch(short_session_s=10.0, suspect_drops=3, window_s=60.0, report_interval_s=60.0)


def test_third_short_drop_within_the_window_is_reported() -> None:
    """Two short drops are not enough; the third within the window is reported with the streak so far."""
    w = watch()
    assert w.session_dropped(1.0, now_mono=100.0) is None
    assert w.session_dropped(1.0, now_mono=102.0) is None
    assert not w.suspected
    assert w.session_dropped(1.0, now_mono=104.0) == TakeoverReport(drops=3, streak_s=5.0, new_drops=3)
    assert w.suspected


def test_reports_are_rate_limited_and_count_what_was_not_reported() -> None:
    """While suspected, drops inside the interval give no report; the next one after it counts them all."""
    w = watch()
    for t in (0.0, 2.0, 4.0):
        w.session_dropped(1.0, t)
    assert [w.session_dropped(1.0, t) for t in range(6, 64, 2)] == [None] * 29
    assert w.session_dropped(1.0, 64.0) == TakeoverReport(drops=33, streak_s=65.0, new_drops=30)


def test_drops_spread_wider_than_the_window_are_not_a_takeover() -> None:
    """Three short drops over more than window_s apart raise no suspicion."""
    w = watch()
    for t in (0.0, 40.0, 80.0, 120.0):
        assert w.session_dropped(1.0, t) is None
    assert not w.suspected


@pytest.mark.parametrize("lasted_s", [10.0, 3600.0])
def test_a_session_that_lasted_ends_the_streak(lasted_s: float) -> None:
    """A drop after a session of at least short_session_s clears the streak and the suspicion."""
    w = watch()
    for t in (0.0, 2.0, 4.0):
        w.session_dropped(1.0, t)
    assert w.session_dropped(lasted_s, 20.0) is None
    assert (w.suspected, w.drops) == (False, 0)
    assert w.session_dropped(1.0, 22.0) is None


def test_session_lasted_returns_the_streak_and_keeps_the_rate_limit() -> None:
    """Ending a streak returns its drops; a new streak soon after waits for the report interval."""
    w = watch()
    for t in (0.0, 2.0, 4.0):
        w.session_dropped(1.0, t)
    assert w.session_lasted() == 3
    for t in (30.0, 32.0):
        w.session_dropped(1.0, t)
    assert w.session_dropped(1.0, 34.0) is None  # suspected again, but 30 s after the last report
    assert w.suspected
    assert w.session_dropped(1.0, 64.0) == TakeoverReport(drops=4, streak_s=35.0, new_drops=4)


@pytest.mark.parametrize(
    "kwargs", [{"short_session_s": 0.0}, {"suspect_drops": 0}, {"window_s": -1.0}, {"report_interval_s": 0.0}]
)
def test_bad_arguments_raise(kwargs: dict[str, Any]) -> None:
    """Non-positive durations or a drop count below 1 are rejected with a ValueError."""
    with pytest.raises(ValueError, match="suspect_drops"):
        TakeoverWatch(**kwargs)
