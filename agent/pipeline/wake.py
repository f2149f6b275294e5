"""WakeSignal: wakes every thread waiting for pipeline work (a new frame, a frame back from
analytics, a finished invoke), without losing a wake-up to another thread's reset.

A waiter reads `generation` before it looks for work and waits for it to change, so a set()
that lands between its look and its wait still wakes it. (A shared threading.Event cannot do
this for several threads: one thread's clear() can swallow the set() meant for another.)"""

from __future__ import annotations

import threading


class WakeSignal:
    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def set(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout_s: float) -> bool:
        """Wait until a set() after `seen` was read, at most `timeout_s`. True if one came."""
        with self._changed:
            return self._changed.wait_for(lambda: self._generation != seen, timeout_s)
