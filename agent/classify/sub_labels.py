"""The sub_labels that object classifiers gave to open events, shared between two threads.

The classifier thread writes (`give`); the analytics thread reads (`of`) when it emits an event's
messages and forgets an event at its end record. Bounded: the oldest entries go first, so an
event whose end was never seen cannot make it grow."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_OPEN_EVENTS = 4096


@dataclass(frozen=True, slots=True)
class SubLabel:
    """What a second-stage classifier said about an event's best crop."""

    label: str
    score: float


class SubLabelBook:
    """event_id -> SubLabel, thread-safe and bounded."""

    def __init__(self, capacity: int = MAX_OPEN_EVENTS) -> None:
        self._capacity = capacity
        self._by_event: OrderedDict[str, SubLabel] = OrderedDict()
        self._lock = threading.Lock()

    def give(self, event_id: str, sub_label: SubLabel) -> bool:
        """Set the event's sub_label; True when it changed what the event says."""
        with self._lock:
            changed = self._by_event.get(event_id) != sub_label
            self._by_event[event_id] = sub_label
            self._by_event.move_to_end(event_id)
            while len(self._by_event) > self._capacity:
                self._by_event.popitem(last=False)
            return changed

    def of(self, event_id: str) -> SubLabel | None:
        with self._lock:
            return self._by_event.get(event_id)

    def forget(self, event_id: str) -> None:
        with self._lock:
            self._by_event.pop(event_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_event)
