"""The detector scheduler serves the stalest due camera and respects each camera's fps cap."""

import pytest

from agent.pipeline.scheduler import CameraSlot, choose_next


def slot(name: str, new: bool = True, last: float | None = 0.0, interval: float = 0.2) -> CameraSlot:
    return CameraSlot(name, new, last, interval)


@pytest.mark.parametrize(
    ("slots", "now", "expected"),
    [
        ([slot("a", last=9.0), slot("b", last=8.0)], 10.0, "b"),  # stalest first
        ([slot("a", last=9.9), slot("b", last=8.0)], 10.0, "b"),  # a is not due yet
        ([slot("a", last=None), slot("b", last=1.0)], 10.0, "a"),  # never served goes first
        ([slot("a", new=False, last=0.0), slot("b", last=9.5)], 10.0, "b"),  # nothing new costs nothing
        ([slot("a", last=9.9), slot("b", last=9.95)], 10.0, None),  # nobody due
        ([slot("a", new=False), slot("b", new=False)], 10.0, None),  # nothing new anywhere
    ],
)
def test_choice(slots: list[CameraSlot], now: float, expected: str | None) -> None:
    """The chosen camera is the due one with the oldest last detection."""
    assert choose_next(slots, now).camera == expected


def test_wait_until_next_due() -> None:
    """With nobody due, the wait is the time until the soonest camera becomes due."""
    decision = choose_next([slot("a", last=9.9, interval=0.2), slot("b", last=9.95, interval=0.2)], 10.0)
    assert decision.camera is None
    assert decision.wait_s == pytest.approx(0.1)


def test_round_robin_under_overload() -> None:
    """Three always-ready cameras with no cap are served in turn, none starved."""
    last: dict[str, float | None] = {"a": None, "b": None, "c": None}
    served: list[str] = []
    now = 0.0
    for _ in range(30):
        now += 0.01
        decision = choose_next([slot(n, last=t, interval=0.0) for n, t in last.items()], now)
        assert decision.camera is not None
        served.append(decision.camera)
        last[decision.camera] = now
    assert {served.count(n) for n in "abc"} == {10}
