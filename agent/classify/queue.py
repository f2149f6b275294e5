"""A bounded hand-off where a newer item of a waiting key replaces the older one (latest wins).

Between the analytics thread (put, never blocks) and one second-stage worker thread (take)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LatestByKey(Generic[K, V]):
    """At most `capacity` keys wait; a put for a waiting key supersedes it, a new key while full is dropped."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self.superseded = 0
        self.dropped = 0

    def put(self, key: K, item: V) -> bool:
        """False when the item was dropped (full)."""
        with self._cond:
            if key in self._items:
                self.superseded += 1
            elif len(self._items) >= self._capacity:
                self.dropped += 1
                return False
            self._items[key] = item
            self._cond.notify()
            return True

    def take(self, timeout_s: float) -> V | None:
        """The oldest waiting item, waiting up to `timeout_s`; None when there is none (or closed and empty)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout_s)
            if not self._items:
                return None
            return self._items.popitem(last=False)[1]

    def close(self) -> None:
        """Wake the taker: it drains what waits, then gets None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
