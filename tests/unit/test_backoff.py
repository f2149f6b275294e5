"""Backoff grows exponentially with jitter, is capped, and resets."""

import random

import pytest

from agent.backoff import Backoff


def test_delays_double_within_jitter_and_cap() -> None:
    """Each delay lies in [d/2, d] for d = initial * 2**n, never above max."""
    backoff = Backoff(1.0, 8.0, random.Random(1))
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for ceiling in ceilings:
        delay = backoff.next_delay_s()
        assert ceiling / 2 <= delay <= ceiling


def test_reset_starts_again_from_initial() -> None:
    """After reset the next delay is back at the initial range."""
    backoff = Backoff(0.5, 60.0, random.Random(2))
    for _ in range(10):
        backoff.next_delay_s()
    backoff.reset()
    assert backoff.next_delay_s() <= 0.5


@pytest.mark.parametrize(("initial", "maximum"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 5.0)])
def test_bad_arguments_raise(initial: float, maximum: float) -> None:
    """Non-positive or inverted bounds are rejected with a ValueError."""
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(initial, maximum)
