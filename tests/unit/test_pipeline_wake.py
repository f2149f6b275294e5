"""WakeSignal: a set() between a thread's look and its wait is never lost, for any number of threads."""

from __future__ import annotations

import threading

from agent.pipeline.wake import WakeSignal


def test_a_set_after_the_look_wakes_the_wait_at_once() -> None:
    signal = WakeSignal()
    seen = signal.generation
    signal.set()
    assert signal.wait(seen, 5.0)


def test_without_a_set_the_wait_times_out() -> None:
    signal = WakeSignal()
    assert not signal.wait(signal.generation, 0.01)


def test_every_waiting_thread_is_woken_by_one_set() -> None:
    """Two threads that looked before the set both see it, whichever resumes first (an Event's clear()
    by one of them would hide it from the other)."""
    signal = WakeSignal()
    seen = signal.generation
    woken: list[bool] = []
    lock = threading.Lock()

    def waiter() -> None:
        result = signal.wait(seen, 5.0)
        with lock:
            woken.append(result)

    threads = [threading.Thread(target=waiter) for _ in range(2)]
    signal.set()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5.0)
    assert woken == [True, True]
